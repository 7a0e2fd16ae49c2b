"""What every Vonage Messages webhook carries, read the same way for inbound messages and statuses."""

from __future__ import annotations

from typing import Any

from chalicelib.core.model import Channel, EventKind, InboundEvent, ModelError
from chalicelib.core.timestamps import normalize_timestamp, utc_now
from chalicelib.providers.base import WebhookRequest, canonical_id

PROVIDER = "vonage"

CHANNEL_MAP: dict[str, tuple[Channel, str | None]] = {
    "sms": (Channel.SMS, None),
    "mms": (Channel.SMS, "mms"),
    "rcs": (Channel.SMS, "rcs"),
    "whatsapp": (Channel.WHATSAPP, None),
    "messenger": (Channel.MESSENGER, None),
    "instagram": (Channel.INSTAGRAM, None),
    "viber_service": (Channel.VIBER, None),
    "viber": (Channel.VIBER, None),
}


def text_value(value: Any) -> str | None:
    """A JSON scalar as stripped text (numbers in their JSON form); None when missing, empty, an object or a list."""
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def occurred_at(data: dict[str, Any], request: WebhookRequest) -> str:
    timestamp = text_value(data.get("timestamp"))
    if timestamp:
        try:
            return normalize_timestamp(timestamp)
        except ModelError:
            pass
    return request.received_at or utc_now()


def channel_of(data: dict[str, Any], metadata: dict[str, str]) -> Channel | None:
    raw = text_value(data.get("channel"))
    if raw:
        metadata["vonage_channel"] = raw
    channel, transport = CHANNEL_MAP.get((raw or "").lower(), (None, None))
    if transport:
        metadata["transport"] = transport
    return channel


def unknown_event(data: dict[str, Any], request: WebhookRequest, kind: str, metadata: dict[str, str]) -> InboundEvent:
    event_id = text_value(data.get("message_uuid")) or canonical_id(data, prefix="")  # ids stored so far
    return InboundEvent(
        provider=PROVIDER,
        event_id=event_id,
        kind=EventKind.UNKNOWN,
        channel=CHANNEL_MAP.get((text_value(data.get("channel")) or "").lower(), (Channel.SMS, None))[0],
        occurred_at=occurred_at(data, request),
        metadata={**metadata, "type": kind},
    )
