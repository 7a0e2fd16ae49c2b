"""Postmark's delivery feedback for mail the hub sent: ``POST /webhooks/email/postmark/events`` (JSON).

Follows Postmark's "Bounce webhook", "Spam complaint webhook" and "Delivery webhook"
(postmarkapp.com/developer/webhooks): one JSON object per post, told apart by ``RecordType``:

- ``Bounce``: ``ID``, ``Type`` (``HardBounce``, ``SoftBounce``, ``Transient``, ``BadEmailAddress``,
  ``AutoResponder``, ...), ``TypeCode``, ``MessageID`` (the id the send API answered, which the Postmark
  sender stored as the provider message id), ``Email``, ``BouncedAt``, ``Description``;
- ``SpamComplaint``: the same fields, ``Type: "SpamComplaint"``;
- ``Delivery``: ``MessageID``, ``Recipient``, ``DeliveredAt``.

Each becomes one ``delivery_status`` event on the outbound message the ``MessageID`` names; a hard
bounce (:data:`HARD_BOUNCES`) or a complaint is marked ``provider_feedback`` so the worker withdraws
the recipient's email consent (core/consent.py ``feedback_consent``); a soft bounce only fails the message.

Verification: the same basic auth as inbound (``POSTMARK_INBOUND_USER``/``POSTMARK_INBOUND_PASSWORD``
in the webhook URL), 403 when wrong (Postmark stops retrying on 403).
"""

from __future__ import annotations

import hashlib
from typing import Any

from chalicelib.core.model import Channel, DeliveryStatus, EventKind, InboundEvent, ModelError
from chalicelib.core.timestamps import normalize_timestamp, utc_now
from chalicelib.email.headers import normalize_address, one_line
from chalicelib.providers.base import ChannelSpec, PayloadError, WebhookRequest, json_string, load_json
from chalicelib.providers.postmark import PASSWORD_SECRET, PROVIDER, USER_SECRET, verify_postmark_basic_auth

MAX_BODY_BYTES = 256 * 1024  # a bounce carries a dump of at most a few dozen kilobytes
# The bounce types after which Postmark deactivates the address: the recipient cannot be reached.
HARD_BOUNCES = frozenset({"HardBounce", "BadEmailAddress", "ManuallyDeactivated", "Blocked"})
NOT_FAILURES = frozenset({"AutoResponder", "OpenRelayTest", "Subscribe", "Unsubscribe"})


def parse_postmark_feedback(request: WebhookRequest) -> list[InboundEvent]:
    record = load_json(request.body)
    if not isinstance(record, dict):
        raise PayloadError("a Postmark webhook is a JSON object")
    record_type = json_string(record.get("RecordType")) or ""
    message_id = (json_string(record.get("MessageID")) or "").strip()
    base: dict[str, Any] = {"provider": PROVIDER, "channel": Channel.EMAIL}
    if record_type not in ("Bounce", "SpamComplaint", "Delivery") or not message_id:
        return [InboundEvent(event_id=f"postmark-event#{_record_id(record, request)}", kind=EventKind.UNKNOWN,
                             occurred_at=request.received_at or utc_now(),
                             metadata={"record_type": one_line(record_type, limit=100)}, **base)]
    metadata: dict[str, str] = {"record_type": record_type, "provider_feedback": "true"}
    error_code = None
    if record_type == "Delivery":
        status, at = DeliveryStatus.DELIVERED, record.get("DeliveredAt")
        event_id = f"delivery#{message_id}#{normalize_address(json_string(record.get('Recipient')) or '') or ''}"
    else:
        kind = json_string(record.get("Type")) or ""
        recipient = normalize_address(json_string(record.get("Email")) or "") or ""
        at, event_id = record.get("BouncedAt"), f"{record_type.lower()}#{_record_id(record, request)}"
        if record_type == "SpamComplaint":
            status = DeliveryStatus.DELIVERED  # it arrived; the recipient objected, consent acts on it
            metadata.update(complaint="true", complaint_type=kind, complaint_recipient=recipient)
        else:
            status = DeliveryStatus.DELIVERED if kind in NOT_FAILURES else DeliveryStatus.FAILED
            error_code = kind or "bounce"
            metadata.update(bounce="hard" if kind in HARD_BOUNCES else "soft", bounce_type=kind,
                            bounce_recipient=recipient,
                            bounce_diagnostic=json_string(record.get("Description")) or "")
    return [InboundEvent(
        event_id=event_id[:512], kind=EventKind.DELIVERY_STATUS, provider_message_id=message_id[:200],
        status=status, error_code=error_code, occurred_at=_timestamp(at, request.received_at),
        metadata={k: one_line(v, limit=500) for k, v in metadata.items() if v}, **base,
    )]


def _record_id(record: dict[str, Any], request: WebhookRequest) -> str:
    value = record.get("ID")
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return hashlib.sha256(request.body).hexdigest()[:32]  # no id: the same post is the same event


def _timestamp(value: Any, fallback: str) -> str:
    text = json_string(value)
    try:
        return normalize_timestamp(text) if text else (fallback or utc_now())
    except ModelError:
        return fallback or utc_now()


CHANNEL = ChannelSpec(
    provider=PROVIDER,
    secret_names=(USER_SECRET, PASSWORD_SECRET),
    verify=verify_postmark_basic_auth,
    parse=parse_postmark_feedback,
    max_body_bytes=MAX_BODY_BYTES,
    forged_status=403,
)
