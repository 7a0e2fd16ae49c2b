"""SendGrid Inbound Parse: ``POST /webhooks/email/sendgrid`` (``multipart/form-data``).

Follows "Setting Up The Inbound Parse Webhook" (SendGrid docs, for-developers/parsing-email): two
modes, chosen per hostname in SendGrid's settings.

- Parsed (default): fields ``headers`` (the raw header block), ``from``, ``to``, ``cc``, ``subject``,
  ``text``, ``html``, ``envelope`` (JSON ``{"to": [...], "from": "..."}``), ``charsets`` (JSON: the
  charset of each field, e.g. ``{"text": "iso-8859-1"}``), ``attachments`` (a count),
  ``attachment-info`` (JSON ``{"attachment1": {"filename", "type", "content-id"}}``), ``content-ids``
  (JSON ``{"<cid>": "attachment1"}``), ``SPF``, ``dkim``, ``spam_score``, and one file field per
  attachment (``attachment1``…).
- Raw ("POST the raw, full MIME message"): the whole message in the ``email`` field, with
  ``envelope``, ``charsets``, ``SPF``, ``dkim``.

Both go through the hub's one MIME path (:mod:`chalicelib.email.mime`), with the header block SendGrid
passes, so Message-ID, threading headers and loop signals are read the same way as for SES.

Verification: Inbound Parse does not sign posts with a shared secret, so the hub's URL carries one:
``SENDGRID_INBOUND_TOKEN`` as the ``token`` query parameter
(``https://hub.example/webhooks/email/sendgrid?token=…``) or as the password of HTTP basic auth in
the URL SendGrid posts to (``https://sendgrid:…@hub.example/…``; any user name). Compared in constant
time. Forged → 403: SendGrid retries only 5xx (older docs: 4xx too), so a forged post stops there.

Size: SendGrid accepts mail up to 20 MB, but a Lambda behind API Gateway receives at most ~6 MB
(binary bodies arrive base64-encoded): :data:`MAX_BODY_BYTES` refuses more with 413. For large mail,
receive through Amazon SES with the S3 action (up to 40 MB), which never passes through the webhook.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from chalicelib.core.model import InboundEvent
from chalicelib.core.timestamps import utc_now
from chalicelib.email.events import EmailDelivery, email_events, email_media
from chalicelib.email.formdata import Form, read_form
from chalicelib.email.headers import normalize_address, one_line
from chalicelib.email.mime import PartAttachment, parse_email, parse_email_parts
from chalicelib.email.parsed import ParsedEmail
from chalicelib.providers.base import (
    ChannelSpec,
    PayloadError,
    Secrets,
    SignatureError,
    WebhookRequest,
    constant_time_equal,
    require_secret,
)

PROVIDER = "sendgrid"
SECRET_NAME = "SENDGRID_INBOUND_TOKEN"
TOKEN_PARAMETER = "token"
# Lambda's 6 MB synchronous payload, less base64 (binary media types) and the event's envelope.
MAX_BODY_BYTES = 4 * 1024 * 1024


def verify_sendgrid_token(request: WebhookRequest, secrets: Secrets, now: float) -> None:
    """The token in ``?token=`` or in the basic-auth password must be ``SENDGRID_INBOUND_TOKEN``."""
    expected = require_secret(secrets, SECRET_NAME)
    given = request.query.get(TOKEN_PARAMETER) or _basic_auth_password(request.header("authorization"))
    if not given:
        raise SignatureError("missing token (query parameter or basic auth)")
    if not constant_time_equal(expected, given):
        raise SignatureError("token mismatch")


def _basic_auth_password(header: str | None) -> str | None:
    scheme, _, encoded = (header or "").strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    return decoded.partition(":")[2] or None


def read_sendgrid_email(request: WebhookRequest) -> EmailDelivery:
    """The mail SendGrid posted (raw or parsed mode), with its envelope and SPF/DKIM verdicts."""
    form = read_form(request.header("content-type"), request.body)
    charsets = _json_object(form.text("charsets"))
    envelope = _json_object(form.text("envelope"))
    recipients = [r for r in envelope.get("to", []) if isinstance(r, str)] if isinstance(
        envelope.get("to"), list) else []
    envelope_from = envelope.get("from") if isinstance(envelope.get("from"), str) else None
    raw = form.get("email")
    if raw is not None:
        parsed = parse_email(raw.value, envelope_recipients=recipients, envelope_sender=envelope_from)
    else:
        parsed = _parsed_mode(form, charsets, recipients, envelope_from)
    verdicts = {name: value for name, value in (
        ("spf", form.text("SPF")), ("dkim", form.text("dkim")), ("spam", form.text("spam_score"))) if value}
    return EmailDelivery(
        provider=PROVIDER,
        parsed=parsed,
        received_at=request.received_at or utc_now(),
        mailbox=normalize_address(recipients[0]) if recipients else None,
        verdicts=verdicts,
    )


def _parsed_mode(form: Form, charsets: dict[str, Any], recipients: list[str],
                 envelope_from: str | None) -> ParsedEmail:
    def field(name: str) -> str | None:
        charset = charsets.get(name) if isinstance(charsets.get(name), str) else "utf-8"
        return form.text(name, charset or "utf-8")

    headers = form.get("headers")
    if headers is None:
        raise PayloadError("neither an email field (raw mode) nor a headers field (parsed mode)")
    info = _json_object(form.text("attachment-info"))
    cids = {v: k for k, v in _json_object(form.text("content-ids")).items() if isinstance(v, str)}
    attachments = []
    for file in form.files():
        found = info.get(file.name)
        details: dict[str, Any] = found if isinstance(found, dict) else {}
        content_id = details.get("content-id") or cids.get(file.name)
        attachments.append(PartAttachment(
            content=file.value,
            filename=_str(details.get("filename")) or file.filename,
            content_type=_str(details.get("type")) or file.content_type,
            content_id=_str(content_id),
        ))
    return parse_email_parts(
        headers=headers.value,
        text=field("text"),
        html=field("html"),
        attachments=attachments,
        envelope_recipients=recipients,
        envelope_sender=envelope_from,
    )


def parse_sendgrid_events(request: WebhookRequest) -> list[InboundEvent]:
    return email_events(read_sendgrid_email(request))


def _json_object(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return one_line(value, limit=255) or None if isinstance(value, str) else None


def sendgrid_media(request: WebhookRequest) -> dict[str, bytes]:
    """The bytes of the mail's attachments, read again from the stored request (the worker keeps them)."""
    return email_media(read_sendgrid_email(request).parsed)


CHANNEL = ChannelSpec(
    provider=PROVIDER,
    secret_names=(SECRET_NAME,),
    verify=verify_sendgrid_token,
    parse=parse_sendgrid_events,
    max_body_bytes=MAX_BODY_BYTES,
    media=sendgrid_media,
    forged_status=403,
)
