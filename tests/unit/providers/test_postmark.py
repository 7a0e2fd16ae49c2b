"""Postmark inbound: basic auth (403 when wrong), the inbound JSON, RawEmail through the same MIME path."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from chalicelib.core.model import EventKind
from chalicelib.providers.base import PayloadError, SignatureError, WebhookRequest
from chalicelib.providers.postmark import (
    CHANNEL,
    basic_auth_header,
    parse_postmark_events,
    verify_postmark_basic_auth,
)
from tests.unit.email.payloads import RECEIVED_AT, MemoryInbox, eml, fixture_json, ingest

USER, PASSWORD = "postmark-hook", "pm-9d2c7a41e6"
SECRETS = {"POSTMARK_INBOUND_USER": USER, "POSTMARK_INBOUND_PASSWORD": PASSWORD}
NOW = 1_717_402_355.0
MESSAGE_ID = "CAH7yN8sQ1Z4vGx=P0kX9q3dLr2m+Fw@mail.gmail.com"


def request(payload: dict[str, Any] | bytes, authorization: str | None = None) -> WebhookRequest:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {"content-type": "application/json",
               "authorization": authorization if authorization is not None else basic_auth_header(USER, PASSWORD)}
    return WebhookRequest(method="POST", path="/webhooks/email/postmark", headers=headers, body=body,
                          received_at=RECEIVED_AT)


def test_basic_auth_accepted() -> None:
    verify_postmark_basic_auth(request(fixture_json("postmark_inbound.json")), SECRETS, NOW)


@pytest.mark.parametrize("authorization", [
    "", basic_auth_header(USER, "wrong"), basic_auth_header("other", PASSWORD), basic_auth_header(USER, ""),
    "Basic " + base64.b64encode(USER.encode()).decode(), "Basic %%%", "Digest x",
])
def test_wrong_credentials_refused(authorization: str) -> None:
    with pytest.raises(SignatureError):
        verify_postmark_basic_auth(request({}, authorization), SECRETS, NOW)


def test_wrong_credentials_are_403_and_store_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryInbox()
    forged = request(fixture_json("postmark_inbound.json"), basic_auth_header(USER, "guess"))
    assert ingest(monkeypatch, CHANNEL, forged, secrets=SECRETS, store=store, now=NOW).response.status == 403
    assert store.items == {}


def test_inbound_json_with_attachment(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryInbox()
    result = ingest(monkeypatch, CHANNEL, request(fixture_json("postmark_inbound.json")), secrets=SECRETS,
                    store=store, now=NOW)
    assert result.response.status == 200
    [event] = result.new_events
    assert event.kind is EventKind.MESSAGE and event.provider == "postmark"
    assert event.event_id == MESSAGE_ID  # the Message-ID header, not Postmark's MessageID
    assert event.provider_message_id == "73e6d360-66eb-11e1-8e72-a8904824019b"
    assert event.sender is not None and event.sender.identity.address == "mario.rossi@gmail.com"
    assert event.sender.name == "Mario Rossi"
    assert event.metadata["mailbox"] == "support@omnihub.example"
    assert event.metadata["subject"] == "Invoice 2024-118 is wrong"
    assert event.metadata["date"] == "2024-06-03T08:12:19.000Z"
    assert event.metadata["spam"] == "No"
    [attachment] = event.attachments
    assert (attachment.name, attachment.size) == ("invoice-2024-118.pdf", 218)


def test_raw_email_goes_through_the_mime_path_and_dedupes_with_the_json_one() -> None:
    payload = fixture_json("postmark_inbound.json")
    [from_json] = parse_postmark_events(request(payload))
    payload["RawEmail"] = eml("multipart_pdf.eml").decode("utf-8")
    [from_raw] = parse_postmark_events(request(payload))
    assert from_raw.event_id == from_json.event_id
    assert [a.media_id for a in from_raw.attachments] == [a.media_id for a in from_json.attachments]


def test_mailbox_hash_and_reply_threading() -> None:
    payload = fixture_json("postmark_inbound.json")
    payload["OriginalRecipient"] = "support+OH-7K3Q9@omnihub.example"
    payload["Headers"].append({"Name": "In-Reply-To", "Value": "<ack-1@eu-west-1.amazonses.com>"})
    [event] = parse_postmark_events(request(payload))
    assert event.metadata["mailbox_tag"] == "oh-7k3q9"
    assert event.metadata["in_reply_to"] == "ack-1@eu-west-1.amazonses.com"


def test_hostile_json_values_never_raise() -> None:
    payload = fixture_json("postmark_inbound.json")
    payload.update({"FromFull": {"Email": "x@example.com\r\nBcc: y@example.com", "Name": ["not", "a", "name"]},
                    "Subject": "hi\ud83d", "Headers": [{"Name": "X\r\nBcc", "Value": "y"}, "junk", {"Name": 5}],
                    "Attachments": [{"Name": "a.bin", "Content": "!!!"}, {"Content": None}, 7]})
    [event] = parse_postmark_events(request(json.dumps(payload).encode()))
    assert event.kind in (EventKind.MESSAGE, EventKind.UNKNOWN)
    assert all("\n" not in value for key, value in event.metadata.items() if key != "text_full")
    assert not any(0xD800 <= ord(ch) <= 0xDFFF for value in event.metadata.values() for ch in value)
    with pytest.raises(PayloadError):
        parse_postmark_events(request(b"[1, 2]"))
