"""What every Meta product parser shares: reading ids, timestamps and media URLs, building events.

Every Meta event is filed under the provider ``meta`` whatever the product (WhatsApp, Messenger,
Instagram): the product's ids never collide, and one provider name keeps one inbox key space.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.core.media import is_provider_media_url
from chalicelib.core.model import Channel, EventKind, InboundEvent, ModelError, Sender
from chalicelib.providers.base import (
    PayloadError,
    WebhookRequest,
    canonical_id,
    epoch_to_timestamp,
    identity_or_error,
    unreadable_reason,
)

PROVIDER = "meta"

# Meta's own CDNs: WhatsApp media download URLs (lookaside.fbsbx.com), Messenger attachments
# (*.fbcdn.net), Instagram attachments (lookaside.fbsbx.com, *.cdninstagram.com).
META_MEDIA_HOSTS = ("fbsbx.com", "fbcdn.net", "cdninstagram.com", "whatsapp.net")


def scalar_text(value: Any) -> str | None:
    """A JSON scalar as a string (ids arrive as strings or numbers), or None."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return text if text else None


def event_time(epoch: Any, request: WebhookRequest, *, millis: bool = False) -> str:
    # Meta always sends a timestamp, but it only dates the event (the dedupe key is the id): a
    # missing or absurd one (NaN, 1e30) falls back to the reception time rather than lose the event.
    return epoch_to_timestamp(epoch, millis=millis, fallback=request.received_at)


def put(metadata: dict[str, str], key: str, value: Any) -> None:
    text = scalar_text(value)
    if text is not None:
        metadata[key] = text


def meta_media_url(url: Any, metadata: dict[str, str]) -> str | None:
    """Keep a media URL only on Meta's own hosts (the hub may fetch it later: no SSRF)."""
    if not isinstance(url, str) or not url:
        return None
    if is_provider_media_url(url, META_MEDIA_HOSTS):
        return url
    metadata["dropped_media_url"] = "true"
    return None


def build_event(**fields: Any) -> InboundEvent:
    try:
        return InboundEvent(provider=PROVIDER, **fields)
    except ModelError as err:
        raise PayloadError(str(err)) from err


def unknown_event(channel: Channel, event_id: str, occurred_at: str, event_type: str,
                  metadata: dict[str, str] | None = None) -> InboundEvent:
    return build_event(event_id=event_id, kind=EventKind.UNKNOWN, channel=channel, occurred_at=occurred_at,
                       metadata={**(metadata or {}), "type": event_type})


def epoch_event_time(epoch: Any, request: WebhookRequest) -> str:
    """Seconds or milliseconds, told apart by size: Meta's ``changes`` date some values in one, some in the other."""
    millis = isinstance(epoch, int | float) and not isinstance(epoch, bool) and epoch > 10**11
    return event_time(epoch, request, millis=millis)


def sender_or_reason(channel: Channel, sender_id: str | None, metadata: dict[str, str],
                     name: str | None = None) -> Sender | None:
    """The customer who acted, or None with the reason in ``metadata`` when the id does not fit the model."""
    if not sender_id:
        return None
    try:
        return Sender(identity=identity_or_error(channel, sender_id), name=name)
    except PayloadError as err:
        metadata.update(unreadable_reason(err))
        return None


def guarded_many(channel: Channel, base: dict[str, str], item: Any, request: WebhookRequest,
                 build: Callable[..., list[InboundEvent]], *args: Any) -> list[InboundEvent]:
    """Like :func:`guarded` for an item that yields several events (a delivery receipt names many messages)."""
    try:
        return build(*args)
    except PayloadError as err:
        return [unknown_event(channel, canonical_id([base, item]), request.received_at, "invalid_event",
                              {**base, **unreadable_reason(err)})]


def guarded(channel: Channel, base: dict[str, str], item: Any, request: WebhookRequest,
            build: Callable[..., InboundEvent | None], *args: Any) -> InboundEvent | None:
    """``build(*args)``: one event of a batch; one that cannot be read is kept as UNKNOWN, the POST still succeeds."""
    try:
        return build(*args)
    except PayloadError as err:
        return unknown_event(channel, canonical_id([base, item]), request.received_at, "invalid_event",
                             {**base, **unreadable_reason(err)})
