"""SendGrid's Event Webhook for mail the hub sent: ``POST /webhooks/email/sendgrid/events`` (JSON array).

Follows SendGrid's "Event Webhook" reference (docs.sendgrid.com, for-developers/tracking-events): one
post is a JSON array of events, each with ``event``, ``email``, ``timestamp`` (Unix seconds),
``sg_event_id``, ``sg_message_id`` (the ``X-Message-Id`` the send API answered, which the SendGrid sender
stored, followed by ``.filter...``: the part before the first ``.`` is ours) and the ``custom_args``
echoed at top level. Delivery events: ``delivered``; ``bounce`` with ``type`` ``bounce`` (hard) or
``blocked`` (the receiving server refused this time); ``dropped``; ``spamreport``.

Signature ("Event Webhook Security"): ``X-Twilio-Email-Event-Webhook-Signature`` is base64 of a DER
ECDSA P-256 / SHA-256 signature over ``X-Twilio-Email-Event-Webhook-Timestamp`` + the raw body, checked
with ``SENDGRID_EVENT_PUBLIC_KEY`` (base64 DER SubjectPublicKeyInfo, as SendGrid shows it). Forged → 403.
No timestamp window: SendGrid retries for up to 72 hours; each event is stored once by ``sg_event_id``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key

from chalicelib.core.model import Channel, DeliveryStatus, EventKind, InboundEvent
from chalicelib.core.timestamps import utc_now
from chalicelib.email.headers import normalize_address, one_line
from chalicelib.providers.base import (
    ChannelSpec,
    PayloadError,
    Secrets,
    SignatureError,
    WebhookRequest,
    as_dict,
    epoch_to_timestamp,
    json_string,
    load_json,
    require_secret,
)
from chalicelib.providers.sendgrid import PROVIDER

PUBLIC_KEY_SECRET = "SENDGRID_EVENT_PUBLIC_KEY"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
MAX_BODY_BYTES = 1024 * 1024  # SendGrid batches events into posts of up to ~1,000 events / a few hundred KB
MAX_EVENTS = 2000
_STATUS = {"delivered": DeliveryStatus.DELIVERED, "bounce": DeliveryStatus.FAILED,
           "dropped": DeliveryStatus.FAILED, "spamreport": DeliveryStatus.DELIVERED}


def verify_sendgrid_event(request: WebhookRequest, secrets: Secrets, now: float) -> None:
    del now  # SendGrid retries for days; duplicates are absorbed by sg_event_id, not by a window
    key_text = require_secret(secrets, PUBLIC_KEY_SECRET)
    signature, timestamp = request.header(SIGNATURE_HEADER) or "", request.header(TIMESTAMP_HEADER) or ""
    if not signature or not timestamp or len(signature) > 200 or len(timestamp) > 20:
        raise SignatureError("missing or malformed signature headers")
    try:
        key = load_der_public_key(base64.b64decode(key_text.strip(), validate=True))
        der = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError, UnsupportedAlgorithm) as err:
        raise SignatureError("unreadable key or signature") from err
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise SignatureError("the configured key is not a P-256 key")
    try:
        key.verify(der, timestamp.encode() + request.body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError) as err:
        raise SignatureError("signature mismatch") from err


def parse_sendgrid_feedback(request: WebhookRequest) -> list[InboundEvent]:
    document = load_json(request.body)
    if not isinstance(document, list):
        raise PayloadError("a SendGrid event post is a JSON array")
    if len(document) > MAX_EVENTS:
        raise PayloadError("too many events in one post")
    return [_event(as_dict(item), index, request) for index, item in enumerate(document)]


def _event(data: dict[str, Any], index: int, request: WebhookRequest) -> InboundEvent:
    event = json_string(data.get("event")) or ""
    message_id = (json_string(data.get("sg_message_id")) or "").strip().split(".", 1)[0]
    event_id = (json_string(data.get("sg_event_id")) or "")[:200]
    base: dict[str, Any] = {"provider": PROVIDER, "channel": Channel.EMAIL,
                            "occurred_at": epoch_to_timestamp(data.get("timestamp"),
                                                              fallback=request.received_at or utc_now())}
    if event not in _STATUS or not message_id or not event_id:
        fallback_id = event_id or f"{hashlib.sha256(request.body).hexdigest()[:32]}#{index}"
        return InboundEvent(event_id=f"sendgrid-event#{fallback_id}", kind=EventKind.UNKNOWN,
                            metadata={"event": one_line(event, limit=100)}, **base)
    recipient = normalize_address(json_string(data.get("email")) or "") or ""
    metadata: dict[str, str] = {"event": event, "provider_feedback": "true",
                                "outbound_id": json_string(data.get("outbound_id")) or "",
                                "conversation_id": json_string(data.get("conversation_id")) or ""}
    error_code = None
    if event in ("bounce", "dropped"):
        bounce_type = json_string(data.get("type")) or ("dropped" if event == "dropped" else "bounce")
        # Only a bounce of type "bounce" says the address does not exist; "blocked" and "dropped" say
        # this message did not go (a refusing server, a suppression list) and withdraw nothing.
        hard = event == "bounce" and bounce_type == "bounce"
        error_code = json_string(data.get("status")) or bounce_type
        metadata.update(bounce="hard" if hard else "soft", bounce_type=bounce_type, bounce_recipient=recipient,
                        bounce_diagnostic=json_string(data.get("reason")) or "")
    elif event == "spamreport":
        metadata.update(complaint="true", complaint_recipient=recipient)
    return InboundEvent(
        event_id=f"{event}#{event_id}", kind=EventKind.DELIVERY_STATUS, provider_message_id=message_id[:200],
        status=_STATUS[event], error_code=error_code,
        metadata={k: one_line(v, limit=500) for k, v in metadata.items() if v}, **base,
    )


CHANNEL = ChannelSpec(
    provider=PROVIDER,
    secret_names=(PUBLIC_KEY_SECRET,),
    verify=verify_sendgrid_event,
    parse=parse_sendgrid_feedback,
    max_body_bytes=MAX_BODY_BYTES,
    forged_status=403,
)
