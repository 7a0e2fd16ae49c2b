"""The generic signed channel (web chat and custom apps): ``POST /webhooks/api``.

Signature: ``X-Omnihub-Signature: v1=<hex HMAC-SHA256(secret, "{timestamp}.{raw body}")>`` with
``X-Omnihub-Timestamp`` in Unix seconds (ASCII digits), accepted within 300 s either way.

Attachment URLs are kept as metadata and never fetched by the hub, but whoever reads them later
might: only ``https`` URLs on a public-looking host name are accepted (no IP literal, no
``localhost``, no single-label intranet name, no credentials).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

from chalicelib.core.model import Attachment, Channel, EventKind, InboundEvent, ModelError, Sender
from chalicelib.providers.base import (
    ChannelSpec,
    LoneSurrogates,
    PayloadError,
    Secrets,
    SignatureError,
    WebhookRequest,
    constant_time_equal,
    identity_or_error,
    load_json,
    require_secret,
)

PROVIDER = "api"
SECRET_NAME = "OMNIHUB_API_SIGNING_SECRET"
TIMESTAMP_HEADER = "x-omnihub-timestamp"
SIGNATURE_HEADER = "x-omnihub-signature"
TOLERANCE_SECONDS = 300
_MAX_TIMESTAMP_DIGITS = 12  # Unix seconds until the year 33658; int() refuses over 4300 digits
# A last label that is all digits or hex (127.1, 0x7f.0.0.1): some resolvers read it as an IPv4 address.
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


def sign_api_payload(secret: str, timestamp: int | str, body: bytes) -> str:
    """The header value a sender puts in ``X-Omnihub-Signature``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"v1={mac}"


def verify_api_signature(request: WebhookRequest, secrets: Secrets, now: float) -> None:
    secret = require_secret(secrets, SECRET_NAME)
    timestamp = request.header(TIMESTAMP_HEADER)
    signature = request.header(SIGNATURE_HEADER)
    if not timestamp or not signature:
        raise SignatureError("missing X-Omnihub-Timestamp or X-Omnihub-Signature")
    # isdigit() alone accepts "²" and other Unicode digits, which int() then refuses.
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > _MAX_TIMESTAMP_DIGITS:
        raise SignatureError("X-Omnihub-Timestamp must be Unix seconds")
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        raise SignatureError("X-Omnihub-Timestamp is outside the 300 s tolerance")
    expected = sign_api_payload(secret, timestamp, request.body)
    # Several comma-separated signatures allow a secret rotation on the sender's side.
    if not any(constant_time_equal(expected, candidate.strip()) for candidate in signature.split(",")):
        raise SignatureError("signature mismatch")


def _text_or_none(value: Any, field_name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PayloadError(f"{field_name} must be a string")
    return value


def _public_https_url(url: str, field_name: str) -> str:
    """The URL when it is https on a public-looking host name; PayloadError otherwise."""
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower().rstrip(".")
        _ = parts.port  # raises ValueError on a port that is not a number
    except ValueError as err:
        raise PayloadError(f"{field_name} is not a URL") from err
    if parts.scheme.lower() != "https":
        raise PayloadError(f"{field_name} must be an https URL")
    if parts.username is not None or parts.password is not None:
        raise PayloadError(f"{field_name} must not carry credentials")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        raise PayloadError(f"{field_name} must name a host, not an IP address")
    labels = host.split(".")
    if len(labels) < 2 or not all(labels) or labels[-1] == "localhost" or _NUMERIC_LABEL.match(labels[-1]):
        raise PayloadError(f"{field_name} must be on a public host name")
    return url.strip()


def parse_api_event(request: WebhookRequest) -> list[InboundEvent]:
    data = load_json(request.body)
    if not isinstance(data, dict):
        raise PayloadError("body must be a JSON object")
    event_id = data.get("event_id")
    if not isinstance(event_id, str) or not event_id.strip():
        raise PayloadError("event_id is required and must be a non-empty string")
    if data.get("type") != "message":
        raise PayloadError("type must be \"message\"")
    sender = data.get("from")
    if not isinstance(sender, dict) or not isinstance(sender.get("id"), str | int) or sender.get("id") == "":
        raise PayloadError("from.id is required")
    text = _text_or_none(data.get("text"), "text")
    raw_attachments = data.get("attachments") or []
    if not isinstance(raw_attachments, list):
        raise PayloadError("attachments must be a list")
    attachments = []
    for index, item in enumerate(raw_attachments):
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            raise PayloadError(f"attachments[{index}].url is required")
        content_type = _text_or_none(item.get("content_type"), f"attachments[{index}].content_type")
        attachments.append(
            Attachment(
                kind=(content_type or "file").split("/")[0] if content_type else "file",
                url=_public_https_url(item["url"], f"attachments[{index}].url"),
                content_type=content_type,
                name=_text_or_none(item.get("name"), f"attachments[{index}].name"),
            )
        )
    email = _text_or_none(sender.get("email"), "from.email")
    try:
        return [
            InboundEvent(
                provider=PROVIDER,
                event_id=event_id.strip(),
                kind=EventKind.MESSAGE,
                channel=Channel.WEBCHAT,
                occurred_at=_text_or_none(data.get("sent_at"), "sent_at") or request.received_at,
                sender=Sender(
                    identity=identity_or_error(Channel.WEBCHAT, str(sender["id"])),
                    name=_text_or_none(sender.get("name"), "from.name"),
                    email=email.lower() if email else None,
                    phone=_text_or_none(sender.get("phone"), "from.phone"),
                    language=_text_or_none(sender.get("language"), "from.language"),
                ),
                text=text,
                attachments=tuple(attachments),
            )
        ]
    except ModelError as err:
        raise PayloadError(str(err)) from err


CHANNEL = ChannelSpec(
    provider=PROVIDER,
    secret_names=(SECRET_NAME,),
    verify=verify_api_signature,
    parse=parse_api_event,
    # The integrator's own app sends this channel: a 400 with the reason tells it to fix its encoder,
    # and a replaced event_id or from.id could merge two distinct events or customers.
    lone_surrogates=LoneSurrogates.REFUSE,
)
