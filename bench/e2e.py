"""e2e_webhooks_per_second: signed webhooks in, messages out, through the whole local stack.

Starts ``python -m devstack.run`` on free loopback ports (devstack.launcher: moto
server, ``chalice local``, the pump, the provider sandbox), measures GET /health throughput from a
thread pool (the floor: what this HTTP server answers with no work behind it), then sends N signed
webhooks, one new customer each, from the same pool and waits until every one is a stored inbound
message (counted in the table on the embedded AWS, a sample checked through GET /customers/lookup
and /conversations/{id}). Ratio = webhooks/s ÷ health/s, the floor being the best /health rate
over 1, 2, 4 and 8 client threads (chalice local's throughput collapses beyond a few concurrent
connections). Every wait is bounded; the stack is stopped at the end.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.common import FAKE_CREDENTIALS, SIGNING_SECRET, STAGE, SUPPORT_KEY, api_body, signed_headers
from bench.report import Row
from devstack.launcher import LocalStackUrls, running_local_stack

NAME = "e2e_webhooks_per_second"
WORKERS = 4  # 2 cores: more client threads only queue up (chalice local's accept backlog is 5)
HEALTH_CONCURRENCY = (1, 2, 4, 8)  # the floor is the best of these: the server's own ceiling
READY_TIMEOUT = 90.0
DELIVERY_TIMEOUT = 180.0
STACK_ENV = {"OMNIHUB_API_SIGNING_SECRET": SIGNING_SECRET, "OMNIHUB_API_KEYS": f"bench:{SUPPORT_KEY}:support"}


def _request(url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers or {}, method="POST" if body else "GET")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback only
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _throughput(calls: list[Callable[[], int]], workers: int = WORKERS) -> tuple[float, list[int]]:
    """Requests per second over the whole batch, from ``workers`` threads; and every status."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        statuses = list(pool.map(lambda call: call(), calls))
    return len(calls) / (time.perf_counter() - started), statuses


def _count_inbound_messages(dynamodb: Any, table: str) -> int:
    total = 0
    kwargs: dict[str, Any] = {}
    while True:
        page = dynamodb.scan(
            TableName=table,
            Select="COUNT",
            FilterExpression="#t = :m AND direction = :in",
            ExpressionAttributeNames={"#t": "type"},
            ExpressionAttributeValues={":m": {"S": "message"}, ":in": {"S": "inbound"}},
            **kwargs,
        )
        total += int(page["Count"])
        if "LastEvaluatedKey" not in page:
            return total
        kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def _visible_through_api(stack: LocalStackUrls, sender: str, text: str) -> bool:
    query = urllib.parse.urlencode({"channel": "webchat", "address": sender})
    headers = {"x-api-key": SUPPORT_KEY}
    status, raw = _request(f"{stack.api_url}/customers/lookup?{query}", headers=headers)
    if status != 200 or not json.loads(raw)["conversation_ids"]:
        return False
    conversation_id = json.loads(raw)["conversation_ids"][-1]
    status, raw = _request(f"{stack.api_url}/conversations/{conversation_id}", headers=headers)
    return status == 200 and any(m["text"] == text for m in json.loads(raw)["messages"])


def _deliver(stack: LocalStackUrls, dynamodb: Any, table: str, senders: list[str], text: str) -> float:
    """Send one webhook per sender and wait until each is a stored message; returns the acks per second."""

    def send(sender: str) -> Callable[[], int]:
        def call() -> int:
            body = api_body(sender, text, f"{sender}-1")
            return _request(f"{stack.api_url}/webhooks/api", body=body, headers=signed_headers(body))[0]

        return call

    before = _count_inbound_messages(dynamodb, table)
    acks_per_second, statuses = _throughput([send(sender) for sender in senders])
    if set(statuses) != {200}:
        raise RuntimeError(f"POST /webhooks/api answered {sorted(set(statuses))}")
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while _count_inbound_messages(dynamodb, table) - before < len(senders):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not every webhook became a message within {DELIVERY_TIMEOUT} s")
        time.sleep(0.1)
    return acks_per_second


def measure(stack: LocalStackUrls, webhooks: int, health_requests: int) -> dict[str, float]:
    import boto3

    from chalicelib.adapters import resources

    dynamodb = boto3.session.Session().client(
        "dynamodb", region_name="us-east-1", endpoint_url=stack.aws_url, **FAKE_CREDENTIALS
    )
    health_url = f"{stack.api_url}/health"
    _throughput([lambda: _request(health_url)[0]] * WORKERS * 4)  # chalice local's warm-up, out of both figures
    health_per_second = 0.0
    for workers in HEALTH_CONCURRENCY:
        rate, statuses = _throughput([lambda: _request(health_url)[0]] * health_requests, workers)
        if set(statuses) != {200}:
            raise RuntimeError(f"GET /health answered {sorted(set(statuses))}")
        health_per_second = max(health_per_second, rate)

    table = resources.table_name(STAGE)
    # A few webhooks first, delivered before the clock starts: the webhook route's and the
    # workers' one-time costs (imports, clients, queue URLs) are a cold start, not throughput.
    _deliver(stack, dynamodb, table, [f"warmup-{uuid.uuid4().hex[:8]}-{i}" for i in range(WORKERS)], "warm-up")
    run_id = uuid.uuid4().hex[:8]
    text = f"bench {run_id}"
    senders = [f"bench-{run_id}-{index}" for index in range(webhooks)]
    started = time.perf_counter()
    acks_per_second = _deliver(stack, dynamodb, table, senders, text)
    delivered_per_second = webhooks / (time.perf_counter() - started)
    sample = senders[:: max(1, webhooks // 5)]
    if not all(_visible_through_api(stack, sender, text) for sender in sample):
        raise RuntimeError("a counted message is not visible through the REST API")
    return {"health": health_per_second, "acks": acks_per_second, "delivered": delivered_per_second}


def run(quick: bool) -> list[Row]:
    webhooks, health_requests = (30, 200) if quick else (200, 1000)
    with running_local_stack(env=STACK_ENV, ready_timeout=READY_TIMEOUT) as stack:
        rates = measure(stack, webhooks, health_requests)
    return [
        Row(
            NAME,
            rates["delivered"],
            "/s",
            floor=rates["health"],
            goal="↑",
            note=f"{webhooks} webhooks, new customer each, until stored as messages; floor = best GET /health/s",
        ),
        Row(
            "  webhook acks per second",
            rates["acks"],
            "/s",
            floor=rates["health"],
            goal="↑",
            note="2xx answers only (signature check + conditional PutItem over HTTP to moto)",
        ),
    ]
