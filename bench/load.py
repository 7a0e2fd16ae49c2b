"""``make load``: a bounded load test of the local stack over loopback HTTP, with its floor and its ledger.

    .venv/bin/python -m bench.load [--duration 30] [--workers 4] [--api-url URL --aws-url URL]

Without ``--api-url`` it starts the stack ``make run`` starts (devstack.launcher, free ports) and stops
it at the end; with one it loads that stack (its embedded AWS at ``--aws-url``, stage ``--stage``).
It only speaks HTTP to the API and boto3 to the AWS endpoint, so it does not care how the stack is built.

1. The floor: for a few seconds, the same number of threads make the bare calls a webhook needs —
   one conditional ``put_item`` and one SQS ``send_message`` — against the same embedded AWS (a scratch
   table and queue, deleted afterwards): the rate no webhook path on this stack can beat.
2. The load: for ``--duration`` seconds, ``--workers`` threads POST webhooks signed as each provider
   signs them (the simulators of ``./hub simulate``: generic API, Twilio SMS, WhatsApp Cloud API,
   Telegram, Messenger, Postmark), one new event each, 10 % of them sent twice (a provider's retry);
   each answer's status and latency is recorded (http.client, one connection per request). One webhook
   per channel goes first, untimed: ``chalice local`` imports the app on its first request.
3. The drain: it waits (bounded) until every unique accepted event is a stored inbox item and an
   inbound message, and the queues the hub consumes are empty; then the ledger must balance:
   stored = unique sent, nothing twice, and no error answer.

Prints webhooks per second sustained, latency p50/p90/p99, errors, the floor and the ratio, the drain
time and the ledger; exits 1 when anything does not balance.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import random
import statistics
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from bench.common import FAKE_CREDENTIALS
from chalicelib.adapters import resources
from chalicelib.providers.registry import load, simulators

# simulate command → the kind of address its customers have (one family each of messaging, email, social)
CHANNELS = {"api": "user", "twilio-sms": "phone", "whatsapp": "phone", "telegram": "number",
            "messenger": "number", "postmark": "email"}
DUPLICATE_SHARE = 0.1


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    unique: set[str] = field(default_factory=set)  # tokens of events the hub accepted
    sent: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _address(kind: str, n: int) -> str:
    return {"phone": f"+3934{n:09d}", "email": f"load{n}@example.org", "number": str(17_841_500_000_000 + n)}.get(
        kind, f"load-user-{n}")


def _post(base: str, request: Any) -> tuple[int, float]:
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port or 80, timeout=30)
    started = time.perf_counter()
    try:
        connection.request(request.method, request.path, body=request.body or None, headers=request.headers)
        response = connection.getresponse()
        response.read()
        return response.status, time.perf_counter() - started
    finally:
        connection.close()


def _worker(index: int, base: str, secrets: dict[str, str], stop_at: float, results: Results,
            rounds: int = 0) -> None:
    """Send until ``stop_at`` (or at least ``rounds`` webhooks)."""
    rng = random.Random(index)
    sims = simulators()
    commands = list(CHANNELS)
    n = 0
    while time.monotonic() < stop_at or n < rounds:
        n += 1
        command = commands[(index + n) % len(commands)]
        token = f"LOAD{index:02d}x{n:07d}x{uuid.uuid4().hex[:6]}"
        simulator = sims[command]
        options = {**dict(simulator.options), "public_base_url": base}
        if command == "telegram":
            options["event_id"] = str(rng.randrange(2**31))
        request = load(simulator.target)(secrets, _address(CHANNELS[command], index * 10_000_000 + n),
                                         f"Load test {token}", **options)
        for _attempt in range(2 if rng.random() < DUPLICATE_SHARE else 1):
            try:
                status, latency = _post(base, request)
            except OSError as err:
                with results.lock:
                    results.errors.append(f"{command}: {type(err).__name__}")
                continue
            with results.lock:
                results.sent += 1
                results.latencies.append(latency)
                results.statuses[status] = results.statuses.get(status, 0) + 1
                if 200 <= status < 300:
                    results.unique.add(token)
                else:
                    results.errors.append(f"{command}: HTTP {status}")


def run_load(base: str, secrets: dict[str, str], duration: float, workers: int) -> tuple[Results, float]:
    results = Results()
    warm = Results()  # one webhook per channel first: chalice local imports the app on its first request
    _worker(99, base, secrets, time.monotonic() + 0.001, warm, rounds=len(CHANNELS))
    if warm.errors:
        raise RuntimeError(f"the stack refused the warm-up webhooks: {warm.errors[:3]}")
    results.unique |= warm.unique
    stop_at = time.monotonic() + duration
    started = time.perf_counter()
    threads = [threading.Thread(target=_worker, args=(i, base, secrets, stop_at, results)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - started


def measure_floor(session: Any, aws_url: str, workers: int, seconds: float = 5.0) -> float:
    """put_item + send_message pairs per second from ``workers`` threads against the same embedded AWS."""
    name = f"omnihub-loadfloor-{uuid.uuid4().hex[:8]}"
    dynamodb = session.client("dynamodb", endpoint_url=aws_url)
    sqs = session.client("sqs", endpoint_url=aws_url)
    dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    queue_url = sqs.create_queue(QueueName=name + ".fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    pairs = [0] * workers
    stop_at = time.monotonic() + seconds

    def pair_loop(index: int) -> None:
        table_client = session.client("dynamodb", endpoint_url=aws_url)
        queue_client = session.client("sqs", endpoint_url=aws_url)
        while time.monotonic() < stop_at:
            key = uuid.uuid4().hex
            table_client.put_item(TableName=name, Item={"pk": {"S": key}, "raw": {"S": "x" * 512}},
                                  ConditionExpression="attribute_not_exists(pk)")
            queue_client.send_message(QueueUrl=queue_url, MessageBody=key, MessageGroupId=key[:8],
                                      MessageDeduplicationId=key)
            pairs[index] += 1

    started = time.perf_counter()
    threads = [threading.Thread(target=pair_loop, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rate = sum(pairs) / (time.perf_counter() - started)
    dynamodb.delete_table(TableName=name)
    sqs.delete_queue(QueueUrl=queue_url)
    return rate


def _count(dynamodb: Any, table: str, expression: str, values: dict[str, Any]) -> int:
    total, kwargs = 0, dict[str, Any]()
    names = {name: name[1:] for name in ("#type", "#event", "#text") if name in expression}
    while True:
        page = dynamodb.scan(TableName=table, Select="COUNT", FilterExpression=expression,
                             ExpressionAttributeNames=names, ExpressionAttributeValues=values, **kwargs)
        total += int(page["Count"])
        if "LastEvaluatedKey" not in page:
            return total
        kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}


def stored_counts(dynamodb: Any, table: str) -> tuple[int, int]:
    """(inbox items, inbound messages) of load-test events (their text names them)."""
    marker = {":load": {"S": "Load test LOAD"}}
    inbox = _count(dynamodb, table, "#type = :t AND contains(#event, :load)", {":t": {"S": "inbox"}, **marker})
    messages = _count(dynamodb, table, "#type = :t AND direction = :in AND begins_with(#text, :load)",
                      {":t": {"S": "message"}, ":in": {"S": "inbound"}, **marker})
    return inbox, messages


def queues_busy(sqs: Any, stage: str) -> int:
    busy = 0
    for spec in resources.QUEUES:
        if spec.consumer:
            url = sqs.get_queue_url(QueueName=resources.queue_name(stage, spec))["QueueUrl"]
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            busy += sum(int(v) for v in attributes.values())
    return busy


def drain(session: Any, aws_url: str, stage: str, unique: int, timeout: float) -> tuple[float, int, int]:
    dynamodb = session.client("dynamodb", endpoint_url=aws_url)
    sqs = session.client("sqs", endpoint_url=aws_url)
    table = resources.table_name(stage)
    started = time.monotonic()
    inbox = messages = 0
    while time.monotonic() - started < timeout:
        inbox, messages = stored_counts(dynamodb, table)
        if messages >= unique and queues_busy(sqs, stage) == 0:
            break
        print(f"  draining: {messages}/{unique} messages stored", file=sys.stderr, flush=True)
        time.sleep(5)
    return time.monotonic() - started, inbox, messages


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@contextlib.contextmanager
def _stack(args: argparse.Namespace) -> Iterator[tuple[str, str]]:
    if args.api_url:
        yield args.api_url.rstrip("/"), args.aws_url
        return
    from devstack.launcher import running_local_stack

    with running_local_stack() as stack:
        yield stack.api_url, stack.aws_url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load (default 10: the pipeline "
                        "behind the webhooks drains far fewer per second than they arrive)")
    parser.add_argument("--workers", type=int, default=4, help="client threads (default 4)")
    parser.add_argument("--api-url", help="an already running stack's API (default: start one)")
    parser.add_argument("--aws-url", default="http://127.0.0.1:4566", help="its embedded AWS")
    parser.add_argument("--stage", default="local")
    parser.add_argument("--drain-timeout", type=float, default=1800.0, help="seconds to wait for the pipeline")
    args = parser.parse_args(argv)
    import boto3

    from devstack.run import DEV_SECRETS
    from devstack.simulators.email import local_sns_environment

    secrets = {**DEV_SECRETS, **local_sns_environment()}
    session = boto3.session.Session(**FAKE_CREDENTIALS, region_name="us-east-1")
    with _stack(args) as (api_url, aws_url):
        floor = measure_floor(session, aws_url, args.workers)
        results, elapsed = run_load(api_url, secrets, args.duration, args.workers)
        accepted = sum(n for status, n in results.statuses.items() if 200 <= status < 300)
        rate = accepted / elapsed
        ms = [v * 1000 for v in results.latencies]
        print(f"load: {args.workers} workers, {elapsed:.1f} s, {results.sent} webhooks sent "
              f"({len(results.unique)} unique events, {results.sent - len(results.unique)} duplicates)")
        print(f"  sustained {rate:.1f} webhooks/s; latency p50 {percentile(ms, .5):.0f} ms, p90 "
              f"{percentile(ms, .9):.0f} ms, p99 {percentile(ms, .99):.0f} ms (mean "
              f"{statistics.fmean(ms) if ms else 0:.0f} ms)")
        print(f"  errors {len(results.errors)}; statuses {dict(sorted(results.statuses.items()))}")
        print(f"  floor (put_item + send_message, same AWS, {args.workers} threads): {floor:.1f}/s; "
              f"webhooks/floor = {rate / floor:.2f}", flush=True)
        drained, inbox, messages = drain(session, aws_url, args.stage, len(results.unique), args.drain_timeout)
    balanced = not results.errors and inbox == len(results.unique) == messages
    print(f"  drained in {drained:.0f} s ({messages / drained if drained else 0:.1f} messages/s through the "
          f"pipeline); ledger: unique sent {len(results.unique)}, inbox items {inbox}, inbound messages "
          f"{messages} -> {'balanced' if balanced else 'NOT BALANCED'}")
    if results.errors:
        print(f"  first errors: {results.errors[:5]}")
    return 0 if balanced else 1


if __name__ == "__main__":
    sys.exit(main())
