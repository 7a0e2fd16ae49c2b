"""Mailgun's event webhooks: the signature block (HMAC over timestamp+token, tolerance, one use per token)
refused with 406, and failed/complained/delivered as delivery statuses on the message Mailgun's
message-id names; permanent failures and complaints withdraw consent, temporary failures do not."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest

from chalicelib.adapters.memory import MemoryBus, MemoryStore, memory_repositories
from chalicelib.conversations.inbound import WorkerPorts, handle_inbound_event
from chalicelib.conversations.threading import thread_message
from chalicelib.core.model import DeliveryStatus, EventKind
from chalicelib.outbound.senders.mailgun import PROVIDER as SENDER_PROVIDER
from chalicelib.providers.base import SignatureError, WebhookRequest
from chalicelib.providers.mailgun import StaleSignatureError, sign_mailgun
from chalicelib.providers.mailgun_events import CHANNEL
from tests.unit.conftest import test_id_key
from tests.unit.email.payloads import RECEIVED_AT, eml, fixture_json
from tests.unit.outbound.test_email_replies import inbound

KEY = "key-mailgun-signing"
NOW = 1_529_006_900.0


def signed(name: str, *, key: str = KEY, **data: Any) -> WebhookRequest:
    document = fixture_json(f"events/{name}")
    document["event-data"].update(data)
    block = document["signature"]
    block["signature"] = sign_mailgun(key, block["timestamp"], block["token"])
    return WebhookRequest(method="POST", path="/webhooks/email/mailgun/events",
                          headers={"content-type": "application/json"}, body=json.dumps(document).encode(),
                          query={}, received_at=RECEIVED_AT)


def test_a_signed_event_is_accepted_and_another_key_or_a_stale_time_refused_with_406() -> None:
    CHANNEL.verify(signed("mailgun_delivered.json"), {"MAILGUN_SIGNING_KEY": KEY}, NOW)
    with pytest.raises(SignatureError):
        CHANNEL.verify(signed("mailgun_delivered.json", key="another"), {"MAILGUN_SIGNING_KEY": KEY}, NOW)
    with pytest.raises(StaleSignatureError):
        CHANNEL.verify(signed("mailgun_delivered.json"), {"MAILGUN_SIGNING_KEY": KEY}, time.time())
    assert CHANNEL.forged_status == 406 and CHANNEL.replay_claim is not None
    claim = CHANNEL.replay_claim(signed("mailgun_delivered.json"))
    assert claim.key.startswith("mailgun#token#")  # the same claims as routes: one use per token anywhere


@pytest.mark.parametrize(("fixture", "status", "marks"), [
    ("mailgun_failed_permanent.json", DeliveryStatus.FAILED,
     {"bounce": "hard", "bounce_recipient": "alice@example.com"}),
    ("mailgun_failed_temporary.json", DeliveryStatus.FAILED, {"bounce": "soft"}),
    ("mailgun_complained.json", DeliveryStatus.DELIVERED,
     {"complaint": "true", "complaint_recipient": "alice@example.com"}),
    ("mailgun_delivered.json", DeliveryStatus.DELIVERED, {}),
])
def test_each_event_is_a_delivery_status_on_mailguns_message_id(fixture: str, status: DeliveryStatus,
                                                                marks: dict[str, str]) -> None:
    request = signed(fixture)
    [event] = CHANNEL.parse(request)
    headers = json.loads(request.body)["event-data"]["message"]["headers"]
    assert event.kind is EventKind.DELIVERY_STATUS and event.status is status
    assert (event.provider, event.provider_message_id) == (SENDER_PROVIDER, headers["message-id"])
    assert event.metadata["provider_feedback"] == "true" and marks.items() <= event.metadata.items()
    assert event.occurred_at.startswith("2018-03-")


def test_an_event_it_does_not_read_is_kept_as_unknown() -> None:
    [event] = CHANNEL.parse(signed("mailgun_delivered.json", event="opened"))
    assert event.kind is EventKind.UNKNOWN


@pytest.mark.parametrize(("fixture", "withdrawn"), [
    ("mailgun_failed_permanent.json", True), ("mailgun_complained.json", True),
    ("mailgun_failed_temporary.json", False), ("mailgun_delivered.json", False),
])
def test_permanent_failures_and_complaints_withdraw_consent(fixture: str, withdrawn: bool) -> None:
    repos = memory_repositories(MemoryStore())
    first = inbound(eml("multipart_pdf.eml"))
    assert first.sender is not None
    repos.inbox.put(first, endpoint="sendgrid", received_at=RECEIVED_AT, raw_body=b"x", content_type="text/plain")
    record = repos.inbox.get(first.inbox_key)
    assert record is not None
    customer_id = thread_message(repos, record, id_key=test_id_key).customer.id
    [event] = CHANNEL.parse(signed(fixture, recipient=first.sender.identity.address))
    repos.inbox.put(event, endpoint="mailgun_events", received_at=RECEIVED_AT, raw_body=b"{}",
                    content_type="application/json")
    handle_inbound_event(event.inbox_key, WorkerPorts(repos=repos, bus=MemoryBus(), id_key=test_id_key))  # type: ignore[arg-type]
    customer = repos.customers.get(customer_id)
    assert customer is not None and (customer.consent.get("email") == "withdrawn") is withdrawn
