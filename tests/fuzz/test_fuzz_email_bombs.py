"""Hostile mail at every inbound email endpoint: multipart bombs, MIME with thousands of parts, header
injection (CRLF in headers, addresses and subjects), deep JSON and invalid UTF-8.

Every answer keeps test_fuzz_webhooks's rules (a 2xx or a declared 4xx with a table error body, never a
5xx, nothing stored for a refusal); an accepted mail's stored event has no line break in any field but
its text, so no header a reply reuses can carry an injected one. Each mail goes to every endpoint that
carries raw MIME (``RAW_MIME``) and the parsed-JSON one (Postmark) gets the same attacks in its fields;
the tables must cover every email endpoint of the registry.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from tests.fuzz import signers
from tests.fuzz.conftest import FuzzHub
from tests.fuzz.strategies import fixture_documents, render
from tests.fuzz.test_fuzz_webhooks import check_refused_or_accepted

INJECTED = "Bcc: victim@example.com"
HEAD = (b"From: Mario Rossi <mario.rossi@example.com>\r\nTo: support@omnihub.example\r\n"
        b"Message-ID: <bomb-%d@example.com>\r\nDate: Mon, 3 Jun 2024 08:12:19 +0000\r\nMIME-Version: 1.0\r\n")


def _head(tag: int, extra: bytes = b"") -> bytes:
    return HEAD % tag + extra


def thousands_of_parts(count: int = 5000) -> bytes:
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(count))
    return _head(1, b"Subject: parts\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n") + parts + b"--b--\r\n"


def thousands_of_attachments(count: int = 2000) -> bytes:
    part = (b"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; "
            b'filename="f%d.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n')
    body = b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n" + b"".join(part % i for i in range(count))
    return _head(2, b"Subject: attachments\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n") + body + b"--b--\r\n"


def nested_multipart(depth: int = 3000) -> bytes:
    opening = b"".join(b"Content-Type: multipart/mixed; boundary=n%d\r\n\r\n--n%d\r\n" % (i, i) for i in range(depth))
    closing = b"".join(b"\r\n--n%d--" % i for i in reversed(range(depth)))
    return _head(3, b"Subject: nested\r\n") + opening + b"Content-Type: text/plain\r\n\r\ndeep" + closing + b"\r\n"


def header_bomb(count: int = 20000) -> bytes:
    fillers = b"X-Filler: v\r\n" * count
    return _head(4, b"Subject: headers\r\n" + fillers + b"Content-Type: text/plain\r\n") + b"\r\nhi\r\n"


def header_injection() -> bytes:
    """CRLF smuggled in as RFC 2047 words (decoded by the parser), raw CRs and folded lines."""
    return (b"From: =?utf-8?q?Mario=0D=0ABcc:_victim@example.com?= <mario.rossi@example.com>\r\n"
            b"To: support@omnihub.example\r\nMessage-ID: <inject@example.com>\r\n"
            b"Subject: =?utf-8?q?Hello=0D=0ABcc:_victim@example.com?=\r\n"
            b"Reply-To: =?utf-8?b?" + base64.b64encode(b"x@example.com\r\nBcc: victim@example.com") + b"?=\r\n"
            b"In-Reply-To: <a@example.com>\r\n\tBcc: victim@example.com\r\n"
            b"References: " + b" ".join(b"<r%d@example.com>" % i for i in range(5000)) + b"\r\n"
            b"X-Raw: a\rBcc: victim@example.com\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n\r\nHello\r\n")


def invalid_utf8_mail() -> bytes:
    return _head(5, b"Subject: \xff\xfe \xed\xa0\x80 caf\xe9\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    b"Content-Transfer-Encoding: 8bit\r\n\r\n\xff\xfe\xed\xa0\x80 caf\xe9 \xc3(\r\n")


MAILS: dict[str, Callable[[], bytes]] = {
    "thousands_of_parts": thousands_of_parts, "thousands_of_attachments": thousands_of_attachments,
    "nested_multipart": nested_multipart, "header_bomb": header_bomb, "header_injection": header_injection,
    "invalid_utf8": invalid_utf8_mail,
}


def _ses(raw: bytes, message_id: str | None = None) -> signers.FuzzRequest:
    notification = fixture_documents("email/ses_received_sns_action.json")[0]
    notification["receipt"]["action"]["encoding"] = "BASE64"
    notification["content"] = base64.b64encode(raw).decode()
    if message_id is not None:
        notification["mail"]["messageId"] = message_id
    return signers.sign_ses(json.dumps(notification).encode())


_ENVELOPE = [("to", "support@omnihub.example"), ("from", "mario.rossi@example.com"),
             ("envelope", '{"to":["support@omnihub.example"],"from":"mario.rossi@example.com"}')]
# endpoint → how a raw mail reaches it.
RAW_MIME: dict[str, Callable[[bytes], signers.FuzzRequest]] = {
    "sendgrid": lambda raw: signers.sign_sendgrid([*_ENVELOPE, ("email", raw)]),
    "mailgun": lambda raw: signers.sign_mailgun_form([("recipient", "support@omnihub.example"),
                                                      ("sender", "mario.rossi@example.com"), ("body-mime", raw)],
                                                     multipart_form=True),
    "ses": _ses,
}
PARSED_JSON = frozenset({"postmark"})
EVENTS_JSON = frozenset({"sendgrid_events", "mailgun_events", "postmark_events"})


def test_every_email_endpoint_of_the_registry_is_attacked() -> None:
    from chalicelib.core.model import Channel
    from chalicelib.providers.registry import REGISTRY

    email = {endpoint.name for entry in REGISTRY if Channel.EMAIL in entry.channels for endpoint in entry.webhooks}
    assert email == set(RAW_MIME) | PARSED_JSON | EVENTS_JSON


def assert_no_line_breaks_outside_text(hub: FuzzHub) -> None:
    """An accepted mail's stored event: no CR or LF in any field but its text (a subject, an address, a
    message id or a display name that a reply reuses can carry no injected header)."""
    def walk(value: Any, where: str) -> None:
        if isinstance(value, str):
            assert "\r" not in value and "\n" not in value, (where, value[:200])
        elif isinstance(value, dict):
            for key, child in value.items():
                if key != "text":
                    walk(child, f"{where}.{key}")
        elif isinstance(value, list):
            for index, child in enumerate(value):
                walk(child, f"{where}[{index}]")

    for item in hub.table_items():
        if item["sk"] == "INBOX":
            walk(json.loads(item["event"]), "event")


def deliver(hub: FuzzHub, endpoint: str, request: signers.FuzzRequest) -> int:
    response = signers.send(hub.client, request)
    try:
        if 200 <= response.status_code < 300:
            assert_no_line_breaks_outside_text(hub)
    finally:
        check_refused_or_accepted(hub, endpoint, response, forged=False)  # and empties the store
    return int(response.status_code)


@pytest.mark.parametrize("mail", sorted(MAILS))
@pytest.mark.parametrize("endpoint", sorted(RAW_MIME))
def test_hostile_mime_is_a_2xx_or_a_declared_4xx(fuzz_hub: FuzzHub, endpoint: str, mail: str) -> None:
    status = deliver(fuzz_hub, endpoint, RAW_MIME[endpoint](MAILS[mail]()))
    if mail in ("header_injection", "invalid_utf8"):  # an ordinary mail underneath: it must not be lost
        assert 200 <= status < 300, status


def _form_bomb(endpoint: str, count: int) -> signers.FuzzRequest:
    fields: list[tuple[str, str | bytes]] = [("filler", "x")] * count
    return RAW_MIME[endpoint](b"") if endpoint == "ses" else (
        signers.sign_sendgrid([*_ENVELOPE, *fields, ("email", header_injection())]) if endpoint == "sendgrid"
        else signers.sign_mailgun_form([("recipient", "support@omnihub.example"), *fields,
                                        ("body-mime", header_injection())], multipart_form=True))


@pytest.mark.parametrize("endpoint", ["sendgrid", "mailgun"])
def test_a_form_of_thousands_of_fields_is_refused(fuzz_hub: FuzzHub, endpoint: str) -> None:
    """The HTTP multipart bomb: 20,000 form fields (a few hundred is the most a provider sends)."""
    assert 400 <= deliver(fuzz_hub, endpoint, _form_bomb(endpoint, 20000)) < 500


def _postmark(**changes: Any) -> signers.FuzzRequest:
    document = fixture_documents("email/postmark_*.json")[0]
    document.update(changes)
    return signers.sign_postmark(render(document, ensure_ascii=False))


POSTMARK_ATTACKS: dict[str, Callable[[], signers.FuzzRequest]] = {
    "subject_crlf": lambda: _postmark(Subject="Hello\r\n" + INJECTED),
    "from_crlf": lambda: _postmark(From="mario.rossi@example.com\r\n" + INJECTED, FromName="Mario\r\n" + INJECTED,
                                   FromFull={"Email": "mario.rossi@example.com\r\n" + INJECTED, "Name": "M\nB"}),
    "reply_to_crlf": lambda: _postmark(ReplyTo="x@example.com\r\n" + INJECTED, MessageID="id\r\n" + INJECTED),
    "headers_crlf": lambda: _postmark(Headers=[{"Name": "Message-ID", "Value": "<a@b>\r\n" + INJECTED},
                                               {"Name": "Subject\r\nBcc", "Value": "victim@example.com"}]),
    "thousands_of_headers": lambda: _postmark(Headers=[{"Name": "X-Filler", "Value": "v"}] * 20000),
    "thousands_of_attachments": lambda: _postmark(Attachments=[
        {"Name": f"f{i}.bin", "Content": "AAEC", "ContentType": "application/octet-stream", "ContentLength": 3}
        for i in range(5000)]),
    "thousands_of_recipients": lambda: _postmark(ToFull=[{"Email": f"r{i}@example.com", "Name": "R"}
                                                         for i in range(20000)]),
}


@pytest.mark.parametrize("endpoint", ["postmark", "ses"])
def test_the_providers_own_message_id_is_stored_on_one_line(fuzz_hub: FuzzHub, endpoint: str) -> None:
    """Found by this module: Postmark's ``MessageID`` (and SES's ``mail.messageId``) with a CRLF was stored
    as it came, the one field of a stored mail event that kept a line break (and unbounded in SES's case
    after the cut): the provider's id is one line, like every header value."""
    hostile = "id\r\n" + INJECTED + "\u2028x"  # a line break, and a line separator (dropped)
    request = _postmark(MessageID=hostile) if endpoint == "postmark" else _ses(header_injection(), hostile)
    response = signers.send(fuzz_hub.client, request)
    try:
        assert response.status_code == 200, response.body
        events = [json.loads(item["event"]) for item in fuzz_hub.table_items() if item["sk"] == "INBOX"]
        assert [event["provider_message_id"] for event in events] == ["id " + INJECTED + "x"]
        assert [event["metadata"]["provider_event_id"] for event in events] == ["id " + INJECTED + "x"]
    finally:
        fuzz_hub.clear()


@pytest.mark.parametrize("attack", sorted(POSTMARK_ATTACKS))
def test_hostile_parsed_mail_is_a_2xx_or_a_declared_4xx(fuzz_hub: FuzzHub, attack: str) -> None:
    status = deliver(fuzz_hub, "postmark", POSTMARK_ATTACKS[attack]())
    if attack.endswith("_crlf"):
        assert 200 <= status < 300, status


# ------------------------------------------------------------------ deep JSON and invalid UTF-8, every JSON endpoint
HOSTILE_JSON = {
    "deep_array": b"[" * 100_000 + b"]" * 100_000,
    "deep_object": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "deep_in_field": b'{"event_id":"e","type":"message","from":{"id":"a"},"text":' + b"[" * 20_000 + b"]" * 20_000
                     + b"}",
    "invalid_utf8": b'{"event_id":"e\xff","type":"message","from":{"id":"\xed\xa0\x80"},"text":"caf\xe9 \xc3("}',
    "escaped_surrogates": b'{"event_id":"\\ud800","type":"message","from":{"id":"\\udfff"},"text":"\\ud83d"}',
    "bom_and_nul": b'\xef\xbb\xbf{"a":"\x00"}',
    "huge_number": b'{"a":' + b"9" * 10_000 + b"}",
}


@pytest.mark.parametrize("body", sorted(HOSTILE_JSON))
@pytest.mark.parametrize("endpoint", sorted(signers.JSON_SIGNERS))
def test_signed_hostile_json_is_a_2xx_or_a_declared_4xx(fuzz_hub: FuzzHub, endpoint: str, body: str) -> None:
    request = signers.JSON_SIGNERS[endpoint](HOSTILE_JSON[body])
    check_refused_or_accepted(fuzz_hub, endpoint, signers.send(fuzz_hub.client, request), forged=False)
