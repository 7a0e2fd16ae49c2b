"""The ledger's books: what support tools and integrators received, and what the store holds, matched
back to the traffic by each event's token; the balance printed at the end."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from chalicelib.adapters import resources
from tests.conftest import TEST_STAGE

TOKEN = re.compile(r"LDG\d{6}Q[0-9a-f]{6}")


@dataclass
class Received:
    """Everything consumed from the queues nobody in the hub consumes (as support tools would)."""

    routed: list[dict[str, Any]] = field(default_factory=list)
    lifecycle: list[dict[str, Any]] = field(default_factory=list)
    escalations: list[dict[str, Any]] = field(default_factory=list)
    # Republished with a deduplication id already delivered: SQS drops these for five minutes after the
    # first send even once it was deleted, moto only while the first is still queued. The consumer plays
    # SQS's window so that what is counted is what a FIFO consumer on AWS receives.
    dropped_by_window: int = 0


class Consumer:
    def __init__(self, sqs: Any, queue_urls: dict[str, str]) -> None:
        self._sqs = sqs
        consumed = {resources.queue_name(TEST_STAGE, s) for s in resources.QUEUES if s.consumer}
        dlqs = {resources.dlq_name(TEST_STAGE, s) for s in resources.all_queues()}
        self._urls = {name: url for name, url in queue_urls.items() if name not in consumed | dlqs}
        self.received = Received()
        self._seen: set[tuple[str, str]] = set()

    def collect(self) -> int:
        got = 0
        for name, url in self._urls.items():
            while True:
                messages = self._sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                                     AttributeNames=["All"]).get("Messages", [])
                if not messages:
                    break
                for message in messages:
                    body = json.loads(message["Body"])
                    dedupe = message.get("Attributes", {}).get("MessageDeduplicationId")
                    if dedupe is not None and (name, dedupe) in self._seen:
                        self.received.dropped_by_window += 1
                    elif "-route-" in name:
                        self.received.routed.append(body)
                    elif "conversation-events" in name:
                        self.received.lifecycle.append(body)
                    elif "escalation" in name:
                        self.received.escalations.append(body)
                    if dedupe is not None:
                        self._seen.add((name, dedupe))
                    self._sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    got += 1
        return got


def dead_letters(sqs: Any, queue_urls: dict[str, str]) -> dict[str, int]:
    depth: dict[str, int] = {}
    for spec in resources.all_queues():
        name = resources.dlq_name(TEST_STAGE, spec)
        if name in queue_urls:
            attributes = sqs.get_queue_attributes(QueueUrl=queue_urls[name], AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            count = sum(int(v) for v in attributes.values())
            if count:
                depth[name] = count
    return depth


def tokens_in(text: Any) -> list[str]:
    return TOKEN.findall(text) if isinstance(text, str) else []


@dataclass
class Ledger:
    sent: int
    deliveries: int
    duplicate_deliveries: int
    stored: int
    routed: int
    acknowledged: int
    dead_lettered: int
    replayed: int
    lifecycle_events: int
    lost: list[str]
    duplicated: list[str]
    problems: list[str]

    def lines(self) -> list[str]:
        return [
            f"sent {self.sent} unique events in {self.deliveries} deliveries ({self.duplicate_deliveries} duplicates)",
            f"stored {self.stored}  routed {self.routed}  acknowledged {self.acknowledged}",
            f"dead-lettered {self.dead_lettered}  replayed {self.replayed}  lifecycle events {self.lifecycle_events}",
            f"lost = {len(self.lost)}  duplicated = {len(self.duplicated)}  problems = {len(self.problems)}",
        ]

    @property
    def balanced(self) -> bool:
        return not self.lost and not self.duplicated and not self.problems and self.stored == self.sent \
            and self.routed == self.sent


def inbound_messages(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [i for i in items if i.get("type") == "message" and i.get("direction") == "inbound"]


def balance(traffic: Any, items: list[dict[str, Any]], received: Received, *, acknowledgments: Counter[str],
            dead_lettered: int, replayed: int) -> Ledger:
    """``acknowledgments``: the acknowledgments stored per inbound message they answer."""
    sent = {e.token for e in traffic.events}
    problems: list[str] = []
    inbox = Counter(t for i in items if i.get("type") == "inbox" for t in set(tokens_in(i.get("event"))))
    message_ids: dict[str, set[str]] = {}
    for message in inbound_messages(items):
        for token in set(tokens_in(message.get("text"))):
            message_ids.setdefault(token, set()).add(message["id"])
    # A routed envelope's id is its message's id; a call's envelope may leave before its transcript does.
    routed = Counter(envelope["envelope_id"] for envelope in received.routed)
    lost = sorted(t for t in sent if inbox[t] == 0 or not message_ids.get(t)
                  or not any(routed[m] for m in message_ids[t]))
    duplicated = sorted(t for t in sent if inbox[t] > 1 or len(message_ids.get(t, ())) > 1
                        or any(routed[m] > 1 for m in message_ids.get(t, ())))
    strangers = (set(inbox) | set(message_ids)) - sent
    if strangers:
        problems.append(f"tokens nobody sent: {sorted(strangers)[:5]}")
    twice = {m: n for m, n in acknowledgments.items() if n > 1}
    if twice:
        problems.append(f"messages acknowledged more than once: {dict(list(twice.items())[:5])}")
    events = Counter(e["event_id"] for e in received.lifecycle)
    repeated = {k: n for k, n in events.items() if n > 1}
    if repeated:
        problems.append(f"lifecycle events delivered more than once: {dict(list(repeated.items())[:5])}")
    opened = Counter(e["conversation"]["id"] for e in received.lifecycle
                     if e.get("type") == "opened" and isinstance(e.get("conversation"), dict))
    conversations = {i["id"] for i in items if i.get("type") == "conversation"}
    if opened and set(opened) != conversations:
        problems.append(f"conversations without exactly one opened event: {len(conversations ^ set(opened))}")
    return Ledger(
        sent=len(sent), deliveries=traffic.deliveries, duplicate_deliveries=traffic.duplicates,
        stored=sum(1 for t in sent if inbox[t] == 1 and len(message_ids.get(t, ())) == 1),
        routed=sum(1 for t in sent if [routed[m] for m in message_ids.get(t, ())] == [1]),
        acknowledged=sum(acknowledgments.values()), dead_lettered=dead_lettered, replayed=replayed,
        lifecycle_events=len(events), lost=lost, duplicated=duplicated, problems=problems,
    )
