"""SendGrid Inbound Parse: token in the URL or basic auth, parsed and raw modes, the one MIME path."""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.core.model import EventKind
from chalicelib.email.formdata import MAX_FORM_FIELDS
from chalicelib.providers.base import PayloadError, SignatureError, WebhookRequest
from chalicelib.providers.sendgrid import (
    CHANNEL,
    MAX_BODY_BYTES,
    parse_sendgrid_events,
    read_sendgrid_email,
    verify_sendgrid_token,
)
from tests.unit.email.payloads import RECEIVED_AT, MemoryInbox, eml, form_data, ingest, provider_form

TOKEN = "sg-inbound-7f3a9c1e5b"
SECRETS = {"SENDGRID_INBOUND_TOKEN": TOKEN}
NOW = 1_717_402_355.0
MESSAGE_ID = "CAH7yN8sQ1Z4vGx=P0kX9q3dLr2m+Fw@mail.gmail.com"


def request(content_type: str, body: bytes, *, query: dict[str, str] | None = None,
            authorization: str | None = None) -> WebhookRequest:
    headers = {"content-type": content_type}
    if authorization:
        headers["authorization"] = authorization
    return WebhookRequest(method="POST", path="/webhooks/email/sendgrid", headers=headers, body=body,
                          query=query if query is not None else {"token": TOKEN}, received_at=RECEIVED_AT)


def parsed_mode(**overrides: str) -> WebhookRequest:
    fields, files = provider_form("sendgrid_parsed.json", **overrides)
    return request(*form_data(fields, files))


def raw_mode(raw: bytes, **kwargs: Any) -> WebhookRequest:
    fields: list[tuple[str, str | bytes]] = [
        ("dkim", "{@gmail.com : pass}"), ("email", raw), ("to", "support@omnihub.example"),
        ("from", "Mario Rossi <Mario.Rossi@gmail.com>"), ("subject", "Invoice 2024-118 is wrong"),
        ("envelope", '{"to":["support@omnihub.example"],"from":"mario.rossi@gmail.com"}'),
        ("charsets", '{"to":"UTF-8","subject":"UTF-8","from":"UTF-8"}'), ("SPF", "pass"),
    ]
    return request(*form_data(fields), **kwargs)


# --- verification ------------------------------------------------------------------------------


def test_token_in_the_query_or_as_basic_auth_password() -> None:
    verify_sendgrid_token(parsed_mode(), SECRETS, NOW)
    basic = "Basic " + base64.b64encode(f"sendgrid:{TOKEN}".encode()).decode()
    verify_sendgrid_token(request("multipart/form-data; boundary=x", b"", query={}, authorization=basic), SECRETS, NOW)


@pytest.mark.parametrize(("query", "authorization"), [
    ({}, None),
    ({"token": TOKEN[:-1]}, None),
    ({"token": TOKEN + "x"}, None),
    ({}, "Basic " + base64.b64encode(b"sendgrid:wrong").decode()),
    ({}, "Basic " + base64.b64encode(TOKEN.encode()).decode()),  # no colon: the token is the user, not the password
    ({}, "Basic !!!not-base64"),
    ({}, "Bearer " + TOKEN),
])
def test_forged_requests_are_refused(query: dict[str, str], authorization: str | None) -> None:
    with pytest.raises(SignatureError):
        verify_sendgrid_token(request("multipart/form-data; boundary=x", b"", query=query,
                                      authorization=authorization), SECRETS, NOW)


def test_forged_is_403_and_stores_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryInbox()
    forged = replace(parsed_mode(), query={"token": "guess"})
    result = ingest(monkeypatch, CHANNEL, forged, secrets=SECRETS, store=store, now=NOW)
    assert result.response.status == 403 and store.items == {}
    unconfigured = ingest(monkeypatch, CHANNEL, parsed_mode(), secrets={}, store=store, now=NOW)
    assert unconfigured.response.status == 403 and store.items == {}


def test_a_body_over_the_cap_is_413_before_anything_else(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryInbox()
    big = request("multipart/form-data; boundary=x", b"x" * (MAX_BODY_BYTES + 1))
    result = ingest(monkeypatch, CHANNEL, big, secrets=SECRETS, store=store, now=NOW)
    assert result.response.status == 413 and store.items == {}


# --- parsing ------------------------------------------------------------------------------------


def test_parsed_mode_with_a_pdf_attachment(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryInbox()
    result = ingest(monkeypatch, CHANNEL, parsed_mode(), secrets=SECRETS, store=store, now=NOW)
    assert result.response.status == 200
    [event] = result.new_events
    assert event.provider == "sendgrid" and event.kind is EventKind.MESSAGE
    assert event.event_id == MESSAGE_ID
    assert event.sender is not None and event.sender.identity.address == "mario.rossi@gmail.com"
    assert event.text is not None and "118,00 € but my plan costs 98,00 €" in event.text
    assert event.metadata["mailbox"] == "support@omnihub.example"
    assert (event.metadata["spf"], event.metadata["dkim"]) == ("pass", "{@gmail.com : pass}")
    [attachment] = event.attachments
    assert (attachment.name, attachment.content_type, attachment.size) == ("invoice-2024-118.pdf",
                                                                           "application/pdf", 218)
    assert list(store.items) == [f"email#{MESSAGE_ID}"]


def test_raw_mode_is_the_same_mail_and_a_duplicate_of_the_parsed_one(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryInbox()
    first = ingest(monkeypatch, CHANNEL, parsed_mode(), secrets=SECRETS, store=store, now=NOW)
    second = ingest(monkeypatch, CHANNEL, raw_mode(eml("multipart_pdf.eml")), secrets=SECRETS, store=store, now=NOW)
    assert second.response.status == 200 and second.new_events == ()
    assert second.events[0].event_id == first.events[0].event_id
    assert second.events[0].attachments == first.events[0].attachments


def test_charsets_field_decodes_each_text_field() -> None:
    fields, files = provider_form("sendgrid_parsed.json", charsets='{"text":"iso-8859-1"}')
    fields = [(name, "Perch\xe9 costa 98 \xa4?".encode("latin-1") if name == "text" else value)
              for name, value in fields]
    delivery = read_sendgrid_email(request(*form_data(fields, files)))
    assert delivery.parsed.text == "Perché costa 98 ¤?"


def test_inline_images_from_content_ids() -> None:
    fields, files = provider_form(
        "sendgrid_parsed.json",
        **{"attachment-info": '{"attachment1":{"filename":"image001.png","type":"image/png","content-id":"ii_1"}}',
           "html": '<p>see</p><img src="cid:ii_1">'})
    files = [("attachment1", "image001.png", "image/png", b"\x89PNG\r\n\x1a\n")]
    delivery = read_sendgrid_email(request(*form_data(fields, files)))
    assert delivery.parsed.attachments == ()
    assert [i.content_id for i in delivery.parsed.inline_images] == ["ii_1"]


def test_out_of_office_through_raw_mode_is_flagged() -> None:
    [event] = parse_sendgrid_events(raw_mode(eml("out_of_office.eml")))
    assert event.metadata["auto_reply"] == "true"


def test_unreadable_forms_are_payload_errors() -> None:
    with pytest.raises(PayloadError):
        parse_sendgrid_events(request("application/json", b"{}"))
    with pytest.raises(PayloadError):
        parse_sendgrid_events(request("multipart/form-data", b"--x\r\n"))  # no boundary
    with pytest.raises(PayloadError):
        parse_sendgrid_events(request(*form_data([("subject", "no headers, no email")])))
    many = [(f"f{i}", "x") for i in range(MAX_FORM_FIELDS + 5)]
    with pytest.raises(PayloadError):
        parse_sendgrid_events(request(*form_data(many)))
