"""SendGrid's Event Webhook: ECDSA P-256 over timestamp + raw body (checked against the vector of
sendgrid-python's own tests), forged → 403; bounce/blocked/dropped/spamreport/delivered as delivery
statuses on the X-Message-Id part of sg_message_id; hard bounces and spam reports withdraw consent,
blocked and dropped do not."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from chalicelib.adapters.memory import MemoryBus, MemoryStore, memory_repositories
from chalicelib.conversations.inbound import WorkerPorts, handle_inbound_event
from chalicelib.conversations.threading import thread_message
from chalicelib.core.model import DeliveryStatus, EventKind
from chalicelib.outbound.senders.sendgrid import PROVIDER as SENDER_PROVIDER
from chalicelib.providers.base import PayloadError, SignatureError, WebhookRequest
from chalicelib.providers.sendgrid_events import CHANNEL
from tests.unit.conftest import test_id_key
from tests.unit.email.payloads import RECEIVED_AT, eml
from tests.unit.outbound.test_email_replies import inbound

PRIVATE_KEY = ec.derive_private_key(0x5E9D_6E7E_0001, ec.SECP256R1())
PUBLIC_KEY = base64.b64encode(PRIVATE_KEY.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
SECRETS = {"SENDGRID_EVENT_PUBLIC_KEY": PUBLIC_KEY}
NOW = 1_600_112_600.0
FIXTURE = "tests/fixtures/email/events/sendgrid_events.json"
# sendgrid-python's own vector (test/unit/test_eventwebhook.py): key, signature and timestamp over this
# exact body (sorted keys, compact, CRLF at the end).
SDK_PUBLIC_KEY = ("MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE83T4O/n84iotIvIW4mdBgQ/7dAfSmpqIM8kF9mN1flpVKS3GRqe62gw+"
                  "2fNNRaINXvVpiglSI8eNEc6wEA3F+g==")
SDK_SIGNATURE = "MEUCIGHQVtGj+Y3LkG9fLcxf3qfI10QysgDWmMOVmxG0u6ZUAiEAyBiXDWzM+uOe5W0JuG+luQAbPIqHh89M15TluLtEZtM="
SDK_TIMESTAMP = "1600112502"
SDK_PAYLOAD = (json.dumps([{
    "email": "hello@world.com", "event": "dropped", "reason": "Bounced Address",
    "sg_event_id": "ZHJvcC0xMDk5NDkxOS1MUnpYbF9OSFN0T0doUTRrb2ZTbV9BLTA",
    "sg_message_id": "LRzXl_NHStOGhQ4kofSm_A.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
    "smtp-id": "<LRzXl_NHStOGhQ4kofSm_A@ismtpd0039p1iad1.sendgrid.net>", "timestamp": 1600112492,
}], sort_keys=True, separators=(",", ":")) + "\r\n").encode()


def request(body: bytes, signature: str, timestamp: str) -> WebhookRequest:
    return WebhookRequest(method="POST", path="/webhooks/email/sendgrid/events",
                          headers={"content-type": "application/json",
                                   "x-twilio-email-event-webhook-signature": signature,
                                   "x-twilio-email-event-webhook-timestamp": timestamp},
                          body=body, query={}, received_at=RECEIVED_AT)


def signed(events: list[dict[str, Any]], *, key: ec.EllipticCurvePrivateKey = PRIVATE_KEY,
           timestamp: str = "1600112500") -> WebhookRequest:
    body = json.dumps(events).encode() + b"\r\n"
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return request(body, base64.b64encode(signature).decode(), timestamp)


def events(**changes: Any) -> list[dict[str, Any]]:
    with open(FIXTURE, encoding="utf-8") as handle:
        loaded: list[dict[str, Any]] = json.load(handle)
    return [{**event, **changes} for event in loaded]


def test_sendgrids_own_vector_verifies_and_any_change_is_refused() -> None:
    sdk = {"SENDGRID_EVENT_PUBLIC_KEY": SDK_PUBLIC_KEY}
    CHANNEL.verify(request(SDK_PAYLOAD, SDK_SIGNATURE, SDK_TIMESTAMP), sdk, NOW)
    for forged in (request(SDK_PAYLOAD.replace(b"dropped", b"droppeD"), SDK_SIGNATURE, SDK_TIMESTAMP),
                   request(SDK_PAYLOAD, SDK_SIGNATURE, "1600112503"),
                   request(SDK_PAYLOAD, SDK_SIGNATURE[:-8] + "AAAAAAA=", SDK_TIMESTAMP),
                   request(SDK_PAYLOAD, "not base64!", SDK_TIMESTAMP),
                   request(SDK_PAYLOAD, "", SDK_TIMESTAMP)):
        with pytest.raises(SignatureError):
            CHANNEL.verify(forged, sdk, NOW)
    with pytest.raises(SignatureError):  # right signature, another key
        CHANNEL.verify(request(SDK_PAYLOAD, SDK_SIGNATURE, SDK_TIMESTAMP), SECRETS, NOW)
    with pytest.raises(SignatureError):  # a garbled configured key refuses, it does not crash
        CHANNEL.verify(request(SDK_PAYLOAD, SDK_SIGNATURE, SDK_TIMESTAMP), {"SENDGRID_EVENT_PUBLIC_KEY": "eA=="}, NOW)
    assert CHANNEL.forged_status == 403


def test_a_post_signed_by_another_key_is_refused() -> None:
    CHANNEL.verify(signed(events()), SECRETS, NOW)
    other = ec.derive_private_key(0x5E9D_6E7E_0002, ec.SECP256R1())
    with pytest.raises(SignatureError):
        CHANNEL.verify(signed(events(), key=other), SECRETS, NOW)


def test_each_event_is_a_delivery_status_on_the_message_id_the_sender_stored() -> None:
    parsed = CHANNEL.parse(signed(events()))
    delivered, hard, blocked, dropped, spam, opened = parsed
    for event in (delivered, hard, blocked, dropped, spam):
        assert event.kind is EventKind.DELIVERY_STATUS and event.provider == SENDER_PROVIDER
        assert event.provider_message_id == "LRzXl_NHStOGhQ4kofSm_A"
        assert event.metadata["provider_feedback"] == "true"
    assert [e.status for e in (delivered, hard, blocked, dropped, spam)] == [
        DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.FAILED, DeliveryStatus.FAILED,
        DeliveryStatus.DELIVERED]
    assert hard.metadata["bounce"] == "hard" and hard.metadata["bounce_recipient"] == "alice@example.com"
    assert hard.error_code == "5.1.1"
    assert blocked.metadata["bounce"] == "soft" and dropped.metadata["bounce"] == "soft"
    assert spam.metadata["complaint"] == "true"
    assert delivered.metadata["outbound_id"] == "out-1" and delivered.metadata["conversation_id"] == "conv-1"
    assert delivered.occurred_at.startswith("2020-09-14T19:41:32")
    assert opened.kind is EventKind.UNKNOWN
    assert len({event.event_id for event in parsed}) == len(parsed)


def test_a_body_that_is_no_array_is_unreadable() -> None:
    with pytest.raises(PayloadError):
        CHANNEL.parse(request(b'{"event": "delivered"}', "", ""))


@pytest.mark.parametrize(("index", "withdrawn"), [(1, True), (4, True), (2, False), (3, False), (0, False)])
def test_hard_bounces_and_spam_reports_withdraw_consent_blocked_and_dropped_do_not(index: int,
                                                                                  withdrawn: bool) -> None:
    repos = memory_repositories(MemoryStore())
    first = inbound(eml("multipart_pdf.eml"))
    assert first.sender is not None
    repos.inbox.put(first, endpoint="sendgrid", received_at=RECEIVED_AT, raw_body=b"x", content_type="text/plain")
    record = repos.inbox.get(first.inbox_key)
    assert record is not None
    customer_id = thread_message(repos, record, id_key=test_id_key).customer.id
    event = CHANNEL.parse(signed(events(email=first.sender.identity.address)))[index]
    repos.inbox.put(event, endpoint="sendgrid_events", received_at=RECEIVED_AT, raw_body=b"[]",
                    content_type="application/json")
    handle_inbound_event(event.inbox_key, WorkerPorts(repos=repos, bus=MemoryBus(), id_key=test_id_key))  # type: ignore[arg-type]
    customer = repos.customers.get(customer_id)
    assert customer is not None and (customer.consent.get("email") == "withdrawn") is withdrawn
