"""Vonage Messages API: inbound messages and message status webhooks, ``POST /webhooks/vonage/messages``.

Point both the application's Inbound URL and Status URL at this endpoint: the two are told apart by
shape (a status webhook carries ``status``, an inbound message ``message_type``).

Signature: Vonage signs every Messages webhook with a JWT in ``Authorization: Bearer <jwt>``, HS256
with the account's signature secret (``VONAGE_SIGNATURE_SECRET``). Its claims carry ``iat``, ``jti``,
``iss``, ``api_key``, ``application_id`` and ``payload_hash`` = hex SHA-256 of the body. The token is
verified with PyJWT (pure Python, imported only by this webhook): only ``alg`` HS256 is accepted
(never ``none``, never an algorithm the sender picks), ``iat`` and ``payload_hash`` are required,
``payload_hash`` must match the body, ``exp``/``nbf`` are honoured when present, ``iat`` may be at
most 5 minutes in the future and at most 25 hours old, and a claim of the wrong type or an absurd
value (``iat: -10**400``) is a forged token like any other. The age bound is wide on purpose: Vonage
retries a failed webhook for 24 hours and the hub cannot assume each retry is re-signed; replays of
the same body are harmless because every event is deduplicated on ``message_uuid``.

``payload_hash`` is checked against the SHA-256 of the raw body only, never of a re-serialized one:
Vonage hashes the bytes it sends, and accepting other forms would let a modified body through.

A request with no token at all is answered 401 like any other unsigned request: the hub answers 5xx
only when its durable write failed, never for a request it cannot trust. Nothing is stored.

An inbound message whose sender the hub cannot read (an SMS from an alphanumeric sender id) is kept
as an UNKNOWN event, deduplicated on ``message_uuid``, rather than refused: a 4xx loses it for good.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Any

from chalicelib.core.consent import consent_keyword
from chalicelib.core.media import is_provider_media_url
from chalicelib.core.model import (
    Attachment,
    Channel,
    DeliveryStatus,
    EventKind,
    InboundEvent,
    ModelError,
    Sender,
    normalize_phone,
)
from chalicelib.core.timestamps import normalize_timestamp, utc_now
from chalicelib.providers.base import (
    AddressError,
    ChannelSpec,
    LoneSurrogates,
    PayloadError,
    Secrets,
    SignatureError,
    WebhookRequest,
    as_dict,
    canonical_id,
    constant_time_equal,
    identity_or_error,
    load_json,
    require_secret,
    unreadable_reason,
)

PROVIDER = "vonage"
SECRET_NAME = "VONAGE_SIGNATURE_SECRET"
AUTHORIZATION_HEADER = "authorization"
JWT_ALGORITHM = "HS256"
IAT_MAX_AGE_SECONDS = 25 * 3600  # Vonage retries for 24 h; one hour of margin
CLOCK_SKEW_SECONDS = 300
MAX_NUMERIC_DATE = 2**53  # seconds (the year 285 million): past it a time claim is absurd

# Vonage keeps inbound media (all channels) on its own media service, per API region.
MEDIA_HOSTS = ("api.nexmo.com", "api-us.nexmo.com", "api-eu.nexmo.com", "api-ap.nexmo.com")

CHANNEL_MAP: dict[str, tuple[Channel, str | None]] = {
    "sms": (Channel.SMS, None),
    "mms": (Channel.SMS, "mms"),
    "rcs": (Channel.SMS, "rcs"),
    "whatsapp": (Channel.WHATSAPP, None),
    "messenger": (Channel.MESSENGER, None),
    "instagram": (Channel.INSTAGRAM, None),
    "viber_service": (Channel.VIBER, None),
    "viber": (Channel.VIBER, None),
}

STATUS_MAP: dict[str, DeliveryStatus] = {
    "submitted": DeliveryStatus.SENT,  # handed to the carrier / WhatsApp / Viber
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "rejected": DeliveryStatus.FAILED,
    "undeliverable": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
}

_MEDIA_KINDS = {
    "image": "image",
    "audio": "audio",
    "video": "video",
    "file": "document",
    "sticker": "sticker",
    "vcard": "contact",
}
_BSUID = re.compile(r"^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$")


# --- signature: an HS256 JWT, verified by PyJWT ------------------------------------------------


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    """A time claim as seconds, None when absent; SignatureError for any other type or an absurd value.

    Compared before any arithmetic: ``-10**400`` or ``1e400`` must be refused, never overflow a float,
    and NaN (which compares false with everything) fails the range check like any other absurdity.
    """
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SignatureError(f"JWT claim {name} is not a number of seconds")
    if not -MAX_NUMERIC_DATE <= value <= MAX_NUMERIC_DATE:
        raise SignatureError(f"JWT claim {name} is out of range")
    return float(value)


def verified_claims(token: str, secret: str, now: float, *, required: Sequence[str] = ("iat",)) -> dict[str, Any]:
    """The claims of an HS256 JWT signed with ``secret``, or :class:`SignatureError` (never anything else).

    PyJWT checks the structure, the algorithm (HS256 only: never ``none``, never one the token picks),
    the signature, the presence of ``required`` claims and the type of ``jti``, ``sub``, ``aud``. The
    time claims are checked here, against ``now`` (the clock of the request, not PyJWT's own), with the
    same leeway as before. Reasons are the hub's own words: a library's message never reaches a body.
    """
    import jwt  # lazily: only the Vonage webhook's cold start pays for it

    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],
            options={"require": list(required), "verify_iat": False, "verify_exp": False, "verify_nbf": False},
        )
    except jwt.InvalidAlgorithmError as err:
        raise SignatureError("JWT algorithm is not accepted (HS256 only)") from err
    except jwt.InvalidSignatureError as err:
        raise SignatureError("JWT signature mismatch") from err
    except jwt.MissingRequiredClaimError as err:
        raise SignatureError(f"the JWT has no {err.claim}") from err
    except jwt.DecodeError as err:
        raise SignatureError("the JWT is malformed") from err
    except jwt.PyJWTError as err:
        raise SignatureError("the JWT has a claim of the wrong type or value") from err
    except (ValueError, TypeError, OverflowError, RecursionError) as err:  # e.g. a token that is not ASCII
        raise SignatureError("the JWT is malformed") from err
    issued_at = _numeric_date(claims, "iat")
    expires_at = _numeric_date(claims, "exp")
    not_before = _numeric_date(claims, "nbf")
    if issued_at is not None and issued_at > now + CLOCK_SKEW_SECONDS:
        raise SignatureError("the JWT was issued in the future")
    if issued_at is not None and issued_at < now - IAT_MAX_AGE_SECONDS:
        raise SignatureError("the JWT is too old")
    if expires_at is not None and now > expires_at + CLOCK_SKEW_SECONDS:
        raise SignatureError("the JWT has expired")
    if not_before is not None and now + CLOCK_SKEW_SECONDS < not_before:
        raise SignatureError("the JWT is not valid yet")
    return claims


def payload_hash(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def sign_vonage_webhook(
    secret: str,
    body: bytes,
    *,
    issued_at: int,
    jti: str,
    api_key: str = "abcd1234",
    application_id: str = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
) -> str:
    """The ``Authorization`` header value Vonage sends with ``body``."""
    import jwt

    claims = {
        "iat": issued_at,
        "jti": jti,
        "iss": "Vonage",
        "payload_hash": payload_hash(body),
        "api_key": api_key,
        "application_id": application_id,
    }
    return f"Bearer {jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)}"


def verify_vonage_signature(request: WebhookRequest, secrets: Secrets, now: float) -> None:
    secret = require_secret(secrets, SECRET_NAME)
    authorization = (request.header(AUTHORIZATION_HEADER) or "").strip()
    if not authorization:
        raise SignatureError("unsigned Vonage callback: no Authorization header")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise SignatureError("Authorization must be a Bearer JWT")
    # Messages webhooks always carry a body, and Vonage always signs its hash.
    claims = verified_claims(token.strip(), secret, now, required=("iat", "payload_hash"))
    claimed_hash = claims.get("payload_hash")
    if not isinstance(claimed_hash, str) or not claimed_hash:
        raise SignatureError("the JWT has no payload_hash")
    if not constant_time_equal(payload_hash(request.body), claimed_hash.strip().lower()):
        raise SignatureError("payload_hash does not match the body")


# --- parsing ----------------------------------------------------------------------------------


def _string(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value).strip()
    return text or None


def _occurred_at(data: dict[str, Any], request: WebhookRequest) -> str:
    timestamp = _string(data.get("timestamp"))
    if timestamp:
        try:
            return normalize_timestamp(timestamp)
        except ModelError:
            pass
    return request.received_at or utc_now()


def _channel(data: dict[str, Any], metadata: dict[str, str]) -> Channel | None:
    raw = _string(data.get("channel"))
    if raw:
        metadata["vonage_channel"] = raw
    channel, transport = CHANNEL_MAP.get((raw or "").lower(), (None, None))
    if transport:
        metadata["transport"] = transport
    return channel


def _scoped_user_id(data: dict[str, Any]) -> str | None:
    whatsapp = data.get("whatsapp")
    if isinstance(whatsapp, dict):
        for key in ("sender", "user"):  # never "recipient": on inbound that is the business
            user = whatsapp.get(key)
            if isinstance(user, dict) and _string(user.get("user_id")):
                return _string(user.get("user_id"))
        if _string(whatsapp.get("user_id")):
            return _string(whatsapp.get("user_id"))
    return None


def _sender(channel: Channel, data: dict[str, Any], metadata: dict[str, str]) -> Sender:
    from_address = _string(data.get("from"))
    profile = as_dict(data.get("profile"))
    name = _string(profile.get("name"))
    if _string(profile.get("username")):
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
        return _string(data.get("text")), []
    if message_type in _MEDIA_KINDS:
        media = data.get(message_type)
        if not isinstance(media, dict):
            raise PayloadError(f"{message_type} must be an object")
        url = _string(media.get("url"))
        caption = _string(media.get("caption"))
        name = _string(media.get("name"))
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
            if _string(location.get(source)):
                metadata[key] = str(location[source])
        if "latitude" not in metadata or "longitude" not in metadata:
            raise PayloadError("location needs lat and long")
        return None, [Attachment(kind="location", name=metadata.get("label"), caption=metadata.get("address"))]
    if message_type == "reply":
        reply = data.get("reply")
        if not isinstance(reply, dict):
            raise PayloadError("reply must be an object")
        for source, key in (("id", "reply_id"), ("title", "reply_title"), ("description", "reply_description")):
            if _string(reply.get(source)):
                metadata[key] = str(reply[source])
        return _string(reply.get("title")) or _string(reply.get("id")), []
    if message_type == "button":
        button = data.get("button")
        if not isinstance(button, dict):
            raise PayloadError("button must be an object")
        for source, key in (("payload", "button_payload"), ("text", "button_text")):
            if _string(button.get(source)):
                metadata[key] = str(button[source])
        return _string(button.get("text")) or _string(button.get("payload")), []
    return None, []


def _inbound_event(data: dict[str, Any], request: WebhookRequest) -> InboundEvent:
    message_uuid = _string(data.get("message_uuid"))
    if not message_uuid:
        raise PayloadError("message_uuid is required")
    message_type = (_string(data.get("message_type")) or "").lower()
    metadata: dict[str, str] = {"message_type": message_type}
    channel = _channel(data, metadata)
    if channel is None:
        return _unknown(data, request, f"channel:{metadata.get('vonage_channel', 'missing')}", metadata)
    if _string(data.get("to")):
        metadata["to"] = str(data["to"])
    context = data.get("context")
    if isinstance(context, dict):
        if _string(context.get("message_uuid")):
            metadata["replied_to_message_id"] = str(context["message_uuid"])
        if _string(context.get("message_from")):
            metadata["replied_to_sender"] = str(context["message_from"])
    text, attachments = _content(message_type, data, metadata)
    try:
        sender = _sender(channel, data, metadata)
    except AddressError as err:
        # Kept as UNKNOWN (deduplicated on message_uuid) rather than refused: a 4xx loses it for good.
        return _unknown(data, request, message_type or "missing", {**metadata, **unreadable_reason(err)})
    if channel in (Channel.SMS, Channel.WHATSAPP):
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
        occurred_at=_occurred_at(data, request),
        sender=sender,
        text=text,
        attachments=tuple(attachments),
        provider_message_id=message_uuid,
        metadata=metadata if known else {**metadata, "type": message_type or "missing"},
    )


def _error_code(error: Any, metadata: dict[str, str]) -> str | None:
    if not isinstance(error, dict):
        return _string(error)
    for source, key in (("type", "error_type"), ("title", "error_title"), ("detail", "error_detail")):
        if _string(error.get(source)):
            metadata[key] = str(error[source])
    title = _string(error.get("title"))
    if title and title.isdigit():
        return title
    # The numeric code is also the fragment of the error type URL (…/messages#1300).
    fragment = (_string(error.get("type")) or "").rpartition("#")[2]
    return fragment or title


def _status_event(data: dict[str, Any], request: WebhookRequest) -> InboundEvent:
    message_uuid = _string(data.get("message_uuid"))
    raw_status = (_string(data.get("status")) or "").lower()
    if not message_uuid:
        raise PayloadError("message_uuid is required")
    metadata: dict[str, str] = {"vonage_status": raw_status}
    channel = _channel(data, metadata) or Channel.SMS
    for source, key in (("to", "to"), ("from", "from"), ("client_ref", "client_ref")):
        if _string(data.get(source)):
            metadata[key] = str(data[source])
    recipient = data.get("whatsapp", {}).get("recipient") if isinstance(data.get("whatsapp"), dict) else None
    if isinstance(recipient, dict) and _string(recipient.get("user_id")):
        metadata["recipient_bsuid"] = str(recipient["user_id"])
    usage = data.get("usage")
    if isinstance(usage, dict):
        for source, key in (("price", "price"), ("currency", "currency")):
            if _string(usage.get(source)):
                metadata[key] = str(usage[source])
    error_code = _error_code(data.get("error"), metadata)
    status = STATUS_MAP.get(raw_status)
    return InboundEvent(
        provider=PROVIDER,
        event_id=f"{message_uuid}#{raw_status}",
        kind=EventKind.DELIVERY_STATUS if status else EventKind.UNKNOWN,
        channel=channel,
        occurred_at=_occurred_at(data, request),
        provider_message_id=message_uuid,
        status=status,
        error_code=error_code,
        metadata=metadata if status else {**metadata, "type": f"status:{raw_status}"},
    )


def _unknown(data: dict[str, Any], request: WebhookRequest, kind: str, metadata: dict[str, str]) -> InboundEvent:
    event_id = _string(data.get("message_uuid")) or canonical_id(data, prefix="")  # ids stored so far
    return InboundEvent(
        provider=PROVIDER,
        event_id=event_id,
        kind=EventKind.UNKNOWN,
        channel=CHANNEL_MAP.get((_string(data.get("channel")) or "").lower(), (Channel.SMS, None))[0],
        occurred_at=_occurred_at(data, request),
        metadata={**metadata, "type": kind},
    )


def parse_vonage_messages(request: WebhookRequest) -> list[InboundEvent]:
    """One event per webhook (Vonage does not batch): an inbound message or a status."""
    data = load_json(request.body)
    if not isinstance(data, dict):
        raise PayloadError("body must be a JSON object")
    try:
        if "status" in data:
            return [_status_event(data, request)]
        if "message_type" in data:
            return [_inbound_event(data, request)]
        return [_unknown(data, request, "unrecognized", {})]
    except ModelError as err:
        raise PayloadError(str(err)) from err


MESSAGES = ChannelSpec(
    provider=PROVIDER,
    secret_names=(SECRET_NAME,),
    verify=verify_vonage_signature,
    parse=parse_vonage_messages,
    forged_status=401,
    lone_surrogates=LoneSurrogates.REPLACE,
)
