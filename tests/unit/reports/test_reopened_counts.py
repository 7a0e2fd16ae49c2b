"""The ``reopened`` KPI counts every reopen of a resolved conversation exactly once: support's (POST
/conversations/{id}/reopen, retried or not) and the customer's (an email reply naming a resolved case,
which the worker reopens), whatever the redeliveries and even when the count failed the first time."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.adapters import resources
from chalicelib.adapters.memory import MemoryBus, MemoryStore, memory_repositories
from chalicelib.api.lifecycle import reopen_conversation, resolve_conversation, set_pending
from chalicelib.conversations.inbound import WorkerPorts, handle_inbound_event
from chalicelib.core.errors import StoreUnavailable
from chalicelib.core.model import Conversation, InboundEvent
from chalicelib.core.ports import Repositories
from chalicelib.core.timestamps import format_timestamp, parse_timestamp, utc_now
from chalicelib.email import email_events, parse_email
from chalicelib.email.events import EmailDelivery
from chalicelib.reports.kpis import kpi_report
from chalicelib.reports.recorder import business_day
from tests.unit.conftest import test_id_key
from tests.unit.conversations.test_email_threading import plain_mail

EVENTS = resources.CONVERSATION_EVENTS_QUEUE


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


class FlakyKpis:
    """The memory aggregates, refusing the next ``failures`` counts of ``reopened`` as a store outage would."""

    def __init__(self, inner: Any) -> None:
        self._inner, self.failures = inner, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def record(self, event_key: str, *args: Any, **kwargs: Any) -> bool:
        if self.failures and event_key.startswith("reopened#"):
            self.failures -= 1
            raise StoreUnavailable("the KPI table is unavailable")
        return bool(self._inner.record(event_key, *args, **kwargs))


@pytest.fixture
def repos() -> Repositories:
    base = memory_repositories(MemoryStore())
    return replace(base, kpis=FlakyKpis(base.kpis))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bus(clock: Clock) -> MemoryBus:
    return MemoryBus(queues=resources.all_queues(), clock=clock)


@pytest.fixture
def ports(repos: Repositories, bus: MemoryBus) -> WorkerPorts:
    return WorkerPorts(repos=repos, bus=bus, id_key=test_id_key)  # type: ignore[arg-type]


def mail(repos: Repositories, subject: str, text: str, minutes: int) -> str:
    at = format_timestamp(parse_timestamp(utc_now()) + timedelta(minutes=minutes))
    raw = plain_mail("ada@example.com", subject, text)
    event: InboundEvent = email_events(EmailDelivery(provider="sendgrid", parsed=parse_email(raw), received_at=at))[0]
    repos.inbox.put(event, endpoint="sendgrid", received_at=at, raw_body=b"raw", content_type="message/rfc822")
    return event.inbox_key


def reopened(repos: Repositories) -> int:
    today = parse_timestamp(utc_now())
    first, last = (business_day(format_timestamp(today + timedelta(days=d))) for d in (-1, 1))
    return int(kpi_report(repos, {"from": first, "to": last})["conversations"]["reopened"])


def first_case(repos: Repositories, ports: WorkerPorts) -> Conversation:
    key = mail(repos, "Order 1182 late", "Where is it?", 0)
    handle_inbound_event(key, ports)
    record = repos.inbox.get(key)
    assert record is not None and record.thread is not None
    conversation = repos.conversations.get(record.thread.conversation_id, consistent=True)
    assert conversation is not None
    return conversation


def reopen_events(bus: MemoryBus) -> list[dict[str, Any]]:
    distinct = {body["event_id"]: body for body in bus.bodies(EVENTS) if body["type"] == "reopened"}
    return list(distinct.values())


def test_a_reply_naming_a_resolved_case_reopens_it_and_counts_once_under_redelivery(
    repos: Repositories, bus: MemoryBus, ports: WorkerPorts, clock: Clock
) -> None:
    case = first_case(repos, ports)
    resolve_conversation(repos, case.id, bus=bus)
    assert reopened(repos) == 0
    reply = mail(repos, f"Re: Your request [{case.reference}]", "Still not here.", 5)
    for _ in range(3):
        handle_inbound_event(reply, ports)
        clock.now += 3600  # past SQS's deduplication: only the ids can tell a repeat
    stored = repos.conversations.get(case.id, consistent=True)
    assert stored is not None and stored.status.value == "open"
    assert reopened(repos) == 1
    [event] = reopen_events(bus)
    assert event["detail"]["by"] == "customer" and event["detail"]["previous_status"] == "resolved"
    assert event["conversation"]["id"] == case.id

    # Support resolves and reopens it (the request retried): one more; a pending one resuming is none.
    resolve_conversation(repos, case.id, bus=bus)
    for _ in range(2):
        reopen_conversation(repos, case.id, bus=bus)
    assert reopened(repos) == 2
    set_pending(repos, case.id, bus=bus)
    reopen_conversation(repos, case.id, bus=bus)
    assert reopened(repos) == 2
    # A later message on the open case reopens nothing.
    handle_inbound_event(mail(repos, f"Re: Your request [{case.reference}]", "Any news?", 9), ports)
    assert reopened(repos) == 2 and len(reopen_events(bus)) == 3  # customer, support, pending resumed


def test_a_count_the_store_refused_is_made_by_the_redelivery(
    repos: Repositories, bus: MemoryBus, ports: WorkerPorts
) -> None:
    case = first_case(repos, ports)
    resolve_conversation(repos, case.id, bus=bus)
    reply = mail(repos, f"Re: [{case.reference}]", "It is still broken", 5)
    kpis: Any = repos.kpis
    # The reopen is written, then its count fails: the message is retried by the queue.
    kpis.failures = 1
    with pytest.raises(StoreUnavailable):
        handle_inbound_event(reply, ports)
    stored = repos.conversations.get(case.id, consistent=True)
    assert stored is not None and stored.status.value == "open" and reopened(repos) == 0
    handle_inbound_event(reply, ports)
    handle_inbound_event(reply, ports)
    assert reopened(repos) == 1


def test_a_late_duplicate_of_the_reply_does_not_reopen_the_case_support_resolved_since(
    repos: Repositories, bus: MemoryBus, ports: WorkerPorts
) -> None:
    case = first_case(repos, ports)
    resolve_conversation(repos, case.id, bus=bus)
    reply = mail(repos, f"Re: [{case.reference}]", "Still broken", 5)
    handle_inbound_event(reply, ports)
    resolve_conversation(repos, case.id, bus=bus)  # support answers and closes it again
    handle_inbound_event(reply, ports)  # the same reply, delivered once more
    stored = repos.conversations.get(case.id, consistent=True)
    assert stored is not None and stored.status.value == "resolved"
    assert reopened(repos) == 1 and len(reopen_events(bus)) == 1
