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

from chalicelib.core.consent import consent_keyword
from chalicelib.core.media import is_provider_media_url
from chalicelib.core.model import (
    Attachment,
    Channel,
    DeliveryStatus,
    EventKind,
    Identity,
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
    as_list,
    canonical_id,
    constant_time_equal,
    epoch_to_timestamp,
    identity_or_error,
    load_json,
    require_secret,
    unreadable_reason,
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


def _text(value: Any) -> str | None:
    """A JSON scalar as a string (ids arrive as strings or numbers), or None."""
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return text if text else None


def _occurred_at(epoch: Any, request: WebhookRequest, *, millis: bool = False) -> str:
    # Meta always sends a timestamp, but it only dates the event (the dedupe key is the id): a
    # missing or absurd one (NaN, 1e30) falls back to the reception time rather than lose the event.
    return epoch_to_timestamp(epoch, millis=millis, fallback=request.received_at)


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
    """The phone (E.164) when Meta shares it; the business-scoped user id otherwise (PayloadError if bad)."""
    if phone:
        return identity_or_error(Channel.WHATSAPP, phone)
    if bsuid:
        return identity_or_error(Channel.WHATSAPP, f"bsuid:{bsuid}")
    return None


def _guarded(channel: Channel, base: dict[str, str], item: Any, request: WebhookRequest,
             build: Callable[..., InboundEvent | None], *args: Any) -> InboundEvent | None:
    """``build(*args)``: one event of a batch; one that cannot be read is kept as UNKNOWN, the POST still succeeds."""
    try:
        return build(*args)
    except PayloadError as err:
        return _unknown(channel, canonical_id([base, item]), request.received_at, "invalid_event",
                        {**base, **unreadable_reason(err)})


def _find_contact(contacts: list[Any], phone: str | None, bsuid: str | None) -> dict[str, Any]:
    for contact in contacts:
        contact = as_dict(contact)
        if (phone and _text(contact.get("wa_id")) == phone) or (bsuid and _text(contact.get("user_id")) == bsuid):
            return contact
    return as_dict(contacts[0]) if len(contacts) == 1 else {}


def _whatsapp_content(message: dict[str, Any], metadata: dict[str, str]
                      ) -> tuple[EventKind, str | None, tuple[Attachment, ...]]:
    """Kind, text and attachments of one WhatsApp message, by its ``type``."""
    message_type = _text(message.get("type")) or "unknown"
    body = as_dict(message.get(message_type))
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
        shared: list[dict[str, Any]] = []
        for contact in as_list(message.get("contacts")):
            contact = as_dict(contact)
            shared.append({
                "name": _text(as_dict(contact.get("name")).get("formatted_name")),
                "phones": [p.get("wa_id") or p.get("phone") for p in map(as_dict, as_list(contact.get("phones")))],
            })
        metadata["shared_contacts"] = json.dumps(shared, ensure_ascii=False)
        attachments = tuple(Attachment(kind="contact", name=c["name"]) for c in shared)
        return (EventKind.MESSAGE, None, attachments) if attachments else (EventKind.UNKNOWN, None, ())
    if message_type == "interactive":
        reply_type = _text(body.get("type")) or "unknown"
        reply = as_dict(body.get(reply_type))
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
        items = [as_dict(item) for item in as_list(body.get("product_items"))]
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
        return _unknown(Channel.WHATSAPP, canonical_id([base, message]), occurred_at, message_type, metadata)

    phone = _text(message.get("from"))
    bsuid = _text(message.get("from_user_id"))
    contact = _find_contact(as_list(value.get("contacts")), phone, bsuid)
    phone = phone or _text(contact.get("wa_id"))
    bsuid = bsuid or _text(contact.get("user_id"))
    profile = as_dict(contact.get("profile"))
    _put(metadata, "bsuid", bsuid)
    _put(metadata, "parent_bsuid", message.get("from_parent_user_id") or contact.get("parent_user_id"))
    _put(metadata, "username", profile.get("username"))

    context = as_dict(message.get("context"))
    _put(metadata, "reply_to", context.get("id"))
    if context.get("forwarded") or context.get("frequently_forwarded"):
        metadata["forwarded"] = "true"
    referral = as_dict(message.get("referral"))  # click-to-WhatsApp ad
    _put(metadata, "referral_source_id", referral.get("source_id"))
    _put(metadata, "referral_source_url", referral.get("source_url"))
    errors = as_list(message.get("errors"))
    error_code = _text(as_dict(errors[0]).get("code")) if errors else None

    kind, text, attachments = _whatsapp_content(message, metadata)
    if kind is EventKind.MESSAGE and not (text and text.strip()) and not attachments:
        kind = EventKind.UNKNOWN
    try:
        identity = _whatsapp_identity(phone, bsuid)
    except PayloadError as err:
        # One sender Meta sends in a form the hub cannot read must not fail the batch it came in.
        metadata.update(unreadable_reason(err))
        identity, kind = None, EventKind.UNKNOWN
    if kind is EventKind.MESSAGE and message_type in ("text", "button"):
        keyword = consent_keyword(text)
        if keyword is not None:
            metadata["consent"] = keyword.value
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
    try:
        recipient = _whatsapp_identity(recipient_phone, recipient_bsuid)
    except PayloadError as err:  # the status still counts; only the recipient is unreadable
        metadata.update(reason="invalid_recipient", reason_detail=err.reason)
        recipient = None
    if recipient is not None:
        metadata["recipient"] = recipient.address
    _put(metadata, "recipient_bsuid", recipient_bsuid)
    _put(metadata, "conversation_id", as_dict(status.get("conversation")).get("id"))
    _put(metadata, "pricing_category", as_dict(status.get("pricing")).get("category"))
    _put(metadata, "biz_opaque_callback_data", status.get("biz_opaque_callback_data"))
    errors = as_list(status.get("errors"))
    first_error = as_dict(errors[0]) if errors else {}
    error_code = _text(first_error.get("code"))
    _put(metadata, "error_title", first_error.get("title"))
    if not message_id:
        return _unknown(Channel.WHATSAPP, canonical_id([base, status]), occurred_at, f"status:{status_name}",
                        metadata)
    event_id = f"{message_id}#{status_name}"
    delivery_status = WHATSAPP_STATUSES.get(status_name)
    if delivery_status is None:
        return _unknown(Channel.WHATSAPP, event_id, occurred_at, f"status:{status_name}", metadata)
    return _event(event_id=event_id, kind=EventKind.DELIVERY_STATUS, channel=Channel.WHATSAPP,
                  occurred_at=occurred_at, provider_message_id=message_id, status=delivery_status,
                  error_code=error_code, metadata=metadata)


def _parse_whatsapp_entry(entry: dict[str, Any], request: WebhookRequest) -> list[InboundEvent]:
    events: list[InboundEvent | None] = []
    for change in as_list(entry.get("changes")):
        change = as_dict(change)
        field = _text(change.get("field")) or "unknown"
        value = as_dict(change.get("value"))
        if field in _ECHO_FIELDS:
            continue  # our own outbound messages, echoed back: never customer input
        base: dict[str, str] = {"object": "whatsapp_business_account", "field": field}
        _put(base, "waba_id", entry.get("id"))
        meta = as_dict(value.get("metadata"))
        _put(base, "phone_number_id", meta.get("phone_number_id"))
        _put(base, "display_phone_number", meta.get("display_phone_number"))
        messages = as_list(value.get("messages"))
        statuses = as_list(value.get("statuses"))
        if field != "messages" or not (messages or statuses):
            # account_update, message_template_status_update, value-level errors, ...
            occurred_at = _occurred_at(entry.get("time"), request)
            events.append(_unknown(Channel.WHATSAPP, canonical_id([entry.get("id"), change]), occurred_at,
                                   field, base))
            continue
        for message in messages:
            events.append(_guarded(Channel.WHATSAPP, base, message, request,
                                   _whatsapp_message, as_dict(message), value, base, request))
        for status in statuses:
            events.append(_guarded(Channel.WHATSAPP, base, status, request,
                                   _whatsapp_status, as_dict(status), base, request))
    return [event for event in events if event is not None]


# --- Messenger and Instagram (messaging[] entries) --------------------------------------------


def _messaging_event(item: dict[str, Any], channel: Channel, base: dict[str, str],
                     request: WebhookRequest) -> InboundEvent | None:
    occurred_at = _occurred_at(item.get("timestamp"), request, millis=True)
    sender_id = _text(as_dict(item.get("sender")).get("id"))
    metadata = dict(base)
    _put(metadata, "recipient_id", as_dict(item.get("recipient")).get("id"))
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
        message_id = _text(message.get("mid"))
        _put(metadata, "reply_to", as_dict(message.get("reply_to")).get("mid"))
        _put(metadata, "quick_reply_payload", as_dict(message.get("quick_reply")).get("payload"))
        attachments = []
        for attachment in map(as_dict, as_list(message.get("attachments"))):
            kind = _text(attachment.get("type")) or "file"
            url = _media_url(as_dict(attachment.get("payload")).get("url"), metadata)
            attachments.append(Attachment(kind=kind, url=url))
        text = _text(message.get("text"))
        if message_id and sender and (text or attachments):
            metadata["message_type"] = "message"
            return _event(event_id=message_id, kind=EventKind.MESSAGE, channel=channel, occurred_at=occurred_at,
                          sender=sender, text=text,
                          attachments=tuple(attachments), provider_message_id=message_id, metadata=metadata)
        if message_id and sender_id and sender is None:  # Meta's id still dedupes it
            return _unknown(channel, message_id, occurred_at, "message", metadata)
    elif isinstance(postback, dict) and sender:
        _put(metadata, "postback_payload", postback.get("payload"))
        metadata["message_type"] = "postback"
        title = _text(postback.get("title")) or _text(postback.get("payload"))
        event_id = _text(postback.get("mid")) or canonical_id([base, item])
        if title:
            return _event(event_id=event_id, kind=EventKind.MESSAGE, channel=channel, occurred_at=occurred_at,
                          sender=sender, text=title, metadata=metadata)
    # delivery, read, reaction, referral, optin, ... or a message with nothing in it.
    event_type = next((key for key in item if key not in ("sender", "recipient", "timestamp")), "unknown")
    return _unknown(channel, canonical_id([base, item]), occurred_at, event_type, metadata)


def _messaging_entry_parser(channel: Channel, object_name: str
                            ) -> Callable[[dict[str, Any], WebhookRequest], list[InboundEvent]]:
    def parse_entry(entry: dict[str, Any], request: WebhookRequest) -> list[InboundEvent]:
        base: dict[str, str] = {"object": object_name}
        _put(base, "page_id", entry.get("id"))
        events: list[InboundEvent] = []
        for item in as_list(entry.get("messaging")):
            event = _guarded(channel, base, item, request, _messaging_event, as_dict(item), channel, base, request)
            if event is not None:
                events.append(event)
        for change in as_list(entry.get("changes")):  # comments, mentions, feed: not conversations yet
            change = as_dict(change)
            field = _text(change.get("field")) or "unknown"
            events.append(_unknown(channel, canonical_id([entry.get("id"), change]),
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
    data = load_json(request.body)
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
        return [_unknown(Channel.WHATSAPP, canonical_id([data]), request.received_at, f"object:{object_name}",
                         {"object": object_name})]
    events: list[InboundEvent] = []
    for entry in entries:
        if not isinstance(entry, dict):
            # Not an entry at all: kept raw like any unreadable event, the rest of the batch is stored.
            events.append(_unknown(Channel.WHATSAPP, canonical_id([object_name, entry]), request.received_at,
                                   "invalid_entry", {"object": object_name, "reason": "invalid_entry"}))
            continue
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
    # Meta retries a 4xx with the same bytes for up to 7 days, and a batch holds other customers' events.
    lone_surrogates=LoneSurrogates.REPLACE,
)
