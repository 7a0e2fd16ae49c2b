"""LINE Messaging API webhooks: ``POST /webhooks/line``.

Signature: ``x-line-signature: base64(HMAC-SHA256(channel secret, raw body))``. The body is
``{"destination": "<bot user id>", "events": [...]}``; one POST may carry several events, each
with its own ``webhookEventId`` (a ULID, the dedupe key: a redelivered event keeps its id and
says ``deliveryContext.isRedelivery: true``). The console's "Verify" button and the
webhook-test endpoint POST a correctly signed body with an empty ``events`` list and expect 200:
no handshake is needed, the signature is checked like on any delivery and the empty batch stores
nothing. Nothing is parsed before the signature checks out.

Media sent by users stays on LINE (``contentProvider.type == "line"``): the hub keeps the message
id as ``media_id`` (content at ``https://api-data.line.me/v2/bot/message/{id}/content`` with the
channel access token). ``external`` content points wherever the sending app chose, so its URL is
kept only when it is on LINE's own hosts.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from chalicelib.core.media import is_provider_media_url
from chalicelib.core.model import (
    Attachment,
    Channel,
    EventKind,
    InboundEvent,
    ModelError,
    Sender,
)
from chalicelib.providers.base import (
    ChannelSpec,
    LoneSurrogates,
    PayloadError,
    Secrets,
    SignatureError,
    WebhookRequest,
    WebhookResponse,
    as_dict,
    canonical_id,
    constant_time_equal,
    epoch_to_timestamp,
    hmac_sha256,
    identity_or_error,
    json_string,
    load_json,
    require_secret,
    unreadable_reason,
)

PROVIDER = "line"
SECRET_NAME = "LINE_CHANNEL_SECRET"
SIGNATURE_HEADER = "x-line-signature"
# Hosts LINE serves content from; an ``external`` contentProvider URL elsewhere is dropped.
LINE_MEDIA_HOSTS = ("line.me", "line-scdn.net")

# LINE event type → the lifecycle name the hub records (follow/unfollow of the account, the bot
# joining or leaving a group, members coming and going, a user unsending a message).
_LIFECYCLE_EVENTS = {
    "follow": "follow",
    "unfollow": "unfollow",
    "join": "join",
    "leave": "leave",
    "memberJoined": "member_joined",
    "memberLeft": "member_left",
    "unsend": "unsend",
}

_MEDIA_KINDS = {"image": "image", "video": "video", "audio": "audio"}


def sign_line_body(channel_secret: str, body: bytes) -> str:
    """The ``x-line-signature`` value LINE sends with ``body``."""
    return base64.b64encode(hmac_sha256(channel_secret, body)).decode("ascii")


def verify_line_signature(request: WebhookRequest, secrets: Secrets, now: float) -> None:
    secret = require_secret(secrets, SECRET_NAME)
    signature = request.header(SIGNATURE_HEADER)
    if not signature:
        raise SignatureError("missing x-line-signature")
    if not constant_time_equal(sign_line_body(secret, request.body), signature.strip()):
        raise SignatureError("x-line-signature mismatch")


def _load_body(request: WebhookRequest) -> dict[str, Any]:
    data = load_json(request.body)
    if not isinstance(data, dict):
        raise PayloadError("body must be a JSON object")
    events = data.get("events")
    if not isinstance(events, list):
        raise PayloadError("events must be a list")
    return data


def _event_id(event: dict[str, Any]) -> str:
    webhook_event_id = json_string(event.get("webhookEventId"))
    if webhook_event_id:
        return webhook_event_id
    # Payloads from before webhookEventId existed (or a malformed one): a stable content hash,
    # so a redelivery of the same bytes still dedupes.
    return canonical_id(event)


def _occurred_at(event: dict[str, Any], fallback: str) -> str:
    # The timestamp only dates the event (webhookEventId dedupes it): a missing or absurd one
    # (NaN, 1e30) falls back to the reception time rather than lose the event.
    return epoch_to_timestamp(event.get("timestamp"), millis=True, fallback=fallback)


def _source(event: dict[str, Any]) -> tuple[Sender | None, dict[str, str]]:
    """The user (or, when LINE gives no user, the group or room) the event comes from."""
    source = event.get("source")
    if not isinstance(source, dict):
        return None, {}
    metadata: dict[str, str] = {}
    source_type = json_string(source.get("type"))
    if source_type:
        metadata["source_type"] = source_type
    for key, meta_key in (("groupId", "group_id"), ("roomId", "room_id")):
        value = json_string(source.get(key))
        if value:
            metadata[meta_key] = value
    address = json_string(source.get("userId")) or metadata.get("group_id") or metadata.get("room_id")
    if not address:
        return None, metadata
    return Sender(identity=identity_or_error(Channel.LINE, address)), metadata


def _common_metadata(payload: dict[str, Any], event: dict[str, Any], event_type: str) -> dict[str, str]:
    metadata: dict[str, str] = {"type": event_type}
    destination = json_string(payload.get("destination"))
    if destination:
        metadata["destination"] = destination
    mode = json_string(event.get("mode"))
    if mode:
        # "standby": another module channel holds the chat; the hub must not reply.
        metadata["mode"] = mode
    context = event.get("deliveryContext")
    if isinstance(context, dict) and isinstance(context.get("isRedelivery"), bool):
        metadata["is_redelivery"] = "true" if context["isRedelivery"] else "false"
    return metadata


def _external_url(content: dict[str, Any], metadata: dict[str, str]) -> str | None:
    provider = content.get("contentProvider")
    if not isinstance(provider, dict):
        return None
    provider_type = json_string(provider.get("type"))
    if provider_type:
        metadata["content_provider"] = provider_type
    url = json_string(provider.get("originalContentUrl"))
    if provider_type != "external" or not url:
        return None
    if is_provider_media_url(url, LINE_MEDIA_HOSTS):
        return url
    metadata["dropped_media_url"] = "true"
    return None


def _message_parts(
    message: dict[str, Any], metadata: dict[str, str]
) -> tuple[str | None, tuple[Attachment, ...]] | None:
    """(text, attachments) of a message event; None for a message type the hub does not know."""
    message_type = json_string(message.get("type")) or ""
    message_id = json_string(message.get("id"))
    if message_type == "text":
        text = message.get("text")
        return (text if isinstance(text, str) else None), ()
    if message_type in _MEDIA_KINDS:
        url = _external_url(message, metadata)
        duration = message.get("duration")
        if isinstance(duration, int) and not isinstance(duration, bool):
            metadata["duration_ms"] = str(duration)
        image_set = message.get("imageSet")
        if isinstance(image_set, dict):
            # Several images sent at once arrive as separate events sharing an imageSet id.
            for key, meta_key in (("id", "image_set_id"), ("index", "image_set_index"), ("total", "image_set_total")):
                value = json_string(image_set.get(key))
                if value:
                    metadata[meta_key] = value
        return None, (Attachment(kind=_MEDIA_KINDS[message_type], url=url, media_id=message_id),)
    if message_type == "file":
        size = message.get("fileSize")
        return None, (
            Attachment(
                kind="file",
                media_id=message_id,
                name=json_string(message.get("fileName")),
                size=size if isinstance(size, int) and not isinstance(size, bool) else None,
            ),
        )
    if message_type == "location":
        for key, meta_key in (("latitude", "latitude"), ("longitude", "longitude")):
            value = message.get(key)
            if isinstance(value, int | float) and not isinstance(value, bool):
                metadata[meta_key] = repr(value)
        return None, (
            Attachment(
                kind="location",
                name=json_string(message.get("title")),
                caption=json_string(message.get("address")),
            ),
        )
    if message_type == "sticker":
        package_id = json_string(message.get("packageId"))
        sticker_id = json_string(message.get("stickerId"))
        if package_id:
            metadata["sticker_package_id"] = package_id
        if sticker_id:
            metadata["sticker_id"] = sticker_id
        resource_type = json_string(message.get("stickerResourceType"))
        if resource_type:
            metadata["sticker_resource_type"] = resource_type
        keywords = message.get("keywords")
        if isinstance(keywords, list) and keywords:
            metadata["sticker_keywords"] = ",".join(k for k in keywords if isinstance(k, str))
        text = message.get("text")  # only message stickers carry text the user typed
        return (text if isinstance(text, str) and text else None), (Attachment(kind="sticker", media_id=sticker_id),)
    return None


def _message_event(event: dict[str, Any], base: dict[str, Any], metadata: dict[str, str]) -> InboundEvent:
    message = event.get("message")
    if not isinstance(message, dict):
        raise PayloadError("a message event needs a message object")
    message_type = json_string(message.get("type")) or "unknown"
    metadata["message_type"] = message_type
    for key, meta_key in (
        ("quoteToken", "quote_token"),
        ("quotedMessageId", "quoted_message_id"),
        ("markAsReadToken", "mark_as_read_token"),
    ):
        value = json_string(message.get(key))
        if value:
            metadata[meta_key] = value
    parts = _message_parts(message, metadata)
    message_id = json_string(message.get("id"))
    if parts is None or base["sender"] is None or not ((parts[0] and parts[0].strip()) or parts[1]):
        # A message type the hub does not know (or one with nothing in it): kept raw, never lost.
        return InboundEvent(kind=EventKind.UNKNOWN, provider_message_id=message_id, metadata=metadata, **base)
    text, attachments = parts
    return InboundEvent(
        kind=EventKind.MESSAGE,
        text=text,
        attachments=attachments,
        provider_message_id=message_id,
        metadata=metadata,
        **base,
    )


def _postback_event(event: dict[str, Any], base: dict[str, Any], metadata: dict[str, str]) -> InboundEvent:
    postback = as_dict(event.get("postback"))
    data = json_string(postback.get("data"))
    if not data or base["sender"] is None:
        return InboundEvent(kind=EventKind.UNKNOWN, metadata=metadata, **base)
    metadata["postback_data"] = data
    params = postback.get("params")
    if isinstance(params, dict) and params:
        # Date/time picker and rich-menu switch results: kept as compact JSON.
        metadata["postback_params"] = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return InboundEvent(kind=EventKind.MESSAGE, text=data, metadata=metadata, **base)


def _lifecycle_event(event: dict[str, Any], base: dict[str, Any], metadata: dict[str, str]) -> InboundEvent:
    event_type = metadata["type"]
    metadata["lifecycle"] = _LIFECYCLE_EVENTS[event_type]
    provider_message_id = None
    if event_type == "follow" and isinstance(event.get("follow"), dict):
        unblocked = event["follow"].get("isUnblocked")
        if isinstance(unblocked, bool):
            metadata["is_unblocked"] = "true" if unblocked else "false"
    elif event_type in ("memberJoined", "memberLeft"):
        holder = event.get("joined" if event_type == "memberJoined" else "left")
        members = holder.get("members") if isinstance(holder, dict) else None
        if isinstance(members, list):
            ids = [m["userId"] for m in members if isinstance(m, dict) and isinstance(m.get("userId"), str)]
            metadata["member_ids"] = ",".join(ids)
    elif event_type == "unsend" and isinstance(event.get("unsend"), dict):
        provider_message_id = json_string(event["unsend"].get("messageId"))
        if provider_message_id:
            metadata["unsent_message_id"] = provider_message_id
    return InboundEvent(kind=EventKind.LIFECYCLE, provider_message_id=provider_message_id, metadata=metadata, **base)


def _parse_event(payload: dict[str, Any], event: dict[str, Any], received_at: str) -> InboundEvent:
    event_type = json_string(event.get("type")) or "unknown"
    sender, source_metadata = _source(event)
    metadata = _common_metadata(payload, event, event_type)
    metadata.update(source_metadata)
    base: dict[str, Any] = {
        "provider": PROVIDER,
        "event_id": _event_id(event),
        "channel": Channel.LINE,
        "occurred_at": _occurred_at(event, received_at),
        "sender": sender,
        # Standby-mode events carry no replyToken; a reply token is valid once, for about a minute.
        "reply_token": json_string(event.get("replyToken")),
    }
    handler: Callable[[dict[str, Any], dict[str, Any], dict[str, str]], InboundEvent] | None
    if event_type == "message":
        handler = _message_event
    elif event_type == "postback":
        handler = _postback_event
    elif event_type in _LIFECYCLE_EVENTS:
        handler = _lifecycle_event
    else:
        handler = None
    if handler is None:
        return InboundEvent(kind=EventKind.UNKNOWN, metadata=metadata, **base)
    return handler(event, base, metadata)


def parse_line_events(request: WebhookRequest) -> list[InboundEvent]:
    """Every event of the batch, in order; ``events: []`` (URL verification) → no events."""
    payload = _load_body(request)
    parsed: list[InboundEvent] = []
    for event in payload["events"]:
        try:
            if not isinstance(event, dict):
                raise PayloadError("an event must be an object")
            try:
                parsed.append(_parse_event(payload, event, request.received_at))
            except ModelError as err:
                raise PayloadError(str(err)) from err
        except PayloadError as err:
            # One event the hub cannot read is kept as UNKNOWN (raw payload stored, same event id on a
            # redelivery) so the rest of the batch is stored and LINE gets its 200.
            parsed.append(_unreadable_event(payload, event, err, request.received_at))
    return parsed


def _unreadable_event(payload: dict[str, Any], event: Any, err: PayloadError, received_at: str) -> InboundEvent:
    if not isinstance(event, dict):
        return InboundEvent(provider=PROVIDER, event_id=canonical_id(event), kind=EventKind.UNKNOWN,
                            channel=Channel.LINE, occurred_at=received_at,
                            metadata={"type": "invalid_event", **unreadable_reason(err)})
    event_id = _event_id(event)
    return InboundEvent(
        provider=PROVIDER,
        event_id=event_id if len(event_id) <= 512 else canonical_id(event),
        kind=EventKind.UNKNOWN,
        channel=Channel.LINE,
        occurred_at=_occurred_at(event, received_at),
        metadata={**_common_metadata(payload, event, json_string(event.get("type")) or "unknown"),
                  **unreadable_reason(err)},
    )


def respond_line(request: WebhookRequest, events: list[InboundEvent]) -> WebhookResponse:
    # LINE reads only the status; replies go through the reply API with the stored reply token.
    return WebhookResponse(200, "{}")


CHANNEL = ChannelSpec(
    provider=PROVIDER,
    secret_names=(SECRET_NAME,),
    verify=verify_line_signature,
    parse=parse_line_events,
    respond=respond_line,
    # LINE redelivers the same bytes (if at all), batches events and may suspend a failing webhook.
    lone_surrogates=LoneSurrogates.REPLACE,
)
