"""Loop safety in the worker: an address is acknowledged at most once per quiet period, whatever it
sends; auto-replies and bounces are stored and flagged, never acknowledged."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

import pytest

from chalicelib.acknowledgments import load_policy
from chalicelib.adapters.memory import MemoryBus, MemoryStore, memory_repositories
from chalicelib.api.lifecycle import resolve_conversation
from chalicelib.conversations.inbound import WorkerPorts, handle_inbound_event
from chalicelib.core.ports import Repositories
from chalicelib.core.timestamps import parse_timestamp, utc_now
from chalicelib.email import email_events, parse_email
from chalicelib.email.events import EmailDelivery
from tests.unit.conftest import test_id_key
from tests.unit.email.payloads import eml


@pytest.fixture
def repos() -> Repositories:
    return memory_repositories(MemoryStore())


@pytest.fixture
def ports(repos: Repositories) -> WorkerPorts:
    return WorkerPorts(repos=repos, bus=MemoryBus(), id_key=test_id_key, ack_policy=load_policy())  # type: ignore[arg-type]


def mail(sender: str, subject: str, text: str, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, "support@omnihub.example", subject
    message["Date"] = format_datetime(parse_timestamp(utc_now()))
    message["Message-ID"] = make_msgid(domain="mail.example.net")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(text)
    return message.as_bytes()


def receive(repos: Repositories, ports: WorkerPorts, raw: bytes) -> Any:
    now = utc_now()
    [event, *_] = email_events(EmailDelivery(provider="sendgrid", parsed=parse_email(raw), received_at=now))
    repos.inbox.put(event, endpoint="sendgrid", received_at=now, raw_body=raw, content_type="message/rfc822")
    return handle_inbound_event(event.inbox_key, ports), event


def test_an_address_is_acknowledged_once_per_quiet_period_whatever_it_sends(repos: Repositories,
                                                                            ports: WorkerPorts) -> None:
    first, event = receive(repos, ports, mail("robot@example.org", "Ticket 1", "Your message was received."))
    assert first == "routed+acknowledgment_queued"
    assert handle_inbound_event(event.inbox_key, ports) == "routed+acknowledgment_queued"  # a redelivery: same claim
    record = repos.inbox.get(event.inbox_key)
    assert record is not None and record.thread is not None
    resolve_conversation(repos, record.thread.conversation_id, bus=MemoryBus())  # type: ignore[arg-type]  # the next mail opens a new case...
    second, _ = receive(repos, ports, mail("robot@example.org", "Ticket 2", "Your message was received again."))
    assert second == "routed+not_acknowledged:address_rate_limited"  # ... and still gets no second answer
    other, _ = receive(repos, ports, mail("ada@example.com", "Order", "Where is it?"))
    assert other == "routed+acknowledgment_queued"  # another address has its own window


@pytest.mark.parametrize("fixture", ["out_of_office.eml", "bounce_dsn.eml"])
def test_auto_replies_and_bounces_are_stored_flagged_and_never_acknowledged(
        repos: Repositories, ports: WorkerPorts, fixture: str) -> None:
    raw = eml(fixture).replace(b"Date: ", b"X-Old-Date: ")  # recent, so only the loop flag can explain silence
    result, event = receive(repos, ports, raw)
    assert event.metadata["auto_reply"] == "true"
    assert result.startswith("routed+not_acknowledged")
    assert repos.claims is not None and repos.claims.claim(f"ack#{event.sender.identity.key}", "probe", 1)
