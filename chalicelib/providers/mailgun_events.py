"""Mailgun's event webhooks for mail the hub sent: ``POST /webhooks/email/mailgun/events`` (JSON).

Follows Mailgun's "Webhooks" (documentation.mailgun.com, user-manual/events/webhooks): one JSON object
``{"signature": {"timestamp", "token", "signature"}, "event-data": {...}}`` per post. ``event-data``
carries ``event`` (``delivered``, ``failed`` with ``severity`` ``permanent``/``temporary``,
``complained``), ``id``, ``timestamp``, ``recipient``, ``reason``, ``delivery-status`` (``code``,
``description``) and ``message.headers.message-id`` — the id the send API answered (without angle
brackets), which the Mailgun sender stored as the provider message id.

Signature as for routes (:mod:`chalicelib.providers.mailgun`): hex(HMAC-SHA256(``MAILGUN_SIGNING_KEY``,
``timestamp`` + ``token``)), the timestamp within the tolerance, each token claimed once (same claim
keys as routes, so a token seen on one endpoint cannot be replayed on the other). Forged → 406, the
status on which Mailgun stops retrying.

Each becomes one ``delivery_status`` event: ``failed`` → failed (a ``permanent`` one is a hard bounce,
withdrawing the recipient's email consent through core/consent.py; a ``temporary`` one is soft),
``complained`` → delivered plus the complaint (consent withdrawn), ``delivered`` → delivered.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core.model import Channel, DeliveryStatus, EventKind, InboundEvent
from chalicelib.core.timestamps import utc_now
from chalicelib.email.headers import normalize_address, one_line
from chalicelib.providers.base import (
    ChannelSpec,
    PayloadError,
    ReplayClaim,
    Secrets,
    SignatureError,
    WebhookRequest,
    as_dict,
    json_string,
    load_json,
    require_secret,
)
from chalicelib.providers.mailgun import (
    PROVIDER,
    SECRET_NAME,
    checked_signature_fields,
    replay_claim_for,
    verify_signature_fields,
)

MAX_BODY_BYTES = 256 * 1024  # one event: headers and a delivery status, a few kilobytes
_STATUS = {"delivered": DeliveryStatus.DELIVERED, "failed": DeliveryStatus.FAILED,
           "complained": DeliveryStatus.DELIVERED}


def _document(request: WebhookRequest) -> dict[str, Any]:
    document = load_json(request.body)
    if not isinstance(document, dict):
        raise PayloadError("a Mailgun webhook is a JSON object")
    return document


def _signature_fields(request: WebhookRequest) -> tuple[str, str, str]:
    try:
        block = as_dict(_document(request).get("signature"))
    except PayloadError as err:
        raise SignatureError("unreadable body") from err
    timestamp, token, signature = (json_string(block.get(name)) or "" for name in ("timestamp", "token", "signature"))
    if isinstance(block.get("timestamp"), int) and not isinstance(block.get("timestamp"), bool):
        timestamp = str(block["timestamp"])
    return checked_signature_fields(timestamp, token, signature)


def verify_mailgun_event(request: WebhookRequest, secrets: Secrets, now: float) -> None:
    key = require_secret(secrets, SECRET_NAME)
    verify_signature_fields(request, key, _signature_fields(request), now)


def mailgun_event_replay_claim(request: WebhookRequest) -> ReplayClaim:
    timestamp, token, _ = _signature_fields(request)
    return replay_claim_for(request, timestamp, token)


def parse_mailgun_feedback(request: WebhookRequest) -> list[InboundEvent]:
    data = as_dict(_document(request).get("event-data"))
    event = json_string(data.get("event")) or ""
    headers = as_dict(as_dict(data.get("message")).get("headers"))
    message_id = (json_string(headers.get("message-id")) or "").strip().strip("<>")
    event_id = (json_string(data.get("id")) or "")[:200]
    base: dict[str, Any] = {"provider": PROVIDER, "channel": Channel.EMAIL, "occurred_at": _timestamp(data, request)}
    if event not in _STATUS or not message_id or not event_id:
        return [InboundEvent(event_id=f"mailgun-event#{event_id or mailgun_event_replay_claim(request).key}",
                             kind=EventKind.UNKNOWN, metadata={"event": one_line(event, limit=100)}, **base)]
    recipient = normalize_address(json_string(data.get("recipient")) or "") or ""
    metadata: dict[str, str] = {"event": event, "provider_feedback": "true"}
    error_code = None
    if event == "failed":
        severity = json_string(data.get("severity")) or ""
        delivery = as_dict(data.get("delivery-status"))
        code = delivery.get("code")
        error_code = str(code) if isinstance(code, int) and not isinstance(code, bool) else (
            json_string(data.get("reason")) or "failed")
        metadata.update(bounce="hard" if severity == "permanent" else "soft", bounce_type=severity,
                        bounce_recipient=recipient, bounce_subtype=json_string(data.get("reason")) or "",
                        bounce_diagnostic=json_string(delivery.get("description"))
                        or json_string(delivery.get("message")) or "")
    elif event == "complained":
        metadata.update(complaint="true", complaint_recipient=recipient)
    return [InboundEvent(
        event_id=f"{event}#{event_id}", kind=EventKind.DELIVERY_STATUS, provider_message_id=message_id[:200],
        status=_STATUS[event], error_code=error_code,
        metadata={k: one_line(v, limit=500) for k, v in metadata.items() if v}, **base,
    )]


def _timestamp(data: dict[str, Any], request: WebhookRequest) -> str:
    from datetime import UTC, datetime

    value = data.get("timestamp")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 32_503_680_000:
        moment = datetime.fromtimestamp(float(value), UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return request.received_at or utc_now()


CHANNEL = ChannelSpec(
    provider=PROVIDER,
    secret_names=(SECRET_NAME,),
    verify=verify_mailgun_event,
    parse=parse_mailgun_feedback,
    max_body_bytes=MAX_BODY_BYTES,
    replay_claim=mailgun_event_replay_claim,
    forged_status=406,
)
