"""Viber REST bot API callbacks: ``POST /webhooks/viber``.

Signature: ``X-Viber-Content-Signature: hex(HMAC-SHA256(auth token, raw body))`` on every
callback, including the ``webhook`` callback Viber sends when ``set_webhook`` is called (it expects
200 before it accepts the URL): no handshake is needed, it is verified like any callback and parses
to no event. Nothing is parsed before the signature checks out. One callback is one event.

``message_token`` is a 64-bit number (``4912661846655238145``) sent as a bare JSON number: any
consumer that reads it as a double loses the last digits, so the hub keeps it as the exact decimal
string everywhere. It is the dedupe key of a message; receipts use ``"<token>#<status>"`` and
lifecycle callbacks ``"<token>#<event>"`` so each is its own event.

Media sent by users is served from Viber's hosts (``dl-media.viber.com`` signed URLs that expire,
stickers on ``content.cdn.viber.com``); a URL anywhere else is dropped, never fetched.
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.core.media import is_provider_media_url
from chalicelib.core.model import (
    Attachment,
    Channel,
    DeliveryStatus,
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

PROVIDER = "viber"
SECRET_NAME = "VIBER_AUTH_TOKEN"
SIGNATURE_HEADER = "x-viber-content-signature"
# dl-media.viber.com (pictures, videos, files), content.cdn.viber.com (stickers),
# media-direct.cdn.viber.com (avatars): all subdomains of viber.com.
VIBER_MEDIA_HOSTS = ("viber.com",)
WELCOME_SENDER_NAME_MAX = 28  # Viber rejects a longer sender.name
WELCOME_TEXT_MAX = 7000

_RECEIPTS = {
    "delivered": DeliveryStatus.DELIVERED,
    "seen": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
}
_LIFECYCLE_EVENTS = ("conversation_started", "subscribed", "unsubscribed")
_MEDIA_KINDS = {"picture": "image", "video": "video", "file": "file"}


def sign_viber_body(auth_token: str, body: bytes) -> str:
    """The ``X-Viber-Content-Signature`` value Viber sends with ``body``."""
    return hmac_sha256(auth_token, body).hex()


def verify_viber_signature(request: WebhookRequest, secrets: Secrets, now: float) -> None:
    token = require_secret(secrets, SECRET_NAME)
    signature = request.header(SIGNATURE_HEADER)
    if not signature:
        raise SignatureError("missing X-Viber-Content-Signature")
    if not constant_time_equal(sign_viber_body(token, request.body), signature.strip().lower()):
        raise SignatureError("X-Viber-Content-Signature mismatch")


def _load_body(body: bytes) -> dict[str, Any]:
    # Integers stay exact Python ints (message tokens exceed 2^53); floats (coordinates) are kept as
    # the text Viber sent so no float rounding creeps in.
    data = load_json(body, parse_float=str)
    if not isinstance(data, dict):
        raise PayloadError("body must be a JSON object")
    if not isinstance(data.get("event"), str) or not data["event"]:
        raise PayloadError("event is required")
    return data


def _message_token(data: dict[str, Any]) -> str | None:
    token = data.get("message_token")
    if token is None:
        return None
    if isinstance(token, int) and not isinstance(token, bool):
        return str(token)
    if isinstance(token, str) and token.isascii() and token.isdigit():
        return token
    # A float or an exponent means something upstream already lost digits: refuse, don't guess.
    raise PayloadError("message_token must be an integer")


def _occurred_at(data: dict[str, Any], fallback: str) -> str:
    # The timestamp only dates the callback (the message token dedupes it): a missing or absurd one
    # (1e30, a year past 9999) falls back to the reception time rather than lose the callback.
    return epoch_to_timestamp(data.get("timestamp"), millis=True, fallback=fallback)


def _viber_sender(user_id: str | None, metadata: dict[str, str], **profile: str | None) -> Sender | None:
    """The user as a Sender; an id the hub cannot read leaves the event without one (reason in metadata)."""
    if not user_id:
        return None
    try:
        return Sender(identity=identity_or_error(Channel.VIBER, user_id), **profile)
    except PayloadError as err:
        metadata.update(unreadable_reason(err))
        return None


def _user(profile: Any, metadata: dict[str, str]) -> Sender | None:
    """A Viber user object (``sender`` or ``user``) → Sender; country and API version → metadata."""
    if not isinstance(profile, dict):
        return None
    user_id = json_string(profile.get("id"))
    if not user_id:
        return None
    country = json_string(profile.get("country"))
    if country:
        metadata["country"] = country
    api_version = json_string(profile.get("api_version"))
    if api_version:
        metadata["api_version"] = api_version
    return _viber_sender(user_id, metadata, name=json_string(profile.get("name")),
                         language=json_string(profile.get("language")))


def _media_url(url: str | None, metadata: dict[str, str]) -> str | None:
    if not url:
        return None
    if is_provider_media_url(url, VIBER_MEDIA_HOSTS):
        return url
    metadata["dropped_media_url"] = "true"
    return None


def _size(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _message_parts(
    message: dict[str, Any], metadata: dict[str, str]
) -> tuple[str | None, tuple[Attachment, ...]] | None:
    """(text, attachments) of a user message; None for a type the hub does not know."""
    message_type = json_string(message.get("type")) or ""
    text = message.get("text") if isinstance(message.get("text"), str) else None
    if message_type == "text":
        return text, ()
    if message_type in _MEDIA_KINDS:
        duration = json_string(message.get("duration"))
        if duration:
            metadata["duration_s"] = duration
        file_name = json_string(message.get("file_name"))
        return text, (
            Attachment(
                kind=_MEDIA_KINDS[message_type],
                url=_media_url(json_string(message.get("media")), metadata),
                name=file_name if file_name != "null" else None,
                size=_size(message.get("size")),
                caption=text,
            ),
        )
    if message_type == "sticker":
        sticker_id = json_string(message.get("sticker_id"))
        if sticker_id:
            metadata["sticker_id"] = sticker_id
        return None, (
            Attachment(
                kind="sticker",
                media_id=sticker_id,
                url=_media_url(json_string(message.get("media")), metadata),
            ),
        )
    if message_type == "contact":
        contact = as_dict(message.get("contact"))
        name = json_string(contact.get("name"))
        phone = json_string(contact.get("phone_number"))
        if name:
            metadata["contact_name"] = name
        if phone:
            metadata["contact_phone_number"] = phone
        return text, (Attachment(kind="contact", name=name, caption=phone),)
    if message_type == "location":
        location = as_dict(message.get("location"))
        for key, meta_key in (("lat", "latitude"), ("lon", "longitude")):
            value = location.get(key)
            if isinstance(value, str | int) and not isinstance(value, bool):
                metadata[meta_key] = str(value)
        address = json_string(location.get("address"))
        return text, (Attachment(kind="location", caption=address),)
    if message_type == "url":
        # A link the user shared: it is what they wrote, not media the hub would fetch.
        return json_string(message.get("media")) or text, ()
    return None


def _message_event(data: dict[str, Any], base: dict[str, Any], metadata: dict[str, str]) -> InboundEvent:
    token = _message_token(data)
    if token is None:
        raise PayloadError("a message callback needs message_token")
    sender = _user(data.get("sender"), metadata)
    message = data.get("message")
    if not isinstance(message, dict):
        raise PayloadError("a message callback needs a message object")
    message_type = json_string(message.get("type")) or "unknown"
    metadata["message_type"] = message_type
    tracking_data = json_string(message.get("tracking_data"))
    if tracking_data:
        metadata["tracking_data"] = tracking_data
    for key in ("reply_type", "chat_id"):
        value = json_string(data.get(key))
        if value:
            metadata[key] = value
    if isinstance(data.get("silent"), bool):
        metadata["silent"] = "true" if data["silent"] else "false"
    parts = _message_parts(message, metadata)
    if parts is None or sender is None or not ((parts[0] and parts[0].strip()) or parts[1]):
        return InboundEvent(
            event_id=token,
            kind=EventKind.UNKNOWN,
            sender=sender,
            provider_message_id=token,
            metadata=metadata,
            **base,
        )
    text, attachments = parts
    return InboundEvent(
        event_id=token,
        kind=EventKind.MESSAGE,
        sender=sender,
        text=text,
        attachments=attachments,
        provider_message_id=token,
        metadata=metadata,
        **base,
    )


def _receipt_event(data: dict[str, Any], base: dict[str, Any], metadata: dict[str, str]) -> InboundEvent:
    event_name = metadata["type"]
    token = _message_token(data)
    if token is None:
        raise PayloadError(f"a {event_name} callback needs message_token")
    user_id = json_string(data.get("user_id"))
    description = json_string(data.get("desc"))
    if description:
        metadata["error_description"] = description
    return InboundEvent(
        event_id=f"{token}#{event_name}",
        kind=EventKind.DELIVERY_STATUS,
        sender=_viber_sender(user_id, metadata),
        provider_message_id=token,
        status=_RECEIPTS[event_name],
        metadata=metadata,
        **base,
    )


def _lifecycle_event(data: dict[str, Any], base: dict[str, Any], metadata: dict[str, str]) -> InboundEvent:
    event_name = metadata["type"]
    metadata["lifecycle"] = event_name
    token = _message_token(data)
    sender = _user(data.get("user"), metadata)
    user_id = json_string(data.get("user_id"))
    if sender is None and user_id:  # unsubscribed carries only the id
        sender = _viber_sender(user_id, metadata)
    if event_name == "conversation_started":
        # Not a subscription: the bot may answer only with the welcome message in the response.
        conversation_type = json_string(data.get("type"))  # "open"
        if conversation_type:
            metadata["conversation_type"] = conversation_type
        context = json_string(data.get("context"))  # from a deep link's context= parameter
        if context:
            metadata["context"] = context
        if isinstance(data.get("subscribed"), bool):
            metadata["subscribed"] = "true" if data["subscribed"] else "false"
    return InboundEvent(
        event_id=f"{token}#{event_name}" if token else canonical_id(data),
        kind=EventKind.LIFECYCLE,
        sender=sender,
        metadata=metadata,
        **base,
    )


def _unknown_event(data: dict[str, Any], base: dict[str, Any], metadata: dict[str, str]) -> InboundEvent:
    try:
        token = _message_token(data)
    except PayloadError:
        token = None
    sender = _user(data.get("user") or data.get("sender"), metadata)
    return InboundEvent(
        event_id=f"{token}#{metadata['type']}" if token else canonical_id(data),
        kind=EventKind.UNKNOWN,
        sender=sender,
        metadata=metadata,
        **base,
    )


def parse_viber_callback(request: WebhookRequest) -> list[InboundEvent]:
    """One callback → one event; the ``webhook`` availability check → none."""
    data = _load_body(request.body)
    event_name = data["event"]
    if event_name == "webhook":
        return []
    metadata: dict[str, str] = {"type": event_name}
    chat_hostname = json_string(data.get("chat_hostname"))
    if chat_hostname:
        metadata["chat_hostname"] = chat_hostname
    base: dict[str, Any] = {
        "provider": PROVIDER,
        "channel": Channel.VIBER,
        "occurred_at": _occurred_at(data, request.received_at),
    }
    try:
        if event_name == "message":
            return [_message_event(data, base, metadata)]
        if event_name in _RECEIPTS:
            return [_receipt_event(data, base, metadata)]
        if event_name in _LIFECYCLE_EVENTS:
            return [_lifecycle_event(data, base, metadata)]
        return [_unknown_event(data, base, metadata)]  # client_status, action, ...
    except ModelError as err:
        raise PayloadError(str(err)) from err


def viber_welcome_response(
    text: str,
    sender_name: str,
    *,
    sender_avatar: str | None = None,
    tracking_data: str | None = None,
    min_api_version: int | None = None,
) -> WebhookResponse:
    """The 200 answer to ``conversation_started`` that shows ``text`` as a welcome message.

    Viber takes the response body as a send_message request without ``receiver``; it is the only
    way to write to a user who opened the chat but has not subscribed.
    """
    if not text or len(text) > WELCOME_TEXT_MAX:
        raise ValueError(f"a welcome text must have 1 to {WELCOME_TEXT_MAX} characters")
    if not sender_name or len(sender_name) > WELCOME_SENDER_NAME_MAX:
        raise ValueError(f"sender_name must have 1 to {WELCOME_SENDER_NAME_MAX} characters")
    sender: dict[str, str] = {"name": sender_name}
    if sender_avatar:
        sender["avatar"] = sender_avatar
    body: dict[str, Any] = {"sender": sender, "type": "text", "text": text}
    if tracking_data is not None:
        body["tracking_data"] = tracking_data
    if min_api_version is not None:
        body["min_api_version"] = min_api_version
    return WebhookResponse(200, json.dumps(body, ensure_ascii=False, separators=(",", ":")))


def respond_viber(request: WebhookRequest, events: list[InboundEvent]) -> WebhookResponse:
    # Viber needs only the 200; a conversation_started answer may later carry a welcome message
    # (viber_welcome_response).
    return WebhookResponse(200, "{}")


CHANNEL = ChannelSpec(
    provider=PROVIDER,
    secret_names=(SECRET_NAME,),
    verify=verify_viber_signature,
    parse=parse_viber_callback,
    respond=respond_viber,
    # Viber retries the same callback for up to an hour, then drops it.
    lone_surrogates=LoneSurrogates.REPLACE,
)
