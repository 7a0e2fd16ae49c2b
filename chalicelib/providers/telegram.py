"""Telegram Bot API webhooks: ``POST /webhooks/telegram/{bot}``.

- Authenticity: ``setWebhook(secret_token=...)`` makes Telegram send the token back in
  ``X-Telegram-Bot-Api-Secret-Token`` on every request; it must equal ``TELEGRAM_SECRET_TOKEN``.
- One ``Update`` per request, numbered by ``update_id`` per bot: the dedupe key is
  ``<bot>#<update_id>`` (two bots may send the same number).
- Ids: chat and user ids may exceed 2^53. Python's ``json`` parses integers exactly (arbitrary
  precision, never through a float), and every id leaves this module as ``str(int)``, so no digit is
  lost on the way to DynamoDB or a JavaScript consumer.
- Reply: the webhook response may itself be a Bot API call (``{"method": "sendMessage", ...}``);
  :func:`telegram_method_reply` builds one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from chalicelib.core.model import (
    Attachment,
    Channel,
    EventKind,
    InboundEvent,
    ModelError,
    Sender,
    normalize_phone,
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
    constant_time_equal,
    epoch_to_timestamp,
    identity_or_error,
    json_string,
    load_json,
    require_secret,
    unreadable_reason,
)

PROVIDER = "telegram"
SECRET_NAME = "TELEGRAM_SECRET_TOKEN"
SECRET_HEADER = "x-telegram-bot-api-secret-token"
MAX_MESSAGE_LENGTH = 4096  # sendMessage rejects longer texts
_BOT_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")

# Update fields that carry a message from a customer (business_message: Telegram Business chats).
_MESSAGE_UPDATES = ("message", "edited_message", "business_message", "edited_business_message")
# Fields of every message, around its content.
_MESSAGE_ENVELOPE = frozenset({
    "message_id", "message_thread_id", "from", "sender_chat", "chat", "date", "edit_date",
    "business_connection_id", "reply_to_message", "forward_origin", "is_topic_message",
    "is_automatic_forward", "has_protected_content", "author_signature", "entities", "reply_markup",
})
# Media fields in the order they are looked for: an animation also carries a "document".
_MEDIA_FIELDS: Mapping[str, str] = {
    "animation": "video",
    "video": "video",
    "video_note": "video",
    "voice": "audio",
    "audio": "audio",
    "document": "document",
    "sticker": "sticker",
}


def verify_telegram_secret_token(request: WebhookRequest, secrets: Secrets, now: float) -> None:
    expected = require_secret(secrets, SECRET_NAME)
    given = request.header(SECRET_HEADER)
    if not given:
        raise SignatureError("missing X-Telegram-Bot-Api-Secret-Token")
    if not constant_time_equal(expected, given):
        raise SignatureError("X-Telegram-Bot-Api-Secret-Token does not match TELEGRAM_SECRET_TOKEN")


def telegram_method_reply(chat_id: str, text: str, reply_to_message_id: str | None = None) -> dict[str, Any]:
    """A ``sendMessage`` call to return as the webhook response body (answers without an API call).

    Telegram reports no error for a method sent this way, so the reply is made to succeed: the
    text is cut to the 4096-character limit and a deleted original does not block the reply.
    """
    if not chat_id or not text:
        raise ValueError("a Telegram reply needs a chat id and a text")
    reply: dict[str, Any] = {"method": "sendMessage", "chat_id": chat_id, "text": text[:MAX_MESSAGE_LENGTH]}
    # message_id is an Integer in the Bot API: a reply to anything else would make the whole call
    # fail, silently, so a reply-to that is not plain ASCII digits is left out, not guessed at.
    if reply_to_message_id and reply_to_message_id.isascii() and reply_to_message_id.isdigit():
        reply["reply_parameters"] = {
            "message_id": int(reply_to_message_id),
            "allow_sending_without_reply": True,
        }
    return reply


# --- helpers ----------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _size(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _put_id(metadata: dict[str, str], key: str, value: Any) -> None:
    text = json_string(value)
    if text:
        metadata[key] = text


def _photo_area(photo: dict[str, Any]) -> tuple[int, int]:
    width, height = _size(photo.get("width")) or 0, _size(photo.get("height")) or 0
    return width * height, _size(photo.get("file_size")) or 0


def _occurred_at(epoch: Any, request: WebhookRequest) -> str:
    # ``date`` only dates the update (the dedupe key is update_id): a missing, zero or absurd one
    # (NaN, 1e30) falls back to the reception time rather than lose the update.
    if isinstance(epoch, int | float) and not isinstance(epoch, bool) and epoch > 0:
        return epoch_to_timestamp(epoch, fallback=request.received_at)
    return request.received_at


def _display_name(user: dict[str, Any]) -> str | None:
    name = " ".join(part for part in (_text(user.get("first_name")), _text(user.get("last_name"))) if part)
    return name or _text(user.get("username"))


def _event(**fields: Any) -> InboundEvent:
    try:
        return InboundEvent(provider=PROVIDER, channel=Channel.TELEGRAM, **fields)
    except ModelError as err:
        raise PayloadError(str(err)) from err


def _sender(chat_id: str, user: dict[str, Any], phone: str | None = None) -> Sender:
    return Sender(
        identity=identity_or_error(Channel.TELEGRAM, chat_id),
        name=_display_name(user),
        phone=phone,
        language=_text(user.get("language_code")),
    )


def _user_metadata(user: dict[str, Any], metadata: dict[str, str]) -> None:
    user_id = json_string(user.get("id"))
    if user_id:
        metadata["user_id"] = user_id
    if _text(user.get("username")):
        metadata["username"] = user["username"]
    if user.get("is_bot") is True:
        metadata["is_bot"] = "true"


# --- messages ---------------------------------------------------------------------------------


def _message_content(message: dict[str, Any], sender_user_id: str | None, metadata: dict[str, str]
                     ) -> tuple[str | None, list[Attachment], str | None]:
    """Text, attachments and (for a customer sharing their own contact) a phone number."""
    text = _text(message.get("text")) or _text(message.get("caption"))
    attachments: list[Attachment] = []
    phone: str | None = None
    raw_photos = message.get("photo")
    photos = [p for p in raw_photos if isinstance(p, dict)] if isinstance(raw_photos, list) else []
    if photos:
        # Telegram lists every size of the photo; the largest one is the original.
        largest = max(photos, key=_photo_area)
        attachments.append(Attachment(kind="image", media_id=json_string(largest.get("file_id")),
                                      size=_size(largest.get("file_size")), caption=_text(message.get("caption"))))
        _put_id(metadata, "file_unique_id", largest.get("file_unique_id"))
    for field, kind in _MEDIA_FIELDS.items():
        media = message.get(field)
        if not isinstance(media, dict):
            continue
        attachments.append(Attachment(
            kind=kind,
            media_id=json_string(media.get("file_id")),
            content_type=_text(media.get("mime_type")),
            name=_text(media.get("file_name")) or _text(media.get("title")),
            size=_size(media.get("file_size")),
            caption=_text(message.get("caption")),
        ))
        _put_id(metadata, "file_unique_id", media.get("file_unique_id"))
        if field == "voice":
            metadata["voice"] = "true"
        if field == "sticker" and _text(media.get("emoji")):
            metadata["sticker_emoji"] = media["emoji"]
        if isinstance(media.get("duration"), int):
            metadata["duration"] = str(media["duration"])
        break  # one media per message (an animation's "document" is the same file)
    contact = message.get("contact")
    if isinstance(contact, dict):
        raw_phone = _text(contact.get("phone_number"))
        name = _display_name(contact)
        attachments.append(Attachment(kind="contact", name=name))
        if raw_phone:
            metadata["contact_phone"] = raw_phone
            # Only a customer's own contact (the request_contact button) says who they are.
            if sender_user_id and json_string(contact.get("user_id")) == sender_user_id:
                try:
                    phone = normalize_phone(raw_phone)
                except ModelError:
                    phone = None
        if name:
            metadata["contact_name"] = name
    location = message.get("location")
    venue = as_dict(message.get("venue"))
    if isinstance(location, dict):
        metadata["location_latitude"] = str(location.get("latitude"))
        metadata["location_longitude"] = str(location.get("longitude"))
        title = _text(venue.get("title"))
        if _text(venue.get("address")):
            metadata["location_address"] = venue["address"]
        attachments.append(Attachment(kind="location", name=title))
    return text, attachments, phone


def _message_event(update_type: str, message: dict[str, Any], event_id: str, base: dict[str, str],
                   request: WebhookRequest) -> InboundEvent:
    metadata = dict(base)
    chat = as_dict(message.get("chat"))
    chat_id = json_string(chat.get("id"))
    user = as_dict(message.get("from"))
    sender_user_id = json_string(user.get("id"))
    _user_metadata(user, metadata)
    if _text(chat.get("type")):
        metadata["chat_type"] = chat["type"]
    message_id = json_string(message.get("message_id"))
    if message_id:
        metadata["message_id"] = message_id
    reply_to = json_string(as_dict(message.get("reply_to_message")).get("message_id"))
    if reply_to:
        metadata["reply_to"] = reply_to
    if _text(message.get("business_connection_id")):
        metadata["business_connection_id"] = message["business_connection_id"]
    edited = update_type.startswith("edited_")
    if edited:
        metadata["edited"] = "true"
    occurred_at = _occurred_at(message.get("edit_date") if edited else message.get("date"), request)

    text, attachments, phone = _message_content(message, sender_user_id, metadata)
    if text and text.startswith("/"):
        # "/start@support_bot payload" → command "start"
        metadata["command"] = text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if len(text) > 1 else ""
    if not chat_id or not ((text and text.strip()) or attachments):
        # Service messages (new_chat_members, pinned_message, ...), polls, dice, games.
        content = next((k for k in message if k not in _MESSAGE_ENVELOPE), "unknown")
        metadata["type"] = f"{update_type}:{content}"
        return _event(event_id=event_id, kind=EventKind.UNKNOWN, occurred_at=occurred_at,
                      sender=_sender(chat_id, user) if chat_id else None, metadata=metadata)
    return _event(event_id=event_id, kind=EventKind.MESSAGE, occurred_at=occurred_at,
                  sender=_sender(chat_id, user, phone), text=text, attachments=tuple(attachments),
                  provider_message_id=f"{chat_id}:{message_id}" if message_id else None, metadata=metadata)


def _callback_query_event(query: dict[str, Any], event_id: str, base: dict[str, str],
                          request: WebhookRequest) -> InboundEvent:
    metadata = dict(base)
    user = as_dict(query.get("from"))
    _user_metadata(user, metadata)
    query_id = json_string(query.get("id"))
    if query_id:
        metadata["callback_query_id"] = query_id  # answerCallbackQuery needs it
    message = as_dict(query.get("message"))
    chat_id = json_string(as_dict(message.get("chat")).get("id")) or json_string(user.get("id"))
    message_id = json_string(message.get("message_id"))
    if message_id:
        metadata["callback_message_id"] = message_id
        metadata["reply_to"] = message_id
    if _text(query.get("inline_message_id")):
        metadata["inline_message_id"] = query["inline_message_id"]
    data = _text(query.get("data")) or _text(query.get("game_short_name"))
    occurred_at = _occurred_at(message.get("date"), request) if message else request.received_at
    if not chat_id or not data:
        metadata["type"] = "callback_query"
        return _event(event_id=event_id, kind=EventKind.UNKNOWN, occurred_at=occurred_at, metadata=metadata)
    metadata["message_type"] = "callback_query"
    return _event(event_id=event_id, kind=EventKind.MESSAGE, occurred_at=occurred_at,
                  sender=_sender(chat_id, user), text=data, metadata=metadata)


def _member_lifecycle(old_status: str | None, new_status: str | None) -> str:
    if new_status == "kicked":
        return "blocked"  # in a private chat: the customer blocked the bot
    if new_status == "member" and old_status == "kicked":
        return "unblocked"
    if new_status in ("left", "kicked"):
        return "left"
    return f"member_{new_status or 'unknown'}"


def _my_chat_member_event(update: dict[str, Any], event_id: str, base: dict[str, str],
                          request: WebhookRequest) -> InboundEvent:
    metadata = dict(base)
    chat = as_dict(update.get("chat"))
    chat_id = json_string(chat.get("id"))
    user = as_dict(update.get("from"))
    _user_metadata(user, metadata)
    if _text(chat.get("type")):
        metadata["chat_type"] = chat["type"]
    old_status = _text(as_dict(update.get("old_chat_member")).get("status"))
    new_status = _text(as_dict(update.get("new_chat_member")).get("status"))
    metadata["lifecycle"] = _member_lifecycle(old_status, new_status)
    occurred_at = _occurred_at(update.get("date"), request)
    if not chat_id:
        metadata["type"] = "my_chat_member"
        return _event(event_id=event_id, kind=EventKind.UNKNOWN, occurred_at=occurred_at, metadata=metadata)
    return _event(event_id=event_id, kind=EventKind.LIFECYCLE, occurred_at=occurred_at,
                  sender=_sender(chat_id, user), metadata=metadata)


def parse_telegram_update(request: WebhookRequest) -> list[InboundEvent]:
    bot = request.path_params.get("bot") or ""
    if not _BOT_NAME.match(bot):
        raise PayloadError("the webhook path must name the bot: /webhooks/telegram/{bot}")
    # Integers parse exactly in Python (no float step), so ids above 2^53 keep every digit.
    update = load_json(request.body)
    if not isinstance(update, dict):
        raise PayloadError("body must be a JSON object (a Telegram Update)")
    update_id = update.get("update_id")
    if not isinstance(update_id, int) or isinstance(update_id, bool):
        raise PayloadError("update_id is required and must be an integer")
    event_id = f"{bot}#{update_id}"
    base = {"bot": bot, "update_id": str(update_id)}
    update_type = next((key for key in update if key != "update_id"), "unknown")
    base["update_type"] = update_type
    payload = update.get(update_type)
    try:
        if update_type in _MESSAGE_UPDATES and isinstance(payload, dict):
            return [_message_event(update_type, payload, event_id, base, request)]
        if update_type == "callback_query" and isinstance(payload, dict):
            return [_callback_query_event(payload, event_id, base, request)]
        if update_type == "my_chat_member" and isinstance(payload, dict):
            return [_my_chat_member_event(payload, event_id, base, request)]
    except PayloadError as err:
        # update_id is sound, so the update is kept (UNKNOWN, raw payload stored) rather than
        # refused: a sender or field the hub cannot read must not lose what the customer sent.
        return [_event(event_id=event_id, kind=EventKind.UNKNOWN, occurred_at=request.received_at,
                       metadata={**base, "type": update_type, **unreadable_reason(err)})]
    # channel_post (our own channel's posts), inline_query, poll, chat_member, reactions, ...
    occurred_at = _occurred_at(as_dict(payload).get("date"), request)
    return [_event(event_id=event_id, kind=EventKind.UNKNOWN, occurred_at=occurred_at,
                   metadata={**base, "type": update_type})]


def respond_telegram(request: WebhookRequest, events: list[InboundEvent]) -> WebhookResponse:
    # An empty object: Telegram reads a "method" key in the response as a Bot API call.
    return WebhookResponse(200, "{}")


def reply_with_method(request: WebhookRequest, event: InboundEvent, text: str) -> WebhookResponse:
    """The acknowledgment as a ``sendMessage`` method in the webhook response (no API call needed)."""
    assert event.sender is not None
    reply = telegram_method_reply(event.sender.identity.address, text, event.metadata.get("message_id"))
    return WebhookResponse(200, json.dumps(reply, ensure_ascii=False))


CHANNEL = ChannelSpec(
    provider=PROVIDER,
    secret_names=(SECRET_NAME,),
    verify=verify_telegram_secret_token,
    parse=parse_telegram_update,
    respond=respond_telegram,
    instant_reply=reply_with_method,
    # Telegram retries the same update, then gives up: a 400 would only delay its loss.
    lone_surrogates=LoneSurrogates.REPLACE,
)
