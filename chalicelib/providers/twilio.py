"""Twilio Programmable Messaging: SMS, MMS and WhatsApp inbound, and message status callbacks.

Endpoints: ``POST /webhooks/twilio/messaging`` (:data:`MESSAGING`) and ``POST /webhooks/twilio/status``
(:data:`STATUS`), both signed with the account Auth Token (``TWILIO_AUTH_TOKEN``).

Signature (``X-Twilio-Signature``), exactly as the official SDK's ``RequestValidator`` checks it:
base64(HMAC-SHA1(auth token, URL + every form parameter as name + value, names sorted, the values of a
repeated name sorted too)). The URL is the public URL Twilio called (``request.public_url``, rebuilt
by the hub from ``PUBLIC_BASE_URL`` + path + query). JSON bodies are signed over the URL alone, and the
URL then carries ``bodySHA256=<hex sha256 of the raw body>``, which must match. Twilio is inconsistent
about the port in the URL it signs, so, like the SDK, the URL is tried without any port and with its
port (the scheme's default port when none is given). A ``X-Twilio-Webhooks-Signature-Settings``
header may name ``HMAC_SHA256`` (Twilio's shared-key signing); the hub then uses SHA-256 with the
same configured secret and rejects algorithms it does not know.

Forged requests get 403: Twilio's own security guide and SDK middlewares answer a bad signature with
403 Forbidden, and Twilio does not retry a messaging webhook that got a 4xx, so nothing loops.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit
from xml.sax.saxutils import escape

from chalicelib.core.consent import ConsentKeyword, consent_keyword
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
    normalize_phone,
)
from chalicelib.core.timestamps import utc_now
from chalicelib.providers.base import (
    AddressError,
    ChannelSpec,
    LoneSurrogates,
    PayloadError,
    Secrets,
    SignatureError,
    WebhookRequest,
    WebhookResponse,
    constant_time_equal,
    identity_or_error,
    require_secret,
    unreadable_reason,
)

PROVIDER = "twilio"
SECRET_NAME = "TWILIO_AUTH_TOKEN"
SIGNATURE_HEADER = "x-twilio-signature"
SIGNATURE_SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
BODY_HASH_PARAMETER = "bodySHA256"
HMAC_SHA1 = "HMAC_SHA1"
HMAC_SHA256 = "HMAC_SHA256"
_HASHES = {HMAC_SHA1: hashlib.sha1, HMAC_SHA256: hashlib.sha256}

# Inbound media lives under the Message's Media sub-resource on api.twilio.com; older MMS links
# and redirects point at Twilio's media CDN. Nothing else is ever kept as a fetchable URL.
MEDIA_HOSTS = ("api.twilio.com", "media.twiliocdn.com")

TWIML_CONTENT_TYPE = "text/xml"
TWIML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'

# Twilio's MessageStatus values (Message resource) → the hub's monotonic delivery status.
STATUS_MAP: dict[str, DeliveryStatus] = {
    "accepted": DeliveryStatus.QUEUED,  # a Messaging Service took it
    "scheduled": DeliveryStatus.QUEUED,
    "queued": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.QUEUED,  # still inside Twilio
    "sent": DeliveryStatus.SENT,
    "partially_delivered": DeliveryStatus.SENT,  # some segments only: not yet delivered
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "undelivered": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,  # a scheduled message that will never go out
    "receiving": DeliveryStatus.RECEIVED,  # inbound message statuses
    "received": DeliveryStatus.RECEIVED,
}

# Twilio's Advanced Opt-Out tells us what it already did with the keyword; it wins over our guess.
_OPT_OUT_TYPES = {"STOP": ConsentKeyword.OPT_OUT, "START": ConsentKeyword.OPT_IN, "HELP": ConsentKeyword.HELP}
# WhatsApp business-scoped user ids (BSUID): country code, dot, optional ENT., alphanumerics.
_BSUID = re.compile(r"^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$")
# XML 1.0 forbids these code points even escaped; a reply text must never break the TwiML.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# --- signatures -------------------------------------------------------------------------------


def _signed_payload(url: str, params: Iterable[tuple[str, str]] | Mapping[str, str]) -> str:
    pairs = params.items() if isinstance(params, Mapping) else params
    grouped: dict[str, set[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, set()).add(value)
    # Python sorts str by code point, which is the "Unix-style case-sensitive" order Twilio uses;
    # equal values of a repeated name count once, as in the SDK.
    return url + "".join(name + value for name in sorted(grouped) for value in sorted(grouped[name]))


def twilio_signature(
    auth_token: str,
    url: str,
    params: Iterable[tuple[str, str]] | Mapping[str, str] = (),
    algorithm: str = HMAC_SHA1,
) -> str:
    """The ``X-Twilio-Signature`` value for ``url`` and form ``params``."""
    hash_function = _HASHES.get(algorithm.upper())
    if hash_function is None:
        raise ValueError(f"unsupported Twilio signature algorithm: {algorithm}")
    mac = hmac.new(auth_token.encode(), _signed_payload(url, params).encode(), hash_function)
    return base64.b64encode(mac.digest()).decode()


def sign_twilio_request(auth_token: str, url: str, params: Iterable[tuple[str, str]] | Mapping[str, str]) -> str:
    """Sign a form-encoded webhook as Twilio does (``url`` is the full public URL, query included)."""
    return twilio_signature(auth_token, url, params)


def body_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def sign_twilio_json_request(auth_token: str, url: str, body: bytes) -> tuple[str, str]:
    """Sign a JSON webhook: returns ``(url with bodySHA256 appended, signature)``."""
    separator = "&" if urlsplit(url).query else "?"
    signed_url = f"{url}{separator}{BODY_HASH_PARAMETER}={body_sha256(body)}"
    return signed_url, twilio_signature(auth_token, signed_url)


def _url_variants(url: str) -> list[str]:
    """The URL without any port and with its port (default port added), as the SDK tries them."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    userinfo = parts.netloc[: len(parts.netloc) - len(host)]
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") and ":" in host else host
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    without_port = urlunsplit(parts._replace(netloc=userinfo + hostname))
    with_port = urlunsplit(parts._replace(netloc=f"{userinfo}{hostname}:{port}"))
    return [without_port, with_port]


# RFC 3986 lets these stand unencoded in a query; a URL typed into the Console often has them raw,
# one built by a library has them percent-encoded. "=" only inside a value ("token=abc==").
_QUERY_RAW_ALLOWED = "/?:@!$'()*,;"


def _encode_query_part(text: str, *, raw_reserved: bool, tilde_encoded: bool, plus_for_space: bool,
                       is_value: bool) -> str:
    safe = (_QUERY_RAW_ALLOWED + ("=" if is_value else "")) if raw_reserved else ""
    # surrogatepass: a gateway that decoded %ED%A0%BD to a lone surrogate gets the same bytes back.
    encoded = quote(text, safe=safe, errors="surrogatepass")
    if tilde_encoded:
        encoded = encoded.replace("~", "%7E")
    if plus_for_space:
        encoded = encoded.replace("%20", "+")
    return encoded


def query_encodings(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """The query strings Twilio may have signed for these decoded ``pairs``: at most 16, no duplicates.

    One choice per way of writing, applied to the whole query: a space as ``%20`` or ``+``; the
    characters RFC 3986 allows in a query (``/ ? : @ ! $ ' ( ) * , ;`` and ``=`` in a value) raw or
    percent-encoded; ``~`` raw or ``%7E``; an empty value as ``name=`` or a bare ``name``. Only the
    choices that change something for these pairs are tried. Every candidate decodes to the same pairs,
    so accepting any of them accepts nothing Twilio did not sign.
    """
    texts = [part for pair in pairs for part in pair]
    relevant = (
        any(" " in text for text in texts),
        any(ch in _QUERY_RAW_ALLOWED for text in texts for ch in text) or any("=" in value for _, value in pairs),
        any("~" in text for text in texts),
        any(value == "" for _, value in pairs),
    )
    choices = [(False, True) if matters else (False,) for matters in relevant]
    encodings: list[str] = []
    for plus_for_space, raw_reserved, tilde_encoded, bare_empty in itertools.product(*choices):
        style = {"raw_reserved": raw_reserved, "tilde_encoded": tilde_encoded, "plus_for_space": plus_for_space}
        query = "&".join(
            _encode_query_part(name, is_value=False, **style)
            + ("" if bare_empty and value == "" else "=" + _encode_query_part(value, is_value=True, **style))
            for name, value in pairs
        )
        if query not in encodings:
            encodings.append(query)
    return encodings


def _query_pairs(request: WebhookRequest) -> list[tuple[str, str]]:
    if request.query_pairs:
        return list(request.query_pairs)
    # A request built without the gateway's pairs (tests, tools): the query of the public URL.
    return parse_qsl(urlsplit(request.public_url).query, keep_blank_values=True)


def signed_url_candidates(request: WebhookRequest) -> list[str]:
    """Every URL Twilio may have signed for this request, each without and with its port.

    API Gateway (REST) hands the Lambda the query decoded, so the URL typed into the Console cannot be
    rebuilt byte for byte: the raw query when the gateway passes one, the hub's own encoding, then the
    few other encodings of the same parameters (:func:`query_encodings`).
    """
    base, _, rebuilt_query = request.public_url.partition("?")
    queries = [request.raw_query] if request.raw_query is not None else []
    queries += [rebuilt_query, *query_encodings(_query_pairs(request))]
    candidates: list[str] = []
    for query in dict.fromkeys(queries):
        for url in _url_variants(base + ("?" + query if query else "")):
            if url not in candidates:
                candidates.append(url)
    return candidates


def _signature_algorithm(settings_header: str | None) -> str:
    for part in (settings_header or "").split(","):
        name, separator, value = part.partition("=")
        if separator and name.strip() == "algorithm" and value.strip():
            algorithm = value.strip().upper()
            if algorithm not in _HASHES:
                raise SignatureError(f"unsupported signature algorithm {value.strip()!r}")
            return algorithm
    return HMAC_SHA1


def _signed_form_params(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        # Twilio signs UTF-8 text: a body that is not UTF-8 cannot carry its signature.
        raise SignatureError("the form body is not UTF-8") from err
    return parse_qsl(text, keep_blank_values=True)


def verify_twilio_signature(request: WebhookRequest, secrets: Secrets, now: float) -> None:
    """Raise :class:`SignatureError` unless Twilio signed this request (``now`` is unused: no timestamp)."""
    auth_token = require_secret(secrets, SECRET_NAME)
    signature = (request.header(SIGNATURE_HEADER) or "").strip()
    if not signature:
        raise SignatureError("missing X-Twilio-Signature")
    if not request.public_url:
        raise SignatureError("the public URL Twilio signed is unknown (set PUBLIC_BASE_URL)")
    algorithm = _signature_algorithm(request.header(SIGNATURE_SETTINGS_HEADER))
    pairs = _query_pairs(request)
    params: list[tuple[str, str]] = []
    body_hash = next((value for name, value in pairs if name == BODY_HASH_PARAMETER), None)
    if body_hash is not None:
        if not constant_time_equal(body_sha256(request.body), body_hash.strip().lower()):
            raise SignatureError("bodySHA256 does not match the body")
    else:
        params = _signed_form_params(request.body)
    for candidate in signed_url_candidates(request):
        if constant_time_equal(twilio_signature(auth_token, candidate, params, algorithm), signature):
            return
    raise SignatureError("X-Twilio-Signature mismatch")


# --- parsing ----------------------------------------------------------------------------------


def _form(request: WebhookRequest) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in request.form():
        params.setdefault(name, value)  # Twilio never repeats a messaging parameter
    if not params:
        raise PayloadError("empty form body")
    return params


def _occurred_at(request: WebhookRequest) -> str:
    # Twilio's messaging webhooks carry no event timestamp.
    return request.received_at or utc_now()


def _channel_of(address: str) -> tuple[Channel, str | None]:
    """Twilio's channel address prefix → (channel, transport metadata)."""
    prefix, _, _ = address.partition(":")
    prefix = prefix.lower() if ":" in address else ""
    if prefix == "whatsapp":
        return Channel.WHATSAPP, None
    if prefix == "messenger":
        return Channel.MESSENGER, None
    if prefix == "rcs":
        return Channel.SMS, "rcs"
    return Channel.SMS, None


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
    params = _form(request)
    message_sid = params.get("MessageSid") or params.get("SmsMessageSid") or params.get("SmsSid")
    if not message_sid:
        raise PayloadError("MessageSid is required")
    from_address = params.get("From") or ""
    if not from_address.strip():
        raise PayloadError("From is required")
    channel, transport = _channel_of(from_address)
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
                occurred_at=_occurred_at(request),
                sender=sender,
                text=text,
                attachments=tuple(attachments),
                provider_message_id=message_sid,
                metadata=metadata if has_content else {**metadata, "type": params.get("MessageType") or "empty"},
            )
        ]
    except ModelError as err:
        raise PayloadError(str(err)) from err


def parse_twilio_status(request: WebhookRequest) -> list[InboundEvent]:
    """A status callback for a message we sent: one event per transition, ``<MessageSid>#<status>``."""
    params = _form(request)
    message_sid = params.get("MessageSid") or params.get("SmsSid")
    raw_status = (params.get("MessageStatus") or params.get("SmsStatus") or "").strip().lower()
    if not message_sid:
        raise PayloadError("MessageSid is required")
    if not raw_status:
        raise PayloadError("MessageStatus is required")
    to_address, from_address = params.get("To") or "", params.get("From") or ""
    channel, transport = _channel_of(to_address if ":" in to_address else from_address)
    metadata = {"twilio_status": raw_status}
    for name, key in (
        ("To", "to"),
        ("From", "from"),
        ("ErrorMessage", "error_message"),
        ("AccountSid", "account_sid"),
        ("MessagingServiceSid", "messaging_service_sid"),
        ("RawDlrDoneDate", "raw_dlr_done_date"),
        ("ChannelStatusMessage", "channel_status_message"),
    ):
        if params.get(name):
            metadata[key] = params[name]
    if transport:
        metadata["transport"] = transport
    status = STATUS_MAP.get(raw_status)
    try:
        if status is None:
            return [
                InboundEvent(
                    provider=PROVIDER,
                    event_id=f"{message_sid}#{raw_status}",
                    kind=EventKind.UNKNOWN,
                    channel=channel,
                    occurred_at=_occurred_at(request),
                    provider_message_id=message_sid,
                    metadata={**metadata, "type": f"status:{raw_status}"},
                )
            ]
        return [
            InboundEvent(
                provider=PROVIDER,
                event_id=f"{message_sid}#{raw_status}",
                kind=EventKind.DELIVERY_STATUS,
                channel=channel,
                occurred_at=_occurred_at(request),
                provider_message_id=message_sid,
                status=status,
                error_code=params.get("ErrorCode") or None,
                metadata=metadata,
            )
        ]
    except ModelError as err:
        raise PayloadError(str(err)) from err


# --- responses --------------------------------------------------------------------------------


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


def respond_twilio_status(request: WebhookRequest, events: list[InboundEvent]) -> WebhookResponse:
    """Twilio ignores the body of a status callback's answer: 200, empty."""
    return WebhookResponse(200, "", content_type="text/plain")


MESSAGING = ChannelSpec(
    provider=PROVIDER,
    secret_names=(SECRET_NAME,),
    verify=verify_twilio_signature,
    parse=parse_twilio_message,
    respond=respond_twilio_messaging,
    instant_reply=reply_in_twiml,
    forged_status=403,
    lone_surrogates=LoneSurrogates.REPLACE,
)

STATUS = ChannelSpec(
    provider=PROVIDER,
    secret_names=(SECRET_NAME,),
    verify=verify_twilio_signature,
    parse=parse_twilio_status,
    respond=respond_twilio_status,
    forged_status=403,
    lone_surrogates=LoneSurrogates.REPLACE,
)
