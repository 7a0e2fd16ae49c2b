"""Postmark's bounce, spam complaint and delivery webhooks: basic auth like inbound (403 when wrong),
one delivery status on the message Postmark's MessageID names, consent withdrawn for a hard bounce or a
complaint and never for a soft bounce."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.adapters.memory import MemoryBus, MemoryStore, memory_repositories
from chalicelib.conversations.inbound import WorkerPorts, handle_inbound_event
from chalicelib.conversations.threading import thread_message
from chalicelib.core.model import DeliveryStatus, EventKind
from chalicelib.outbound.senders.postmark import PROVIDER as SENDER_PROVIDER
from chalicelib.providers.base import SignatureError, WebhookRequest
from chalicelib.providers.postmark import basic_auth_header
from chalicelib.providers.postmark_events import CHANNEL
from tests.unit.conftest import test_id_key
from tests.unit.email.payloads import RECEIVED_AT, eml, fixture_json
from tests.unit.outbound.test_email_replies import inbound

SECRETS = {"POSTMARK_INBOUND_USER": "hub", "POSTMARK_INBOUND_PASSWORD": "s3cret"}


def request(record: dict[str, Any], *, password: str = SECRETS["POSTMARK_INBOUND_PASSWORD"]) -> WebhookRequest:
    return WebhookRequest(method="POST", path="/webhooks/email/postmark/events",
                          headers={"content-type": "application/json",
                                   "authorization": basic_auth_header("hub", password)},
                          body=json.dumps(record).encode(), query={}, received_at=RECEIVED_AT)


def test_a_wrong_password_is_refused_with_403() -> None:
    with pytest.raises(SignatureError):
        CHANNEL.verify(request(fixture_json("events/postmark_bounce.json"), password="guess"), SECRETS, 0.0)
    CHANNEL.verify(request(fixture_json("events/postmark_bounce.json")), SECRETS, 0.0)
    assert CHANNEL.forged_status == 403


@pytest.mark.parametrize(("fixture", "status", "marks"), [
    ("postmark_bounce.json", DeliveryStatus.FAILED, {"bounce": "hard", "bounce_recipient": "john@example.com"}),
    ("postmark_soft_bounce.json", DeliveryStatus.FAILED, {"bounce": "soft"}),
    ("postmark_spam_complaint.json", DeliveryStatus.DELIVERED,
     {"complaint": "true", "complaint_recipient": "john@example.com"}),
    ("postmark_delivery.json", DeliveryStatus.DELIVERED, {}),
])
def test_each_record_is_a_delivery_status_on_postmarks_message_id(fixture: str, status: DeliveryStatus,
                                                                  marks: dict[str, str]) -> None:
    record = fixture_json(f"events/{fixture}")
    [event] = CHANNEL.parse(request(record))
    assert event.kind is EventKind.DELIVERY_STATUS and event.status is status
    assert (event.provider, event.provider_message_id) == (SENDER_PROVIDER, record["MessageID"])
    assert event.metadata["provider_feedback"] == "true" and marks.items() <= event.metadata.items()
    assert event.occurred_at.startswith("2019-11-05T16:33:54")


def test_an_unknown_record_type_is_kept_as_unknown() -> None:
    [event] = CHANNEL.parse(request({"RecordType": "Open", "MessageID": "x", "ID": 1}))
    assert event.kind is EventKind.UNKNOWN


@pytest.mark.parametrize(("fixture", "withdrawn"), [
    ("postmark_bounce.json", True), ("postmark_spam_complaint.json", True),
    ("postmark_soft_bounce.json", False), ("postmark_delivery.json", False),
])
def test_hard_bounces_and_complaints_withdraw_consent_soft_bounces_do_not(fixture: str, withdrawn: bool) -> None:
    repos = memory_repositories(MemoryStore())
    first = inbound(eml("multipart_pdf.eml"))
    assert first.sender is not None
    repos.inbox.put(first, endpoint="sendgrid", received_at=RECEIVED_AT, raw_body=b"x", content_type="text/plain")
    record = repos.inbox.get(first.inbox_key)
    assert record is not None
    customer_id = thread_message(repos, record, id_key=test_id_key).customer.id
    feedback = dict(fixture_json(f"events/{fixture}"), Email=first.sender.identity.address)
    [event] = CHANNEL.parse(request(feedback))
    repos.inbox.put(event, endpoint="postmark_events", received_at=RECEIVED_AT, raw_body=b"{}",
                    content_type="application/json")
    handle_inbound_event(event.inbox_key, WorkerPorts(repos=repos, bus=MemoryBus(), id_key=test_id_key))  # type: ignore[arg-type]
    customer = repos.customers.get(customer_id)
    assert customer is not None and (customer.consent.get("email") == "withdrawn") is withdrawn
