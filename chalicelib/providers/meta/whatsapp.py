"""WhatsApp Cloud API entries (``object: whatsapp_business_account``): messages and statuses.

``entry[] × changes[] × value.messages[] / value.statuses[]``, one event per message or status. Dedupe
keys: the message id (``wamid....``), ``<message id>#<status>`` for statuses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from chalicelib.core.consent import consent_keyword
from chalicelib.core.model import (
    Attachment,
    Channel,
    DeliveryStatus,
    EventKind,
    Identity,
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


def _whatsapp_identity(phone: str | None, bsuid: str | None) -> Identity | None:
    """The phone (E.164) when Meta shares it; the business-scoped user id otherwise (PayloadError if bad)."""
    if phone:
        return identity_or_error(Channel.WHATSAPP, phone)
    if bsuid:
        return identity_or_error(Channel.WHATSAPP, f"bsuid:{bsuid}")
    return None


def _find_contact(contacts: list[Any], phone: str | None, bsuid: str | None) -> dict[str, Any]:
    for contact in contacts:
        contact = as_dict(contact)
        if (phone and text_of(contact.get("wa_id")) == phone) or (bsuid and text_of(contact.get("user_id")) == bsuid):
            return contact
    return as_dict(contacts[0]) if len(contacts) == 1 else {}


def _whatsapp_content(message: dict[str, Any], metadata: dict[str, str]
                      ) -> tuple[EventKind, str | None, tuple[Attachment, ...]]:
    """Kind, text and attachments of one WhatsApp message, by its ``type``."""
    message_type = text_of(message.get("type")) or "unknown"
    body = as_dict(message.get(message_type))
    if message_type == "text":
        return EventKind.MESSAGE, text_of(body.get("body")), ()
    if message_type in _MEDIA_TYPES:
        put(metadata, "media_sha256", body.get("sha256"))
        if body.get("voice") is True:
            metadata["voice"] = "true"
        if body.get("animated") is True:
            metadata["animated"] = "true"
        caption = text_of(body.get("caption"))
        attachment = Attachment(
            kind=message_type,
            media_id=text_of(body.get("id")),
            url=media_url(body.get("url"), metadata),
            content_type=text_of(body.get("mime_type")),
            name=text_of(body.get("filename")),
            caption=caption,
        )
        return EventKind.MESSAGE, caption, (attachment,)
    if message_type == "location":
        for key in ("latitude", "longitude", "name", "address"):
            put(metadata, f"location_{key}", body.get(key))
        name = text_of(body.get("name")) or text_of(body.get("address"))
        return EventKind.MESSAGE, None, (Attachment(kind="location", name=name),)
    if message_type == "contacts":
        shared: list[dict[str, Any]] = []
        for contact in as_list(message.get("contacts")):
            contact = as_dict(contact)
            shared.append({
                "name": text_of(as_dict(contact.get("name")).get("formatted_name")),
                "phones": [p.get("wa_id") or p.get("phone") for p in map(as_dict, as_list(contact.get("phones")))],
            })
        metadata["shared_contacts"] = json.dumps(shared, ensure_ascii=False)
        attachments = tuple(Attachment(kind="contact", name=c["name"]) for c in shared)
        return (EventKind.MESSAGE, None, attachments) if attachments else (EventKind.UNKNOWN, None, ())
    if message_type == "interactive":
        reply_type = text_of(body.get("type")) or "unknown"
        reply = as_dict(body.get(reply_type))
        metadata["interactive_type"] = reply_type
        if reply_type in ("button_reply", "list_reply"):
            put(metadata, "reply_id", reply.get("id"))
            put(metadata, "reply_description", reply.get("description"))
            return EventKind.MESSAGE, text_of(reply.get("title")), ()
        if reply_type == "nfm_reply":  # a WhatsApp Flow was completed
            put(metadata, "flow_name", reply.get("name"))
            put(metadata, "flow_response_json", reply.get("response_json"))
            return EventKind.MESSAGE, text_of(reply.get("body")) or "Flow completed", ()
        return EventKind.UNKNOWN, None, ()
    if message_type == "button":  # quick-reply button of a template
        put(metadata, "button_payload", body.get("payload"))
        return EventKind.MESSAGE, text_of(body.get("text")), ()
    if message_type == "reaction":
        put(metadata, "reaction_to", body.get("message_id"))
        emoji = text_of(body.get("emoji"))
        if not emoji:  # a reaction taken back: nothing the customer said
            metadata["reaction_removed"] = "true"
            return EventKind.UNKNOWN, None, ()
        return EventKind.MESSAGE, emoji, ()
    if message_type == "order":
        items = [as_dict(item) for item in as_list(body.get("product_items"))]
        put(metadata, "order_catalog_id", body.get("catalog_id"))
        metadata["order_items"] = json.dumps(items, ensure_ascii=False, sort_keys=True)
        return EventKind.MESSAGE, text_of(body.get("text")) or f"Order of {len(items)} item(s)", ()
    if message_type == "system":  # the customer changed number or identity
        metadata["lifecycle"] = text_of(body.get("type")) or "system"
        put(metadata, "new_wa_id", body.get("new_wa_id") or body.get("wa_id"))
        put(metadata, "system_body", body.get("body"))
        return EventKind.LIFECYCLE, None, ()
    if message_type == "request_welcome":  # first contact, before the customer wrote anything
        metadata["lifecycle"] = "conversation_started"
        return EventKind.LIFECYCLE, None, ()
    # "unsupported", "unknown" or a type newer than this module.
    return EventKind.UNKNOWN, None, ()


def _whatsapp_message(message: dict[str, Any], value: dict[str, Any], base: dict[str, str],
                      request: WebhookRequest) -> InboundEvent:
    message_id = text_of(message.get("id"))
    message_type = text_of(message.get("type")) or "unknown"
    occurred_at = date_of(message.get("timestamp"), request)
    metadata = dict(base)
    metadata["message_type"] = message_type
    if not message_id:
        return unknown_event(Channel.WHATSAPP, canonical_id([base, message]), occurred_at, message_type, metadata)

    phone = text_of(message.get("from"))
    bsuid = text_of(message.get("from_user_id"))
    contact = _find_contact(as_list(value.get("contacts")), phone, bsuid)
    phone = phone or text_of(contact.get("wa_id"))
    bsuid = bsuid or text_of(contact.get("user_id"))
    profile = as_dict(contact.get("profile"))
    put(metadata, "bsuid", bsuid)
    put(metadata, "parent_bsuid", message.get("from_parent_user_id") or contact.get("parent_user_id"))
    put(metadata, "username", profile.get("username"))

    context = as_dict(message.get("context"))
    put(metadata, "reply_to", context.get("id"))
    if context.get("forwarded") or context.get("frequently_forwarded"):
        metadata["forwarded"] = "true"
    referral = as_dict(message.get("referral"))  # click-to-WhatsApp ad
    put(metadata, "referral_source_id", referral.get("source_id"))
    put(metadata, "referral_source_url", referral.get("source_url"))
    errors = as_list(message.get("errors"))
    error_code = text_of(as_dict(errors[0]).get("code")) if errors else None

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
            name=text_of(profile.get("name")),
            phone=identity.address if not identity.address.startswith("bsuid:") else None,
        )
    if kind is EventKind.UNKNOWN or sender is None:
        metadata["type"] = message_type
        return meta_event(event_id=message_id, kind=EventKind.UNKNOWN, channel=Channel.WHATSAPP,
                      occurred_at=occurred_at, sender=sender, provider_message_id=message_id,
                      error_code=error_code, metadata=metadata)
    return meta_event(event_id=message_id, kind=kind, channel=Channel.WHATSAPP, occurred_at=occurred_at,
                  sender=sender, text=text, attachments=attachments, provider_message_id=message_id,
                  error_code=error_code, metadata=metadata)


def _whatsapp_status(status: dict[str, Any], base: dict[str, str], request: WebhookRequest) -> InboundEvent:
    message_id = text_of(status.get("id"))
    status_name = text_of(status.get("status")) or "unknown"
    occurred_at = date_of(status.get("timestamp"), request)
    metadata = dict(base)
    metadata["status"] = status_name
    recipient_phone = text_of(status.get("recipient_id"))
    recipient_bsuid = text_of(status.get("recipient_user_id"))
    try:
        recipient = _whatsapp_identity(recipient_phone, recipient_bsuid)
    except PayloadError as err:  # the status still counts; only the recipient is unreadable
        metadata.update(reason="invalid_recipient", reason_detail=err.reason)
        recipient = None
    if recipient is not None:
        metadata["recipient"] = recipient.address
    put(metadata, "recipient_bsuid", recipient_bsuid)
    put(metadata, "conversation_id", as_dict(status.get("conversation")).get("id"))
    put(metadata, "pricing_category", as_dict(status.get("pricing")).get("category"))
    put(metadata, "biz_opaque_callback_data", status.get("biz_opaque_callback_data"))
    errors = as_list(status.get("errors"))
    first_error = as_dict(errors[0]) if errors else {}
    error_code = text_of(first_error.get("code"))
    put(metadata, "error_title", first_error.get("title"))
    if not message_id:
        return unknown_event(Channel.WHATSAPP, canonical_id([base, status]), occurred_at, f"status:{status_name}",
                        metadata)
    event_id = f"{message_id}#{status_name}"
    delivery_status = WHATSAPP_STATUSES.get(status_name)
    if delivery_status is None:
        return unknown_event(Channel.WHATSAPP, event_id, occurred_at, f"status:{status_name}", metadata)
    return meta_event(event_id=event_id, kind=EventKind.DELIVERY_STATUS, channel=Channel.WHATSAPP,
                  occurred_at=occurred_at, provider_message_id=message_id, status=delivery_status,
                  error_code=error_code, metadata=metadata)


def parse_whatsapp_entry(entry: dict[str, Any], request: WebhookRequest) -> list[InboundEvent]:
    events: list[InboundEvent | None] = []
    for change in as_list(entry.get("changes")):
        change = as_dict(change)
        field = text_of(change.get("field")) or "unknown"
        value = as_dict(change.get("value"))
        if field in _ECHO_FIELDS:
            continue  # our own outbound messages, echoed back: never customer input
        base: dict[str, str] = {"object": "whatsapp_business_account", "field": field}
        put(base, "waba_id", entry.get("id"))
        meta = as_dict(value.get("metadata"))
        put(base, "phone_number_id", meta.get("phone_number_id"))
        put(base, "display_phone_number", meta.get("display_phone_number"))
        messages = as_list(value.get("messages"))
        statuses = as_list(value.get("statuses"))
        if field != "messages" or not (messages or statuses):
            # account_update, message_template_status_update, value-level errors, ...
            occurred_at = date_of(entry.get("time"), request)
            events.append(unknown_event(Channel.WHATSAPP, canonical_id([entry.get("id"), change]), occurred_at,
                                   field, base))
            continue
        for message in messages:
            events.append(guarded(Channel.WHATSAPP, base, message, request,
                                   _whatsapp_message, as_dict(message), value, base, request))
        for status in statuses:
            events.append(guarded(Channel.WHATSAPP, base, status, request,
                                   _whatsapp_status, as_dict(status), base, request))
    return [event for event in events if event is not None]
