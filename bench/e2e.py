"""e2e_webhooks_per_second: a burst of signed webhooks in, threaded and acknowledged, through the whole local stack.

Starts ``python -m devstack.run`` on free loopback ports (devstack.launcher: the embedded AWS,
``chalice local``, the pump, the provider sandbox), then sends a burst of N signed webhooks (1,000;
100 with --quick), one new customer each, from a thread pool and waits until every one is threaded
and acknowledged: the KPI totals of the embedded AWS (one GetItem-sized read per poll, never a
scan of the growing table) count N more inbound messages and N more acknowledgments, and a sample
is checked through GET /customers/lookup and /conversations/{id}.

The floor is the embedded AWS's own capacity for the calls a message needs (bench.aws_capacity:
seconds per bare call of each kind, in process as the pump makes them, times the calls of the
webhook and of the first message's asynchronous path that aws_calls_per_webhook measured in the
same run). GET /health per second (the best over 1, 2, 4 and 8 client threads) is kept as the
floor of the acknowledgments' rate. Every wait is bounded; the stack is stopped at the end.
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
DELIVERY_TIMEOUT = 300.0
POLL_SECONDS = 0.5
BURST_GOAL_SECONDS = 60.0
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


def _threaded_and_acknowledged(kpis: Any) -> tuple[int, int]:
    """(inbound messages, acknowledgments) the worker counted in the KPI totals, around today."""
    from datetime import UTC, datetime, timedelta

    from chalicelib.core.kpi_record import ALL
    from chalicelib.reports.figures import ACKNOWLEDGMENT

    today = datetime.now(UTC).date()
    rows = kpis.read(ALL, (today - timedelta(days=1)).isoformat(), (today + timedelta(days=1)).isoformat())
    inbound = sum(counts.get("inbound", 0) for _, _, counts in rows)
    acks = sum(v for _, _, counts in rows for k, v in counts.items() if k.startswith(f"{ACKNOWLEDGMENT}_b"))
    return inbound, acks


def _visible_through_api(stack: LocalStackUrls, sender: str, text: str) -> bool:
    query = urllib.parse.urlencode({"channel": "webchat", "address": sender})
    headers = {"x-api-key": SUPPORT_KEY}
    status, raw = _request(f"{stack.api_url}/customers/lookup?{query}", headers=headers)
    if status != 200 or not json.loads(raw)["conversation_ids"]:
        return False
    conversation_id = json.loads(raw)["conversation_ids"][-1]
    status, raw = _request(f"{stack.api_url}/conversations/{conversation_id}", headers=headers)
    return status == 200 and any(m["text"] == text for m in json.loads(raw)["messages"])


def _deliver(stack: LocalStackUrls, kpis: Any, senders: list[str], text: str) -> tuple[float, int]:
    """Send one webhook per sender and wait until each is threaded and acknowledged (at most
    DELIVERY_TIMEOUT); returns the webhook answers (2xx) per second and how many were done."""

    def send(sender: str) -> Callable[[], int]:
        def call() -> int:
            body = api_body(sender, text, f"{sender}-1")
            return _request(f"{stack.api_url}/webhooks/api", body=body, headers=signed_headers(body))[0]

        return call

    inbound_before, acks_before = _threaded_and_acknowledged(kpis)
    answers_per_second, statuses = _throughput([send(sender) for sender in senders])
    if set(statuses) != {200}:
        raise RuntimeError(f"POST /webhooks/api answered {sorted(set(statuses))}")
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while True:
        inbound, acks = _threaded_and_acknowledged(kpis)
        done = min(inbound - inbound_before, acks - acks_before)
        if done >= len(senders) or time.monotonic() > deadline:  # the bench stays bounded: report what was done
            return answers_per_second, done
        time.sleep(POLL_SECONDS)


def measure(stack: LocalStackUrls, webhooks: int, health_requests: int) -> dict[str, float]:
    import boto3

    from chalicelib.adapters import resources
    from chalicelib.adapters.dynamo.kpis import DynamoKpis
    from chalicelib.adapters.dynamo.table import Table

    dynamodb = boto3.session.Session().client(
        "dynamodb", region_name="us-east-1", endpoint_url=stack.aws_url, **FAKE_CREDENTIALS
    )
    kpis = DynamoKpis(Table(dynamodb, resources.table_name(STAGE)))
    health_url = f"{stack.api_url}/health"
    _throughput([lambda: _request(health_url)[0]] * WORKERS * 4)  # chalice local's warm-up, out of both figures
    health_per_second = 0.0
    for workers in HEALTH_CONCURRENCY:
        rate, statuses = _throughput([lambda: _request(health_url)[0]] * health_requests, workers)
        if set(statuses) != {200}:
            raise RuntimeError(f"GET /health answered {sorted(set(statuses))}")
        health_per_second = max(health_per_second, rate)

    # A few webhooks first, delivered before the clock starts: the webhook route's and the
    # workers' one-time costs (imports, clients, queue URLs) are a cold start, not throughput.
    _deliver(stack, kpis, [f"warmup-{uuid.uuid4().hex[:8]}-{i}" for i in range(WORKERS)], "warm-up")
    run_id = uuid.uuid4().hex[:8]
    text = f"bench {run_id}"
    senders = [f"bench-{run_id}-{index}" for index in range(webhooks)]
    started = time.perf_counter()
    answers_per_second, done = _deliver(stack, kpis, senders, text)
    elapsed = time.perf_counter() - started
    if done >= webhooks:
        sample = senders[:: max(1, webhooks // 5)]
        if not all(_visible_through_api(stack, sender, text) for sender in sample):
            raise RuntimeError("a counted message is not visible through the REST API")
    # Cut off at DELIVERY_TIMEOUT: the rate is what was done, the drain time extrapolated from it.
    delivered = max(done, 1) / elapsed
    return {"health": health_per_second, "answers": answers_per_second, "delivered": delivered,
            "drained": elapsed if done >= webhooks else webhooks / delivered, "done": done}


def _message_mix() -> dict[str, int]:
    """The calls of one new customer's webhook and first message (relay + worker), as measured."""
    from bench.aws_calls import OUTPUT, measure

    result = json.loads(OUTPUT.read_text()) if OUTPUT.exists() else measure(webhooks=1)
    first = result["async_per_message"]["first_message_new_customer"]
    mix = dict(first["async_by_operation"])
    for operation, calls in first["webhook"].get("webhook", {}).items():
        mix[operation] = mix.get(operation, 0) + calls
    return mix


def run(quick: bool) -> list[Row]:
    from bench.aws_capacity import describe, messages_per_second, seconds_per_call

    webhooks, health_requests = (100, 200) if quick else (1000, 1000)
    mix = _message_mix()
    seconds = seconds_per_call(50 if quick else 200)
    capacity = messages_per_second(mix, seconds)
    with running_local_stack(env=STACK_ENV, ready_timeout=READY_TIMEOUT) as stack:
        rates = measure(stack, webhooks, health_requests)
    calls = sum(mix.values())
    return [
        Row(
            NAME,
            rates["delivered"],
            "/s",
            floor=capacity,
            goal="↑ (→ 1)",
            note=f"burst of {webhooks}, new customer each, until threaded and acknowledged; floor = the embedded "
                 f"AWS's capacity for the {calls} calls of one (bare, in process: {describe(seconds)})",
        ),
        Row(
            f"  burst of {webhooks}: drained in",
            rates["drained"],
            "s",
            floor=webhooks / capacity,
            goal=f"< {BURST_GOAL_SECONDS:.0f} s",
            note=("every webhook answered, threaded and acknowledged" if rates["done"] >= webhooks else
                  f"EXTRAPOLATED: {rates['done']:.0f} of {webhooks} threaded and acknowledged within "
                  f"{DELIVERY_TIMEOUT:.0f} s") + "; floor = the burst at the embedded AWS's capacity",
        ),
        Row(
            "  webhook answers per second",
            rates["answers"],
            "/s",
            floor=rates["health"],
            goal="↑",
            note="2xx answers in the burst (HMAC check + conditional PutItem over HTTP); floor = best GET /health/s",
        ),
    ]
