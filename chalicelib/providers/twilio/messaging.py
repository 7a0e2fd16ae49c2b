"""Twilio Programmable Messaging inbound: SMS, MMS and WhatsApp, ``POST /webhooks/twilio/messaging``.

One message per request, deduplicated on ``MessageSid``; the answer is TwiML, which may carry the
acknowledgment (:func:`reply_in_twiml`). Signed like every Twilio webhook (``twilio/signature.py``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from chalicelib.core.consent import ConsentKeyword, consent_keyword
from chalicelib.core.media import is_provider_media_url
from chalicelib.core.model import (
    Attachment,
    Channel,
    EventKind,
    Identity,
    InboundEvent,
    ModelError,
    Sender,
    normalize_phone,
)
from chalicelib.providers.base import (
    AddressError,
    ChannelSpec,
    LoneSurrogates,
    PayloadError,
    WebhookRequest,
    WebhookResponse,
    identity_or_error,
    unreadable_reason,
)
from chalicelib.providers.twilio.fields import PROVIDER, channel_of, form_params, received_time
from chalicelib.providers.twilio.signature import FORGED_STATUS, SECRET_NAME, verify_twilio_signature

# Inbound media lives under the Message's Media sub-resource on api.twilio.com; older MMS links
# and redirects point at Twilio's media CDN. Nothing else is ever kept as a fetchable URL.
MEDIA_HOSTS = ("api.twilio.com", "media.twiliocdn.com")

TWIML_CONTENT_TYPE = "text/xml"
TWIML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'

# Twilio's Advanced Opt-Out tells us what it already did with the keyword; it wins over our guess.
_OPT_OUT_TYPES = {"STOP": ConsentKeyword.OPT_OUT, "START": ConsentKeyword.OPT_IN, "HELP": ConsentKeyword.HELP}
# WhatsApp business-scoped user ids (BSUID): country code, dot, optional ENT., alphanumerics.
_BSUID = re.compile(r"^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$")
# XML 1.0 forbids these code points even escaped; a reply text must never break the TwiML.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _sender_identity(channel: Channel, from_address: str, params: Mapping[str, str]) -> tuple[Identity, str | None]:
    """The customer's identity and, when known, their E.164 phone; AddressError (a PayloadError) otherwise."""
    bare = from_address.split(":", 1)[1] if ":" in from_address else from_address
    bare = bare.strip()
    if channel is Channel.MESSENGER:
        return identity_or_error(channel, bare), None
    phone = _phone_or_none(bare)
    if channel is Channel.WHATSAPP:
        # WhatsApp users with a username may come without a phone number: Twilio then gives the
        # business-scoped user id, in From or in its own parameter.
        scoped_id = (params.get("ExternalUserId") or params.get("BusinessScopedUserId") or "").strip()
        if _BSUID.match(bare):
            return identity_or_error(channel, f"bsuid:{bare}"), None
        if phone is None and scoped_id:
            return identity_or_error(channel, f"bsuid:{scoped_id}"), None
    if phone is None:
        # A short code ("12345") or an alphanumeric sender id ("VERIFY") is no customer phone number.
        raise AddressError("From is not a phone number in international form")
    return identity_or_error(channel, phone), phone


def _phone_or_none(value: str) -> str | None:
    try:
        return normalize_phone(value)
    except ModelError:
        return None


def _attachment_kind(content_type: str | None) -> str:
    major, _, minor = (content_type or "").lower().partition("/")
    if major in ("image", "audio", "video"):
        return major
    if minor in ("vcard", "x-vcard"):
        return "contact"
    if major in ("application", "text"):
        return "document"
    return "file"


def _media_attachments(params: Mapping[str, str], metadata: dict[str, str]) -> list[Attachment]:
    try:
        count = int(params.get("NumMedia") or 0)
    except ValueError as err:
        raise PayloadError("NumMedia is not a number") from err
    attachments = []
    for index in range(max(0, min(count, 10))):  # Twilio delivers at most 10 media per message
        url = params.get(f"MediaUrl{index}")
        content_type = params.get(f"MediaContentType{index}") or None
        if not url:
            continue
        media_id = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1] or None
        if is_provider_media_url(url, MEDIA_HOSTS):
            attachments.append(
                Attachment(kind=_attachment_kind(content_type), url=url, media_id=media_id, content_type=content_type)
            )
        else:
            metadata["dropped_media_url"] = "true"
            attachments.append(Attachment(kind=_attachment_kind(content_type), content_type=content_type))
    return attachments


def _location_attachment(params: Mapping[str, str], metadata: dict[str, str]) -> Attachment | None:
    latitude, longitude = params.get("Latitude"), params.get("Longitude")
    if not latitude or not longitude:
        return None
    metadata["latitude"], metadata["longitude"] = latitude, longitude
    for source, key in (("Address", "address"), ("Label", "label")):
        if params.get(source):
            metadata[key] = params[source]
    return Attachment(kind="location", name=params.get("Label") or None, caption=params.get("Address") or None)


_METADATA_PARAMETERS = {
    "To": "to",
    "AccountSid": "account_sid",
    "MessagingServiceSid": "messaging_service_sid",
    "WaId": "wa_id",
    "ButtonText": "button_text",
    "ButtonPayload": "button_payload",
    "OriginalRepliedMessageSid": "replied_to_message_id",
    "OriginalRepliedMessageSender": "replied_to_sender",
    "MessageType": "message_type",
    "NumSegments": "num_segments",
    "Forwarded": "forwarded",
    "FrequentlyForwarded": "frequently_forwarded",
    "ReferralCtwaClid": "referral_ctwa_clid",
    "ExternalUserId": "bsuid",
    "OptOutType": "opt_out_type",
}


def parse_twilio_message(request: WebhookRequest) -> list[InboundEvent]:
    """An inbound SMS, MMS or WhatsApp message (one per webhook), deduplicated on ``MessageSid``."""
    params = form_params(request)
    message_sid = params.get("MessageSid") or params.get("SmsMessageSid") or params.get("SmsSid")
    if not message_sid:
        raise PayloadError("MessageSid is required")
    from_address = params.get("From") or ""
    if not from_address.strip():
        raise PayloadError("From is required")
    channel, transport = channel_of(from_address)
    metadata = {key: params[name] for name, key in _METADATA_PARAMETERS.items() if params.get(name)}
    if transport:
        metadata["transport"] = transport
    if params.get("FromCountry"):
        metadata["country"] = params["FromCountry"]
    text = params.get("Body") or None
    if not text and params.get("ButtonText"):
        text = params["ButtonText"]
    attachments = _media_attachments(params, metadata)
    location = _location_attachment(params, metadata)
    if location is not None:
        attachments.append(location)
    sender: Sender | None = None
    try:
        identity, phone = _sender_identity(channel, from_address, params)
    except PayloadError as err:
        # Twilio never retries a 4xx, so refusing the webhook would lose the message for good: it is
        # kept as UNKNOWN (raw payload stored, deduplicated on MessageSid) for someone to look at.
        metadata.update(unreadable_reason(err))
    else:
        sender = Sender(identity=identity, name=params.get("ProfileName") or None, phone=phone)
        if channel in (Channel.SMS, Channel.WHATSAPP):
            keyword = _OPT_OUT_TYPES.get(params.get("OptOutType", "").strip().upper()) or consent_keyword(text)
            if keyword is not None:
                metadata["consent"] = keyword.value
    has_content = sender is not None and (bool(text and text.strip()) or bool(attachments))
    try:
        return [
            InboundEvent(
                provider=PROVIDER,
                event_id=message_sid,
                # A WhatsApp reaction or an unsupported message type arrives with neither text nor
                # media: keep it, stored raw, rather than fail the webhook.
                kind=EventKind.MESSAGE if has_content else EventKind.UNKNOWN,
                channel=channel,
                occurred_at=received_time(request),
                sender=sender,
                text=text,
                attachments=tuple(attachments),
                provider_message_id=message_sid,
                metadata=metadata if has_content else {**metadata, "type": params.get("MessageType") or "empty"},
            )
        ]
    except ModelError as err:
        raise PayloadError(str(err)) from err


# --- the answer: TwiML --------------------------------------------------------------------------------


def twiml_response(messages: Sequence[str]) -> str:
    """A TwiML ``<Response>`` with one ``<Message>`` per reply text (none: Twilio sends nothing)."""
    body = "".join(f"<Message>{escape(_XML_INVALID.sub('', text))}</Message>" for text in messages)
    return f"{TWIML_DECLARATION}<Response>{body}</Response>"


def respond_twilio_messaging(
    request: WebhookRequest, events: list[InboundEvent], replies: Sequence[str] = ()
) -> WebhookResponse:
    """Twilio reads the webhook's answer as TwiML; an empty ``<Response/>`` means "no reply"."""
    return WebhookResponse(200, twiml_response(replies), content_type=TWIML_CONTENT_TYPE)


def reply_in_twiml(request: WebhookRequest, event: InboundEvent, text: str) -> WebhookResponse:
    """The acknowledgment as a TwiML ``<Message>``: Twilio sends it back on the channel it came in on."""
    return respond_twilio_messaging(request, [event], replies=(text,))


MESSAGING = ChannelSpec(
    provider=PROVIDER,
    secret_names=(SECRET_NAME,),
    verify=verify_twilio_signature,
    parse=parse_twilio_message,
    respond=respond_twilio_messaging,
    instant_reply=reply_in_twiml,
    forged_status=FORGED_STATUS,
    # Twilio never retries a 4xx: a 400 would lose the message.
    lone_surrogates=LoneSurrogates.REPLACE,
)
