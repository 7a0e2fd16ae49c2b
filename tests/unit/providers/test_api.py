"""The generic signed channel (``POST /webhooks/api``): signature edge cases and what a body may carry."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.core.model import Channel, EventKind
from chalicelib.providers import channel_spec
from chalicelib.providers.api import CHANNEL, parse_api_event, sign_api_payload, verify_api_signature
from chalicelib.providers.base import PayloadError, SignatureError, WebhookRequest

SECRET = "api-signing-secret-0123456789abcdef"
SECRETS = {"OMNIHUB_API_SIGNING_SECRET": SECRET}
NOW = 1_780_000_000
RECEIVED_AT = "2026-05-28T20:26:40.000Z"


def api_body(**changes: Any) -> bytes:
    data: dict[str, Any] = {"event_id": "evt-1", "type": "message", "from": {"id": "visitor-42"}, "text": "Hello"}
    data.update(changes)
    return json.dumps(data).encode()


def signed(body: bytes, timestamp: str | None = None, signature: str | None = None) -> WebhookRequest:
    ts = str(NOW) if timestamp is None else timestamp
    headers = {
        "content-type": "application/json",
        "x-omnihub-timestamp": ts,
        "x-omnihub-signature": sign_api_payload(SECRET, ts, body) if signature is None else signature,
    }
    return WebhookRequest(method="POST", path="/webhooks/api", headers=headers, body=body, received_at=RECEIVED_AT)


def test_spec_is_registered() -> None:
    assert channel_spec("api") is CHANNEL
    assert CHANNEL.forged_status == 401


def test_a_signed_message_verifies_and_parses() -> None:
    request = signed(api_body())
    verify_api_signature(request, SECRETS, NOW)
    [event] = parse_api_event(request)
    assert (event.kind, event.channel, event.event_id) == (EventKind.MESSAGE, Channel.WEBCHAT, "evt-1")
    assert event.sender is not None and event.sender.identity.address == "visitor-42"
    assert event.occurred_at == RECEIVED_AT


# --- signature: only SignatureError, whatever the header holds --------------------------------


@pytest.mark.parametrize(
    "timestamp",
    [
        "²",  # str.isdigit() is True, int() refuses it
        "¹⁷⁸⁰⁰⁰⁰⁰⁰⁰",
        "١٧٨٠٠٠٠٠٠٠",  # Arabic-Indic digits: int() would read them, the signature scheme does not
        "９",
        "9" * 5000,  # int() refuses more than 4300 digits
        "-1780000000",
        "1780000000.0",
        " 1780000000",
        "1e9",
    ],
)
def test_a_timestamp_that_is_not_ascii_unix_seconds_is_a_signature_error(timestamp: str) -> None:
    body = api_body()
    request = signed(body, timestamp=timestamp, signature=sign_api_payload(SECRET, timestamp, body))
    with pytest.raises(SignatureError, match="Unix seconds"):
        verify_api_signature(request, SECRETS, NOW)


@pytest.mark.parametrize(("timestamp", "accepted"), [(NOW - 300, True), (NOW + 300, True), (NOW - 301, False)])
def test_tolerance(timestamp: int, accepted: bool) -> None:
    request = signed(api_body(), timestamp=str(timestamp))
    if accepted:
        verify_api_signature(request, SECRETS, NOW)
    else:
        with pytest.raises(SignatureError, match="tolerance"):
            verify_api_signature(request, SECRETS, NOW)


def test_wrong_signature_is_rejected() -> None:
    with pytest.raises(SignatureError, match="mismatch"):
        verify_api_signature(signed(api_body(), signature="v1=" + "0" * 64), SECRETS, NOW)


# --- parsing: only PayloadError, whatever the body holds ----------------------------------------


@pytest.mark.parametrize("sender_id", [" ", "\t\n"])
def test_a_sender_id_that_does_not_fit_is_a_payload_error(sender_id: str) -> None:
    with pytest.raises(PayloadError, match="address"):
        parse_api_event(signed(api_body(**{"from": {"id": sender_id}})))


@pytest.mark.parametrize(
    "sent_at", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "yesterday", "2026-05-28T20:26:40"]
)
def test_a_sent_at_that_is_no_time_is_a_payload_error_without_the_value(sent_at: str) -> None:
    with pytest.raises(PayloadError) as err:
        parse_api_event(signed(api_body(sent_at=sent_at)))
    assert sent_at not in err.value.reason


def test_sent_at_at_the_edges_of_the_calendar_is_kept() -> None:
    [event] = parse_api_event(signed(api_body(sent_at="0001-01-01T05:00:00+05:00")))
    assert event.occurred_at == "0001-01-01T00:00:00.000Z"
    [event] = parse_api_event(signed(api_body(sent_at="9999-12-31T18:59:59-05:00")))
    assert event.occurred_at == "9999-12-31T23:59:59.000Z"


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"event_id": ' + b"9" * 5000 + b"}", b"\xff", b"nope"])
def test_json_that_json_loads_refuses_is_a_payload_error(body: bytes) -> None:
    with pytest.raises(PayloadError, match="not JSON"):
        parse_api_event(signed(body))


# --- attachment URLs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://169.254.169.254/latest/meta-data/",
        "http://files.example.com/a.png",  # not https
        "ftp://files.example.com/a.png",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "https://127.0.0.1/a.png",
        "https://[::1]/a.png",
        "https://[fd00:ec2::254]/",
        "https://[::ffff:169.254.169.254]/",
        "https://localhost/a.png",
        "https://LOCALHOST./a.png",
        "https://api.localhost/a.png",
        "https://intranet/a.png",  # single-label name
        "https://2852039166/",  # 169.254.169.254 as one decimal number
        "https://0xa9fea9fe/",
        "https://127.1/",
        "https://0x7f.0.0.1/",
        "https://user:pass@files.example.com/a.png",
        "https://files.example.com@169.254.169.254/",
        "https:///a.png",
        "https://files..example.com/a.png",
        "https://[::1/a.png",  # not a URL at all
        "https://files.example.com:port/a.png",
        "",
    ],
)
def test_attachment_urls_that_are_not_public_https_are_refused(url: str) -> None:
    body = api_body(attachments=[{"url": url, "content_type": "image/png"}])
    with pytest.raises(PayloadError, match=r"attachments\[0\]\.url"):
        parse_api_event(signed(body))


@pytest.mark.parametrize(
    "url",
    [
        "https://files.example.com/a.png",
        "https://cdn.example.co.uk:8443/path/to/file.pdf?sig=abc#frag",
        "HTTPS://Files.Example.com/a.png",
        "https://xn--bcher-kva.example/a.png",
        "https://s3.eu-west-1.amazonaws.com/bucket/key",
    ],
)
def test_ordinary_https_attachment_urls_are_kept(url: str) -> None:
    [event] = parse_api_event(signed(api_body(text=None, attachments=[{"url": url, "content_type": "image/png"}])))
    [attachment] = event.attachments
    assert (attachment.url, attachment.kind) == (url, "image")
