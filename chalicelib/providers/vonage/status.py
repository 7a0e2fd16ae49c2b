"""Vonage Messages status webhooks: one ``delivery_status`` event per transition of a message we sent."""

from __future__ import annotations

from typing import Any

from chalicelib.core.model import Channel, DeliveryStatus, EventKind, InboundEvent
from chalicelib.providers.base import PayloadError, WebhookRequest
from chalicelib.providers.vonage.fields import PROVIDER, channel_of, occurred_at, text_value

STATUS_MAP: dict[str, DeliveryStatus] = {
    "submitted": DeliveryStatus.SENT,  # handed to the carrier / WhatsApp / Viber
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "rejected": DeliveryStatus.FAILED,
    "undeliverable": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
}


def _error_code(error: Any, metadata: dict[str, str]) -> str | None:
    if not isinstance(error, dict):
        return text_value(error)
    for source, key in (("type", "error_type"), ("title", "error_title"), ("detail", "error_detail")):
        if text_value(error.get(source)):
            metadata[key] = str(error[source])
    title = text_value(error.get("title"))
    if title and title.isdigit():
        return title
    # The numeric code is also the fragment of the error type URL (…/messages#1300).
    fragment = (text_value(error.get("type")) or "").rpartition("#")[2]
    return fragment or title


def status_event(data: dict[str, Any], request: WebhookRequest) -> InboundEvent:
    message_uuid = text_value(data.get("message_uuid"))
    raw_status = (text_value(data.get("status")) or "").lower()
    if not message_uuid:
        raise PayloadError("message_uuid is required")
    metadata: dict[str, str] = {"vonage_status": raw_status}
    channel = channel_of(data, metadata) or Channel.SMS
    for source, key in (("to", "to"), ("from", "from"), ("client_ref", "client_ref")):
        if text_value(data.get(source)):
            metadata[key] = str(data[source])
    recipient = data.get("whatsapp", {}).get("recipient") if isinstance(data.get("whatsapp"), dict) else None
    if isinstance(recipient, dict) and text_value(recipient.get("user_id")):
        metadata["recipient_bsuid"] = str(recipient["user_id"])
    usage = data.get("usage")
    if isinstance(usage, dict):
        for source, key in (("price", "price"), ("currency", "currency")):
            if text_value(usage.get(source)):
                metadata[key] = str(usage[source])
    error_code = _error_code(data.get("error"), metadata)
    status = STATUS_MAP.get(raw_status)
    return InboundEvent(
        provider=PROVIDER,
        event_id=f"{message_uuid}#{raw_status}",
        kind=EventKind.DELIVERY_STATUS if status else EventKind.UNKNOWN,
        channel=channel,
        occurred_at=occurred_at(data, request),
        provider_message_id=message_uuid,
        status=status,
        error_code=error_code,
        metadata=metadata if status else {**metadata, "type": f"status:{raw_status}"},
    )
