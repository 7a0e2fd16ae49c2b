"""Messenger and Instagram entries (``object: page`` / ``instagram``): ``messaging[]`` events."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.core.model import (
    Attachment,
    Channel,
    EventKind,
    InboundEvent,
    Sender,
)
from chalicelib.providers.base import (
    PayloadError,
    WebhookRequest,
    as_dict,
    as_list,
    canonical_id,
    identity_or_error,
    unreadable_reason,
)
from chalicelib.providers.meta.fields import (
    date_of,
    guarded,
    media_url,
    meta_event,
    put,
    text_of,
    unknown_event,
)


def _messaging_event(item: dict[str, Any], channel: Channel, base: dict[str, str],
                     request: WebhookRequest) -> InboundEvent | None:
    occurred_at = date_of(item.get("timestamp"), request, millis=True)
    sender_id = text_of(as_dict(item.get("sender")).get("id"))
    metadata = dict(base)
    put(metadata, "recipient_id", as_dict(item.get("recipient")).get("id"))
    sender = None
    if sender_id:
        try:
            sender = Sender(identity=identity_or_error(channel, sender_id))
        except PayloadError as err:
            metadata.update(unreadable_reason(err))
    message = item.get("message")
    postback = item.get("postback")
    if isinstance(message, dict):
        if message.get("is_echo"):
            return None  # our own outbound message
        message_id = text_of(message.get("mid"))
        put(metadata, "reply_to", as_dict(message.get("reply_to")).get("mid"))
        put(metadata, "quick_reply_payload", as_dict(message.get("quick_reply")).get("payload"))
        attachments = []
        for attachment in map(as_dict, as_list(message.get("attachments"))):
            kind = text_of(attachment.get("type")) or "file"
            url = media_url(as_dict(attachment.get("payload")).get("url"), metadata)
            attachments.append(Attachment(kind=kind, url=url))
        text = text_of(message.get("text"))
        if message_id and sender and (text or attachments):
            metadata["message_type"] = "message"
            return meta_event(event_id=message_id, kind=EventKind.MESSAGE, channel=channel, occurred_at=occurred_at,
                          sender=sender, text=text,
                          attachments=tuple(attachments), provider_message_id=message_id, metadata=metadata)
        if message_id and sender_id and sender is None:  # Meta's id still dedupes it
            return unknown_event(channel, message_id, occurred_at, "message", metadata)
    elif isinstance(postback, dict) and sender:
        put(metadata, "postback_payload", postback.get("payload"))
        metadata["message_type"] = "postback"
        title = text_of(postback.get("title")) or text_of(postback.get("payload"))
        event_id = text_of(postback.get("mid")) or canonical_id([base, item])
        if title:
            return meta_event(event_id=event_id, kind=EventKind.MESSAGE, channel=channel, occurred_at=occurred_at,
                          sender=sender, text=title, metadata=metadata)
    # delivery, read, reaction, referral, optin, ... or a message with nothing in it.
    event_type = next((key for key in item if key not in ("sender", "recipient", "timestamp")), "unknown")
    return unknown_event(channel, canonical_id([base, item]), occurred_at, event_type, metadata)


def messaging_entry_parser(channel: Channel, object_name: str
                            ) -> Callable[[dict[str, Any], WebhookRequest], list[InboundEvent]]:
    def parse_entry(entry: dict[str, Any], request: WebhookRequest) -> list[InboundEvent]:
        base: dict[str, str] = {"object": object_name}
        put(base, "page_id", entry.get("id"))
        events: list[InboundEvent] = []
        for item in as_list(entry.get("messaging")):
            event = guarded(channel, base, item, request, _messaging_event, as_dict(item), channel, base, request)
            if event is not None:
                events.append(event)
        for change in as_list(entry.get("changes")):  # comments, mentions, feed: not conversations yet
            change = as_dict(change)
            field = text_of(change.get("field")) or "unknown"
            events.append(unknown_event(channel, canonical_id([entry.get("id"), change]),
                                   date_of(entry.get("time"), request, millis=True), field,
                                   {**base, "field": field}))
        return events

    return parse_entry
