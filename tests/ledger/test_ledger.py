"""The ledger: nothing lost, nothing duplicated, under every fault the hub is built to survive.

``LEDGER_N`` unique events (default 1,000; ``make soak`` runs 20,000) across the messaging, email,
social and voice families go through the real handlers (the Chalice app's routes via its test client,
the local pump's stream relay and workers) on moto in process, with 20 % duplicate deliveries, every
delivery reordered, throttled DynamoDB writes, failed SQS sends, worker crashes after their writes,
redelivered messages, provider send failures and one poisoned event that ends in the DLQ and is
replayed. Then the books must balance, and no log line may carry the traffic's personal data.
"""

from __future__ import annotations

import json
import os
import time
import urllib.request
from collections import Counter
from typing import Any

from tests.conftest import TEST_STAGE
from tests.ledger.books import Consumer, balance, dead_letters
from tests.ledger.conftest import LedgerHub
from tests.ledger.faults import Faults, arm_provider_failures
from tests.ledger.logscan import captured_logs
from tests.ledger.traffic import FAMILIES, Traffic, generate

LEDGER_N = int(os.environ.get("LEDGER_N", "1000"))
PUBLIC_BASE_URL = "https://hub.example.com"  # what the hub fixture's PUBLIC_BASE_URL says providers sign
# One failure per provider: the outbound worker backs off 5 s (doubling) per failed attempt of a job.
PROVIDER_FAILURES = [
    {"provider": "meta", "preset": "rate_limited", "count": 1, "retry_after": 0},
    {"provider": "vonage", "preset": "server_error", "count": 1},
    {"provider": "x", "preset": "rate_limited", "count": 1, "retry_after": 0},
]
MAX_PROVIDER_RETRIES = 30  # a provider retries a 5xx (Twilio and Meta do for hours; here at once)


def deliver(client: Any, request: Any) -> tuple[Any, int]:
    """POST as the provider would, retrying what the hub answered 5xx (it stored nothing durable then)."""
    for attempt in range(MAX_PROVIDER_RETRIES):
        if request.method == "GET":
            response = client.http.get(request.path, headers=request.headers)
        else:
            response = client.http.post(request.path, body=request.body, headers=request.headers)
        if response.status_code < 500:
            return response, attempt
    raise AssertionError(f"{request.path} still failing after {MAX_PROVIDER_RETRIES} attempts")


def instant_acknowledgment(response: Any) -> bool:
    body = response.body.decode("utf-8", "replace") if isinstance(response.body, bytes) else str(response.body)
    return "<Message>" in body or '"sendMessage"' in body


def sandbox_outbox(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/_sandbox/outbox", timeout=30) as response:  # the loopback sandbox
        return list(json.loads(response.read()))


def test_the_ledger_balances_under_faults(ledger_hub: LedgerHub, monkeypatch: Any) -> None:
    from chalicelib.adapters import runtime
    from chalicelib.handlers import inbound as inbound_handler
    from devstack.dead_letters import replay_dead_letters
    from devstack.pump import LocalPump, app_handlers

    hub = ledger_hub.hub
    started = time.monotonic()
    traffic = generate(LEDGER_N, ledger_hub.secrets, public_base_url=PUBLIC_BASE_URL)
    assert {e.family for e in traffic.events} == set(FAMILIES)
    faults = Faults()
    faults.install(runtime.aws_client("dynamodb"), runtime.aws_client("sqs"))
    monkeypatch.setattr(inbound_handler, "handle_inbound_event", faults.poison(inbound_handler.handle_inbound_event))
    poisoned = next(e for e in traffic.events if e.command == "api")
    faults.poisoned.add(f"api#{poisoned.event_id}")
    provider_failures = arm_provider_failures(ledger_hub.sandbox_url, PROVIDER_FAILURES)
    pump = LocalPump(hub.session, TEST_STAGE, hub.provisioned.stream_arn,
                     faults.wrap_handlers(app_handlers(hub.app_module)), retry_visibility_seconds=0)
    consumer = Consumer(hub.sqs, hub.provisioned.queue_urls)
    instant: Counter[int] = Counter()
    provider_retries = 0
    with captured_logs() as logs:
        n = 0
        for window in traffic.windows():
            for delivery in window:
                response, retried = deliver(hub.client, delivery.request)
                provider_retries += retried
                assert 200 <= response.status_code < 300, (delivery.request.path, response.status_code,
                                                           response.body)
                instant[delivery.event] += instant_acknowledgment(response)
                n += 1
                if n % 20 == 0:  # the workers run while webhooks keep arriving
                    pump.pump_once()
                if n % 200 == 0:
                    consumer.collect()
        assert traffic.duplicates >= LEDGER_N // 5 - 1
        drain(pump, consumer)
        assert faults.counts.poisoned_attempts > 0, "the poisoned event never reached the worker"
        dead = dead_letters(hub.sqs, hub.provisioned.queue_urls)
        faults.poisoned.clear()  # the bug is fixed: the operator replays the DLQ
        faults.armed = False
        replayed = sum(replay_dead_letters(hub.sqs, TEST_STAGE, name)[1] for name in dead)
        drain(pump, consumer)
    elapsed = time.monotonic() - started

    items = hub.table_items()
    acknowledgments = Counter(f'{i["pk"]}#{i["created_at"]}' for i in items if i.get("type") == "message"
                              and i.get("direction") == "outbound" and i.get("kind") == "acknowledgment")
    ledger = balance(traffic, items, consumer.received, acknowledgments=acknowledgments,
                     dead_lettered=sum(dead.values()), replayed=replayed)
    sent_twice = _sent_twice(sandbox_outbox(ledger_hub.sandbox_url))
    if sent_twice:
        ledger.problems.append(f"provider sends repeated: {sent_twice[:3]}")
    if any(count > 1 for count in instant.values()):
        ledger.problems.append("an instant acknowledgment was given twice for one event")
    sends = Counter(str(i.get("state")) for i in items if str(i["pk"]).startswith("OUTBOX#"))
    if sends.get("sending"):  # a send claimed and never finished: neither retried to success nor dead-lettered
        ledger.problems.append(f"outbound sends left unfinished: {sends['sending']}")
    codes = Counter(json.loads(i.get("detail") or "{}").get("code") for i in items
                    if str(i["pk"]).startswith("OUTBOX#") and i.get("state") == "failed")
    print(f"\n  outbound sends by final state: {dict(sends)}; failed, recorded on the message: {dict(codes)}")
    left = dead_letters(hub.sqs, hub.provisioned.queue_urls)
    if left:
        ledger.problems.append(f"dead letters not accounted for: {left}")
    if replayed != sum(dead.values()):
        ledger.problems.append(f"dead-lettered {sum(dead.values())} but replayed {replayed}")
    leaks = logs.leaks(traffic.phones(), traffic.emails(), {e.token for e in traffic.events})
    print(f"\n  dead letters (then replayed): {dead}")
    if os.environ.get("LEDGER_DEBUG"):
        for token in ledger.lost[:2]:
            convs = {i["pk"] for i in items if token in str(i.get("text", "")) + str(i.get("event", ""))}
            for i in items:
                if i["pk"] in convs or token in str(i.get("event", "")):
                    print("DEBUG", {k: v for k, v in i.items() if k not in ("raw", "job")})
    _print(ledger.lines(), traffic, faults, provider_failures, provider_retries, instant, logs.lines(), elapsed)
    assert ledger.balanced, "\n".join([*ledger.lines(), *ledger.problems, f"lost: {ledger.lost[:10]}",
                                       f"duplicated: {ledger.duplicated[:10]}"])
    inbound_dlq = next(name for name in dead if "-inbound-" in name) if dead else None
    assert inbound_dlq is not None and dead[inbound_dlq] >= 1, f"the poisoned event is not in inbound's DLQ: {dead}"
    assert not leaks, f"personal data in the logs: {leaks}"


STUCK_SECONDS = 120  # the pump drains for as long as it makes progress; stuck this long is a failure


def drain(pump: Any, consumer: Consumer) -> None:
    last_progress, done = time.monotonic(), -1
    while True:
        try:
            pump.drain(timeout=10)
            break
        except TimeoutError:
            consumer.collect()  # keep the route queues shallow, as their consumers would
            now_done = pump.stats.sqs_messages + pump.stats.stream_records
            if now_done != done:
                last_progress, done = time.monotonic(), now_done
            elif time.monotonic() - last_progress > STUCK_SECONDS:
                raise
    consumer.collect()


def _sent_twice(outbox: list[dict[str, Any]]) -> list[str]:
    accepted = Counter(json.dumps(entry.get("body"), sort_keys=True) for entry in outbox
                       if 200 <= int(entry.get("response", {}).get("status", 0)) < 300)
    return [body[:120] for body, count in accepted.items() if count > 1]


def _print(lines: list[str], traffic: Traffic, faults: Faults, provider_failures: int, provider_retries: int,
           instant: Counter[int], log_lines: int, elapsed: float) -> None:
    families = Counter(e.family for e in traffic.events)
    print("\n=== ledger ===")
    for line in lines:
        print("  " + line)
    print(f"  families {dict(families)}; instant acknowledgments {sum(instant.values())}")
    print(f"  faults: {faults.counts}; provider failures armed {provider_failures}; webhook retries "
          f"after a 5xx {provider_retries}")
    print(f"  log lines scanned {log_lines}; {elapsed:.1f} s for N={len(traffic.events)}")
