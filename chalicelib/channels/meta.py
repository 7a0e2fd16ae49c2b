"""Meta webhooks (``GET`` + ``POST /webhooks/meta``): WhatsApp Cloud API, Messenger and Instagram.

One app, one callback URL: the payload's ``object`` says which product sent it
(``whatsapp_business_account``, ``page``, ``instagram``), and each has its own entry parser.

- Handshake: ``GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...`` → the challenge as
  ``text/plain`` when the token equals ``META_VERIFY_TOKEN``, 403 otherwise.
- Signature: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(META_APP_SECRET, raw body)>``. Meta signs
  the bytes it sends, where non-ASCII characters are escaped as ``\\uXXXX``: always the raw body,
  never a re-serialized one.
- Batches: ``entry[] × changes[] × value.messages[] / value.statuses[]``; one event per message or
  status. Dedupe keys: the message id (``wamid....``), ``<message id>#<status>`` for statuses.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.channels.base import (
    ChannelSpec,
    PayloadError,
    Secrets,
    SignatureError,
    WebhookRequest,
    WebhookResponse,
    constant_time_equal,
    require_secret,
)
from chalicelib.consent import consent_keyword
from chalicelib.media import is_provider_media_url
from chalicelib.model import (
    Attachment,
    Channel,
    DeliveryStatus,
    EventKind,
    Identity,
    InboundEvent,
    ModelError,
    Sender,
    timestamp_from_epoch,
)

PROVIDER = "meta"
APP_SECRET_NAME = "META_APP_SECRET"
VERIFY_TOKEN_NAME = "META_VERIFY_TOKEN"
SIGNATURE_HEADER = "x-hub-signature-256"
SIGNATURE_PREFIX = "sha256="
MAX_BODY_BYTES = 3 * 1024 * 1024  # WhatsApp webhook payloads can be up to 3 MB

# Meta's own CDNs: WhatsApp media download URLs (lookaside.fbsbx.com), Messenger attachments
# (*.fbcdn.net), Instagram attachments (lookaside.fbsbx.com, *.cdninstagram.com).
META_MEDIA_HOSTS = ("fbsbx.com", "fbcdn.net", "cdninstagram.com", "whatsapp.net")

WHATSAPP_STATUSES: Mapping[str, DeliveryStatus] = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "played": DeliveryStatus.READ,  # voice messages: listened to, after read
    "failed": DeliveryStatus.FAILED,
}

_MEDIA_TYPES = ("image", "audio", "video", "document", "sticker")
# Fields that only ever carry our own outbound messages (WhatsApp Business app coexistence).
_ECHO_FIELDS = frozenset({"smb_message_echoes", "message_echoes"})


# --- signature and handshake ------------------------------------------------------------------


def sign_meta_payload(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends for ``body``."""
    return SIGNATURE_PREFIX + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def verify_meta_signature(request: WebhookRequest, secrets: Secrets, now: float) -> None:
    app_secret = require_secret(secrets, APP_SECRET_NAME)
    signature = request.header(SIGNATURE_HEADER)
    if not signature:
        raise SignatureError("missing X-Hub-Signature-256")
    signature = signature.strip()
    if not signature.lower().startswith(SIGNATURE_PREFIX):
        raise SignatureError("X-Hub-Signature-256 must be sha256=<hex>")
    expected = sign_meta_payload(app_secret, request.body)
    # Meta sends lower-case hex; accept upper-case too rather than fail on a proxy's rewrite.
    if not constant_time_equal(expected, SIGNATURE_PREFIX + signature[len(SIGNATURE_PREFIX) :].lower()):
        raise SignatureError("X-Hub-Signature-256 does not match the body (wrong META_APP_SECRET?)")


def answer_meta_verification(request: WebhookRequest, secrets: Secrets, now: float) -> WebhookResponse | None:
    """The subscription handshake: any GET is one; POSTs carry events (``None``)."""
    if request.method.upper() != "GET":
        return None
    mode = request.query.get("hub.mode")
    challenge = request.query.get("hub.challenge")
    token = request.query.get("hub.verify_token")
    if mode != "subscribe" or not challenge or token is None:
        return WebhookResponse(400, "expected hub.mode=subscribe, hub.verify_token and hub.challenge",
                               content_type="text/plain")
    expected = require_secret(secrets, VERIFY_TOKEN_NAME)
    if not constant_time_equal(expected, token):
        return WebhookResponse(403, "hub.verify_token does not match", content_type="text/plain")
    return WebhookResponse(200, challenge, content_type="text/plain")


# --- helpers ----------------------------------------------------------------------------------


def _canonical_id(*parts: Any) -> str:
    """A stable id for an event Meta gives no id to: the same JSON always hashes the same."""
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def _text(value: Any) -> str | None:
    """A JSON scalar as a string (ids arrive as strings or numbers), or None."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return text if text else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _occurred_at(epoch: Any, request: WebhookRequest, *, millis: bool = False) -> str:
    try:
        seconds = float(epoch)
    except (TypeError, ValueError):
        return request.received_at
    return timestamp_from_epoch(seconds / 1000 if millis else seconds)


def _put(metadata: dict[str, str], key: str, value: Any) -> None:
    text = _text(value)
    if text is not None:
        metadata[key] = text


def _media_url(url: Any, metadata: dict[str, str]) -> str | None:
    """Keep a media URL only on Meta's own hosts (the hub may fetch it later: no SSRF)."""
    if not isinstance(url, str) or not url:
        return None
    if is_provider_media_url(url, META_MEDIA_HOSTS):
        return url
    metadata["dropped_media_url"] = "true"
    return None


def _event(**fields: Any) -> InboundEvent:
    try:
        return InboundEvent(provider=PROVIDER, **fields)
    except ModelError as err:
        raise PayloadError(str(err)) from err


def _unknown(channel: Channel, event_id: str, occurred_at: str, event_type: str,
             metadata: dict[str, str] | None = None) -> InboundEvent:
    return _event(event_id=event_id, kind=EventKind.UNKNOWN, channel=channel, occurred_at=occurred_at,
                  metadata={**(metadata or {}), "type": event_type})


# --- WhatsApp Cloud API -----------------------------------------------------------------------


def _whatsapp_identity(phone: str | None, bsuid: str | None) -> Identity | None:
    """The phone (E.164) when Meta shares it; the business-scoped user id otherwise."""
    try:
        if phone:
            return Identity(Channel.WHATSAPP, phone)
        if bsuid:
            return Identity(Channel.WHATSAPP, f"bsuid:{bsuid}")
    except ModelError as err:
        raise PayloadError(f"bad WhatsApp sender: {err}") from err
    return None


def _find_contact(contacts: list[Any], phone: str | None, bsuid: str | None) -> dict[str, Any]:
    for contact in contacts:
        contact = _dict(contact)
        if (phone and _text(contact.get("wa_id")) == phone) or (bsuid and _text(contact.get("user_id")) == bsuid):
            return contact
    return _dict(contacts[0]) if len(contacts) == 1 else {}


def _whatsapp_content(message: dict[str, Any], metadata: dict[str, str]
                      ) -> tuple[EventKind, str | None, tuple[Attachment, ...]]:
    """Kind, text and attachments of one WhatsApp message, by its ``type``."""
    message_type = _text(message.get("type")) or "unknown"
    body = _dict(message.get(message_type))
    if message_type == "text":
        return EventKind.MESSAGE, _text(body.get("body")), ()
    if message_type in _MEDIA_TYPES:
        _put(metadata, "media_sha256", body.get("sha256"))
        if body.get("voice") is True:
            metadata["voice"] = "true"
        if body.get("animated") is True:
            metadata["animated"] = "true"
        caption = _text(body.get("caption"))
        attachment = Attachment(
            kind=message_type,
            media_id=_text(body.get("id")),
            url=_media_url(body.get("url"), metadata),
            content_type=_text(body.get("mime_type")),
            name=_text(body.get("filename")),
            caption=caption,
        )
        return EventKind.MESSAGE, caption, (attachment,)
    if message_type == "location":
        for key in ("latitude", "longitude", "name", "address"):
            _put(metadata, f"location_{key}", body.get(key))
        name = _text(body.get("name")) or _text(body.get("address"))
        return EventKind.MESSAGE, None, (Attachment(kind="location", name=name),)
    if message_type == "contacts":
        shared = []
        for contact in _list(message.get("contacts")):
            contact = _dict(contact)
            shared.append({
                "name": _text(_dict(contact.get("name")).get("formatted_name")),
                "phones": [p.get("wa_id") or p.get("phone") for p in map(_dict, _list(contact.get("phones")))],
            })
        metadata["shared_contacts"] = json.dumps(shared, ensure_ascii=False)
        attachments = tuple(Attachment(kind="contact", name=c["name"]) for c in shared)
        return (EventKind.MESSAGE, None, attachments) if attachments else (EventKind.UNKNOWN, None, ())
    if message_type == "interactive":
        reply_type = _text(body.get("type")) or "unknown"
        reply = _dict(body.get(reply_type))
        metadata["interactive_type"] = reply_type
        if reply_type in ("button_reply", "list_reply"):
            _put(metadata, "reply_id", reply.get("id"))
            _put(metadata, "reply_description", reply.get("description"))
            return EventKind.MESSAGE, _text(reply.get("title")), ()
        if reply_type == "nfm_reply":  # a WhatsApp Flow was completed
            _put(metadata, "flow_name", reply.get("name"))
            _put(metadata, "flow_response_json", reply.get("response_json"))
            return EventKind.MESSAGE, _text(reply.get("body")) or "Flow completed", ()
        return EventKind.UNKNOWN, None, ()
    if message_type == "button":  # quick-reply button of a template
        _put(metadata, "button_payload", body.get("payload"))
        return EventKind.MESSAGE, _text(body.get("text")), ()
    if message_type == "reaction":
        _put(metadata, "reaction_to", body.get("message_id"))
        emoji = _text(body.get("emoji"))
        if not emoji:  # a reaction taken back: nothing the customer said
            metadata["reaction_removed"] = "true"
            return EventKind.UNKNOWN, None, ()
        return EventKind.MESSAGE, emoji, ()
    if message_type == "order":
        items = [_dict(item) for item in _list(body.get("product_items"))]
        _put(metadata, "order_catalog_id", body.get("catalog_id"))
        metadata["order_items"] = json.dumps(items, ensure_ascii=False, sort_keys=True)
        return EventKind.MESSAGE, _text(body.get("text")) or f"Order of {len(items)} item(s)", ()
    if message_type == "system":  # the customer changed number or identity
        metadata["lifecycle"] = _text(body.get("type")) or "system"
        _put(metadata, "new_wa_id", body.get("new_wa_id") or body.get("wa_id"))
        _put(metadata, "system_body", body.get("body"))
        return EventKind.LIFECYCLE, None, ()
    if message_type == "request_welcome":  # first contact, before the customer wrote anything
        metadata["lifecycle"] = "conversation_started"
        return EventKind.LIFECYCLE, None, ()
    # "unsupported", "unknown" or a type newer than this module.
    return EventKind.UNKNOWN, None, ()


def _whatsapp_message(message: dict[str, Any], value: dict[str, Any], base: dict[str, str],
                      request: WebhookRequest) -> InboundEvent:
    message_id = _text(message.get("id"))
    message_type = _text(message.get("type")) or "unknown"
    occurred_at = _occurred_at(message.get("timestamp"), request)
    metadata = dict(base)
    metadata["message_type"] = message_type
    if not message_id:
        return _unknown(Channel.WHATSAPP, _canonical_id(base, message), occurred_at, message_type, metadata)

    phone = _text(message.get("from"))
    bsuid = _text(message.get("from_user_id"))
    contact = _find_contact(_list(value.get("contacts")), phone, bsuid)
    phone = phone or _text(contact.get("wa_id"))
    bsuid = bsuid or _text(contact.get("user_id"))
    profile = _dict(contact.get("profile"))
    _put(metadata, "bsuid", bsuid)
    _put(metadata, "parent_bsuid", message.get("from_parent_user_id") or contact.get("parent_user_id"))
    _put(metadata, "username", profile.get("username"))

    context = _dict(message.get("context"))
    _put(metadata, "reply_to", context.get("id"))
    if context.get("forwarded") or context.get("frequently_forwarded"):
        metadata["forwarded"] = "true"
    referral = _dict(message.get("referral"))  # click-to-WhatsApp ad
    _put(metadata, "referral_source_id", referral.get("source_id"))
    _put(metadata, "referral_source_url", referral.get("source_url"))
    errors = _list(message.get("errors"))
    error_code = _text(_dict(errors[0]).get("code")) if errors else None

    kind, text, attachments = _whatsapp_content(message, metadata)
    if kind is EventKind.MESSAGE and not (text and text.strip()) and not attachments:
        kind = EventKind.UNKNOWN
    if kind is EventKind.MESSAGE and message_type in ("text", "button"):
        keyword = consent_keyword(text)
        if keyword is not None:
            metadata["consent"] = keyword.value

    identity = _whatsapp_identity(phone, bsuid)
    sender = None
    if identity is not None:
        sender = Sender(
            identity=identity,
            name=_text(profile.get("name")),
            phone=identity.address if not identity.address.startswith("bsuid:") else None,
        )
    if kind is EventKind.UNKNOWN or sender is None:
        metadata["type"] = message_type
        return _event(event_id=message_id, kind=EventKind.UNKNOWN, channel=Channel.WHATSAPP,
                      occurred_at=occurred_at, sender=sender, provider_message_id=message_id,
                      error_code=error_code, metadata=metadata)
    return _event(event_id=message_id, kind=kind, channel=Channel.WHATSAPP, occurred_at=occurred_at,
                  sender=sender, text=text, attachments=attachments, provider_message_id=message_id,
                  error_code=error_code, metadata=metadata)


def _whatsapp_status(status: dict[str, Any], base: dict[str, str], request: WebhookRequest) -> InboundEvent:
    message_id = _text(status.get("id"))
    status_name = _text(status.get("status")) or "unknown"
    occurred_at = _occurred_at(status.get("timestamp"), request)
    metadata = dict(base)
    metadata["status"] = status_name
    recipient_phone = _text(status.get("recipient_id"))
    recipient_bsuid = _text(status.get("recipient_user_id"))
    recipient = _whatsapp_identity(recipient_phone, recipient_bsuid)
    if recipient is not None:
        metadata["recipient"] = recipient.address
    _put(metadata, "recipient_bsuid", recipient_bsuid)
    _put(metadata, "conversation_id", _dict(status.get("conversation")).get("id"))
    _put(metadata, "pricing_category", _dict(status.get("pricing")).get("category"))
    _put(metadata, "biz_opaque_callback_data", status.get("biz_opaque_callback_data"))
    errors = _list(status.get("errors"))
    first_error = _dict(errors[0]) if errors else {}
    error_code = _text(first_error.get("code"))
    _put(metadata, "error_title", first_error.get("title"))
    if not message_id:
        return _unknown(Channel.WHATSAPP, _canonical_id(base, status), occurred_at, f"status:{status_name}",
                        metadata)
    event_id = f"{message_id}#{status_name}"
    delivery_status = WHATSAPP_STATUSES.get(status_name)
    if delivery_status is None:
        return _unknown(Channel.WHATSAPP, event_id, occurred_at, f"status:{status_name}", metadata)
    return _event(event_id=event_id, kind=EventKind.DELIVERY_STATUS, channel=Channel.WHATSAPP,
                  occurred_at=occurred_at, provider_message_id=message_id, status=delivery_status,
                  error_code=error_code, metadata=metadata)


def _parse_whatsapp_entry(entry: dict[str, Any], request: WebhookRequest) -> list[InboundEvent]:
    events: list[InboundEvent] = []
    for change in _list(entry.get("changes")):
        change = _dict(change)
        field = _text(change.get("field")) or "unknown"
        value = _dict(change.get("value"))
        if field in _ECHO_FIELDS:
            continue  # our own outbound messages, echoed back: never customer input
        base: dict[str, str] = {"object": "whatsapp_business_account", "field": field}
        _put(base, "waba_id", entry.get("id"))
        meta = _dict(value.get("metadata"))
        _put(base, "phone_number_id", meta.get("phone_number_id"))
        _put(base, "display_phone_number", meta.get("display_phone_number"))
        messages = _list(value.get("messages"))
        statuses = _list(value.get("statuses"))
        if field != "messages" or not (messages or statuses):
            # account_update, message_template_status_update, value-level errors, ...
            occurred_at = _occurred_at(entry.get("time"), request)
            events.append(_unknown(Channel.WHATSAPP, _canonical_id(entry.get("id"), change), occurred_at,
                                   field, base))
            continue
        events.extend(_whatsapp_message(_dict(message), value, base, request) for message in messages)
        events.extend(_whatsapp_status(_dict(status), base, request) for status in statuses)
    return events


# --- Messenger and Instagram (messaging[] entries) --------------------------------------------


def _messaging_event(item: dict[str, Any], channel: Channel, base: dict[str, str],
                     request: WebhookRequest) -> InboundEvent | None:
    occurred_at = _occurred_at(item.get("timestamp"), request, millis=True)
    sender_id = _text(_dict(item.get("sender")).get("id"))
    metadata = dict(base)
    _put(metadata, "recipient_id", _dict(item.get("recipient")).get("id"))
    message = item.get("message")
    postback = item.get("postback")
    if isinstance(message, dict):
        if message.get("is_echo"):
            return None  # our own outbound message
        message_id = _text(message.get("mid"))
        _put(metadata, "reply_to", _dict(message.get("reply_to")).get("mid"))
        _put(metadata, "quick_reply_payload", _dict(message.get("quick_reply")).get("payload"))
        attachments = []
        for attachment in map(_dict, _list(message.get("attachments"))):
            kind = _text(attachment.get("type")) or "file"
            url = _media_url(_dict(attachment.get("payload")).get("url"), metadata)
            attachments.append(Attachment(kind=kind, url=url))
        text = _text(message.get("text"))
        if message_id and sender_id and (text or attachments):
            metadata["message_type"] = "message"
            return _event(event_id=message_id, kind=EventKind.MESSAGE, channel=channel, occurred_at=occurred_at,
                          sender=Sender(identity=Identity(channel, sender_id)), text=text,
                          attachments=tuple(attachments), provider_message_id=message_id, metadata=metadata)
    elif isinstance(postback, dict) and sender_id:
        _put(metadata, "postback_payload", postback.get("payload"))
        metadata["message_type"] = "postback"
        title = _text(postback.get("title")) or _text(postback.get("payload"))
        event_id = _text(postback.get("mid")) or _canonical_id(base, item)
        if title:
            return _event(event_id=event_id, kind=EventKind.MESSAGE, channel=channel, occurred_at=occurred_at,
                          sender=Sender(identity=Identity(channel, sender_id)), text=title, metadata=metadata)
    # delivery, read, reaction, referral, optin, ... or a message with nothing in it.
    event_type = next((key for key in item if key not in ("sender", "recipient", "timestamp")), "unknown")
    return _unknown(channel, _canonical_id(base, item), occurred_at, event_type, metadata)


def _messaging_entry_parser(channel: Channel, object_name: str
                            ) -> Callable[[dict[str, Any], WebhookRequest], list[InboundEvent]]:
    def parse_entry(entry: dict[str, Any], request: WebhookRequest) -> list[InboundEvent]:
        base: dict[str, str] = {"object": object_name}
        _put(base, "page_id", entry.get("id"))
        events: list[InboundEvent] = []
        for item in _list(entry.get("messaging")):
            event = _messaging_event(_dict(item), channel, base, request)
            if event is not None:
                events.append(event)
        for change in _list(entry.get("changes")):  # comments, mentions, feed: not conversations yet
            change = _dict(change)
            field = _text(change.get("field")) or "unknown"
            events.append(_unknown(channel, _canonical_id(entry.get("id"), change),
                                   _occurred_at(entry.get("time"), request, millis=True), field,
                                   {**base, "field": field}))
        return events

    return parse_entry


_ENTRY_PARSERS: Mapping[str, Callable[[dict[str, Any], WebhookRequest], list[InboundEvent]]] = {
    "whatsapp_business_account": _parse_whatsapp_entry,
    "page": _messaging_entry_parser(Channel.MESSENGER, "page"),
    "instagram": _messaging_entry_parser(Channel.INSTAGRAM, "instagram"),
}


def parse_meta_event(request: WebhookRequest) -> list[InboundEvent]:
    try:
        data = json.loads(request.body)
    except (UnicodeDecodeError, ValueError) as err:
        raise PayloadError(f"body is not JSON: {err}") from err
    if not isinstance(data, dict):
        raise PayloadError("body must be a JSON object")
    object_name = data.get("object")
    entries = data.get("entry")
    if not isinstance(object_name, str) or not isinstance(entries, list):
        raise PayloadError("a Meta webhook needs \"object\" and an \"entry\" list")
    parse_entry = _ENTRY_PARSERS.get(object_name)
    if parse_entry is None:
        # An object this hub does not subscribe to (user, permissions, ...): kept, never fatal.
        # WhatsApp is the endpoint's main product, so the event is filed there.
        return [_unknown(Channel.WHATSAPP, _canonical_id(data), request.received_at, f"object:{object_name}",
                         {"object": object_name})]
    events: list[InboundEvent] = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise PayloadError("entry items must be objects")
        events.extend(parse_entry(entry, request))
    return events


def respond_meta(request: WebhookRequest, events: list[InboundEvent]) -> WebhookResponse:
    return WebhookResponse(200, '{"ok":true}')


CHANNEL = ChannelSpec(
    provider=PROVIDER,
    secret_names=(APP_SECRET_NAME, VERIFY_TOKEN_NAME),
    verify=verify_meta_signature,
    parse=parse_meta_event,
    handshake=answer_meta_verification,
    respond=respond_meta,
    max_body_bytes=MAX_BODY_BYTES,
)
