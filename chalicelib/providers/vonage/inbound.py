"""Vonage Messages inbound messages (SMS, MMS, RCS, WhatsApp, Messenger, Viber): one event each.

An inbound message whose sender the hub cannot read (an SMS from an alphanumeric sender id) is kept
as an UNKNOWN event, deduplicated on ``message_uuid``, rather than refused: a 4xx loses it for good.
"""

from __future__ import annotations

import re
from typing import Any

from chalicelib.core.consent import KEYWORD_CHANNELS, consent_keyword
from chalicelib.core.media import is_provider_media_url
from chalicelib.core.model import Attachment, Channel, EventKind, InboundEvent, ModelError, Sender, normalize_phone
from chalicelib.providers.base import (
    AddressError,
    PayloadError,
    WebhookRequest,
    as_dict,
    identity_or_error,
    unreadable_reason,
)
from chalicelib.providers.vonage.fields import PROVIDER, channel_of, occurred_at, text_value, unknown_event

# Vonage keeps inbound media (all channels) on its own media service, per API region.
MEDIA_HOSTS = ("api.nexmo.com", "api-us.nexmo.com", "api-eu.nexmo.com", "api-ap.nexmo.com")

_MEDIA_KINDS = {
    "image": "image",
    "audio": "audio",
    "video": "video",
    "file": "document",
    "sticker": "sticker",
    "vcard": "contact",
}
_BSUID = re.compile(r"^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$")


def _scoped_user_id(data: dict[str, Any]) -> str | None:
    whatsapp = data.get("whatsapp")
    if isinstance(whatsapp, dict):
        for key in ("sender", "user"):  # never "recipient": on inbound that is the business
            user = whatsapp.get(key)
            if isinstance(user, dict) and text_value(user.get("user_id")):
                return text_value(user.get("user_id"))
        if text_value(whatsapp.get("user_id")):
            return text_value(whatsapp.get("user_id"))
    return None


def _sender(channel: Channel, data: dict[str, Any], metadata: dict[str, str]) -> Sender:
    from_address = text_value(data.get("from"))
    profile = as_dict(data.get("profile"))
    name = text_value(profile.get("name"))
    if text_value(profile.get("username")):
        metadata["username"] = str(profile["username"])
    scoped_id = _scoped_user_id(data)
    if scoped_id:
        metadata["bsuid"] = scoped_id
    phone: str | None = None
    if channel in (Channel.SMS, Channel.WHATSAPP, Channel.VIBER) and from_address:
        if channel is Channel.WHATSAPP and _BSUID.match(from_address):
            return Sender(identity_or_error(channel, f"bsuid:{from_address}"), name=name)
        try:
            phone = normalize_phone(from_address)
        except ModelError as err:
            if channel is Channel.SMS:  # a short code or an alphanumeric sender id
                raise AddressError(f"from is not a phone number: {err}") from err
    if phone:
        return Sender(identity_or_error(channel, phone), name=name, phone=phone)
    if channel is Channel.WHATSAPP and scoped_id:
        return Sender(identity_or_error(channel, f"bsuid:{scoped_id}"), name=name)
    if not from_address:
        raise AddressError("from is required")
    return Sender(identity_or_error(channel, from_address), name=name)


def _content(message_type: str, data: dict[str, Any], metadata: dict[str, str]) -> tuple[str | None, list[Attachment]]:
    """Text and attachments of a known message type; ``None, []`` for a type the hub does not read."""
    if message_type == "text":
        return text_value(data.get("text")), []
    if message_type in _MEDIA_KINDS:
        media = data.get(message_type)
        if not isinstance(media, dict):
            raise PayloadError(f"{message_type} must be an object")
        url = text_value(media.get("url"))
        caption = text_value(media.get("caption"))
        name = text_value(media.get("name"))
        if url and not is_provider_media_url(url, MEDIA_HOSTS):
            metadata["dropped_media_url"] = "true"
            url = None
        attachment = Attachment(kind=_MEDIA_KINDS[message_type], url=url, name=name, caption=caption)
        return caption, [attachment]
    if message_type == "location":
        location = data.get("location")
        if not isinstance(location, dict):
            raise PayloadError("location must be an object")
        for source, key in (("lat", "latitude"), ("long", "longitude"), ("name", "label"), ("address", "address")):
            if text_value(location.get(source)):
                metadata[key] = str(location[source])
        if "latitude" not in metadata or "longitude" not in metadata:
            raise PayloadError("location needs lat and long")
        return None, [Attachment(kind="location", name=metadata.get("label"), caption=metadata.get("address"))]
    if message_type == "reply":
        reply = data.get("reply")
        if not isinstance(reply, dict):
            raise PayloadError("reply must be an object")
        for source, key in (("id", "reply_id"), ("title", "reply_title"), ("description", "reply_description")):
            if text_value(reply.get(source)):
                metadata[key] = str(reply[source])
        return text_value(reply.get("title")) or text_value(reply.get("id")), []
    if message_type == "button":
        button = data.get("button")
        if not isinstance(button, dict):
            raise PayloadError("button must be an object")
        for source, key in (("payload", "button_payload"), ("text", "button_text")):
            if text_value(button.get(source)):
                metadata[key] = str(button[source])
        return text_value(button.get("text")) or text_value(button.get("payload")), []
    return None, []


def inbound_event(data: dict[str, Any], request: WebhookRequest) -> InboundEvent:
    message_uuid = text_value(data.get("message_uuid"))
    if not message_uuid:
        raise PayloadError("message_uuid is required")
    message_type = (text_value(data.get("message_type")) or "").lower()
    metadata: dict[str, str] = {"message_type": message_type}
    channel = channel_of(data, metadata)
    if channel is None:
        return unknown_event(data, request, f"channel:{metadata.get('vonage_channel', 'missing')}", metadata)
    if text_value(data.get("to")):
        metadata["to"] = str(data["to"])
    context = data.get("context")
    if isinstance(context, dict):
        if text_value(context.get("message_uuid")):
            metadata["replied_to_message_id"] = str(context["message_uuid"])
        if text_value(context.get("message_from")):
            metadata["replied_to_sender"] = str(context["message_from"])
    text, attachments = _content(message_type, data, metadata)
    try:
        sender = _sender(channel, data, metadata)
    except AddressError as err:
        # Kept as UNKNOWN (deduplicated on message_uuid) rather than refused: a 4xx loses it for good.
        return unknown_event(data, request, message_type or "missing", {**metadata, **unreadable_reason(err)})
    if channel in KEYWORD_CHANNELS:
        keyword = consent_keyword(text)
        if keyword is not None:
            metadata["consent"] = keyword.value
    known = bool(text and text.strip()) or bool(attachments)
    return InboundEvent(
        provider=PROVIDER,
        event_id=message_uuid,
        # unsupported, reaction, order, ... : stored as UNKNOWN, never a failed webhook
        kind=EventKind.MESSAGE if known else EventKind.UNKNOWN,
        channel=channel,
        occurred_at=occurred_at(data, request),
        sender=sender,
        text=text,
        attachments=tuple(attachments),
        provider_message_id=message_uuid,
        metadata=metadata if known else {**metadata, "type": message_type or "missing"},
    )
