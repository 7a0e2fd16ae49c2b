"""What every provider module offers the webhook use case: verify, parse, handshake.

A provider module is pure: it reads a :class:`WebhookRequest` (raw bytes and headers, no
framework object) and the provider's secrets, and returns events or raises. Nothing here
touches AWS or the network, so every module is unit-tested with the providers' own vectors.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl

from chalicelib.core.errors import BadRequest, Unauthorized
from chalicelib.core.model import Channel, Identity, InboundEvent, ModelError
from chalicelib.core.timestamps import timestamp_from_epoch

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class SignatureError(Unauthorized):
    """The request is not from the provider: rejected before any parsing that matters."""


class PayloadError(BadRequest):
    """Signed, but not an event the hub can read."""


class InvalidJson(PayloadError):
    """A body that should be JSON and is not (or is JSON no parser may take: nesting, huge numbers)."""

    code = "invalid_json"


class AddressError(PayloadError):
    """A customer address (phone, user id) that does not fit the model; the message never holds the value."""


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    method: str
    path: str  # the route's concrete path, e.g. /webhooks/telegram/support_bot
    headers: Mapping[str, str]  # keys lower-cased
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)
    path_params: Mapping[str, str] = field(default_factory=dict)
    public_url: str = ""  # PUBLIC_BASE_URL + path (+ "?" + the query re-encoded, %20 for spaces)
    received_at: str = ""
    # Every query parameter as the gateway decoded it, repeated names kept, in the order given: a
    # provider that signs its URL (Twilio) rebuilds the encodings the sender may have used from these.
    query_pairs: tuple[tuple[str, str], ...] = ()
    raw_query: str | None = None  # the query string exactly as received, when the gateway passes it

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def form(self) -> list[tuple[str, str]]:
        """The body as ``application/x-www-form-urlencoded`` pairs, in order, blanks kept.

        A percent-encoded byte that is not UTF-8 (``%ED%A0%BD``: half an emoji cut between two SMS
        segments) is read as a lone surrogate (``surrogateescape``), so that the channel's
        :class:`LoneSurrogates` policy decides about it like about any other invalid text.
        """
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError as err:
            raise PayloadError("the form body is not UTF-8") from err
        return parse_qsl(text, keep_blank_values=True, strict_parsing=False, errors="surrogateescape")


@dataclass(frozen=True, slots=True)
class WebhookResponse:
    status: int = 200
    body: str | bytes = ""
    content_type: str = "application/json"
    headers: Mapping[str, str] = field(default_factory=dict)


Secrets = Mapping[str, str]
Verifier = Callable[[WebhookRequest, Secrets, float], None]
Parser = Callable[[WebhookRequest], list[InboundEvent]]
Handshake = Callable[[WebhookRequest, Secrets, float], WebhookResponse | None]
Responder = Callable[[WebhookRequest, list[InboundEvent]], WebhookResponse]
# Builds the 2xx answer that carries the customer's acknowledgment (TwiML <Message>, a Telegram
# method reply): only for channels whose webhook response can reach the customer.
InstantReply = Callable[[WebhookRequest, InboundEvent, str], WebhookResponse]
@dataclass(frozen=True, slots=True)
class ReplayClaim:
    """A one-time token to record with a conditional put before the request is accepted.

    ``key`` is unique per token; ``fingerprint`` identifies the body, so a retry of the same request
    (same token, same body) is told apart from a replay (same token, another body); the record may
    expire at ``expires_at`` (epoch seconds), after which the timestamp check alone refuses the token.
    """

    key: str
    fingerprint: str
    expires_at: int


# The one-time token of a verified request (a provider whose signature covers a token, not the body).
ReplayClaimer = Callable[[WebhookRequest], ReplayClaim]
# The bytes of the media a stored request carries, by the events' ``media_id`` (email attachments:
# ``sha256:<hex>``): read again from the raw payload by the worker, which keeps them in the media store.
MediaReader = Callable[[WebhookRequest], Mapping[str, bytes]]


def empty_ok(request: WebhookRequest, events: list[InboundEvent]) -> WebhookResponse:
    return WebhookResponse(200, '{"ok":true}')


class LoneSurrogates(StrEnum):
    """What an endpoint does with a signed event holding text that is not valid Unicode.

    ``json.loads`` accepts lone UTF-16 surrogates (``"\\ud83d"`` escaped, or the raw CESU-8 bytes
    ``ED A0 BD``) and a form value may percent-encode bytes that are not UTF-8; DynamoDB and S3
    refuse such strings, so none may reach an item. Chosen per :class:`ChannelSpec` from the
    provider's retry semantics (README, "Text that is not valid Unicode").
    """

    REFUSE = "refuse"  # 400 with the reason, nothing stored: the sender can fix what it sends
    REPLACE = "replace"  # each becomes U+FFFD, metadata.sanitized = "lone_surrogates"; the raw body is kept


SANITIZED = "sanitized"  # the metadata key saying an event's text was altered to be storable
SANITIZED_LONE_SURROGATES = "lone_surrogates"
_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_unicode(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (the halves of a pair sent apart joined)."""
    if not _SURROGATE.search(text):
        return text
    # Through UTF-16: a surrogate pair sent as two CESU-8 halves becomes its character again, and
    # only what is really lone becomes U+FFFD.
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def guard_lone_surrogates(events: list[InboundEvent], policy: LoneSurrogates) -> list[InboundEvent]:
    """``events`` with no surrogate left in any string, as ``policy`` says; PayloadError to refuse."""
    guarded = []
    for event in events:
        text = json.dumps(event.to_dict(), ensure_ascii=False)
        if not _SURROGATE.search(text):
            guarded.append(event)
            continue
        if policy is LoneSurrogates.REFUSE:
            raise PayloadError("the payload holds text that is not valid Unicode (a lone UTF-16 surrogate)")
        data = json.loads(valid_unicode(text))
        data["metadata"] = {**data.get("metadata", {}), SANITIZED: SANITIZED_LONE_SURROGATES}
        try:
            guarded.append(InboundEvent.from_dict(data))
        except (ModelError, ValueError, KeyError) as err:  # nothing the replacement can cause, but never a 500
            raise PayloadError(f"the event is not readable once its invalid text is replaced: {err}") from err
    return guarded


def _guarded_parser(parse: Parser, policy: LoneSurrogates) -> Parser:
    parse = getattr(parse, "unguarded", parse)  # dataclasses.replace() runs __post_init__ again

    @functools.wraps(parse)
    def parse_and_guard(request: WebhookRequest) -> list[InboundEvent]:
        return guard_lone_surrogates(parse(request), policy)

    parse_and_guard.unguarded = parse  # type: ignore[attr-defined]
    return parse_and_guard


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A provider's webhook, as the ingest use case needs to know it.

    ``verify`` raises :class:`SignatureError` (status ``forged_status``) for anything not signed
    by the provider; ``handshake`` answers requests that carry no events (GET challenges, CRC,
    verification POSTs) and returns None otherwise; ``respond`` builds the 2xx body the provider
    expects once events are stored; ``instant_reply``, where the channel allows it, builds the
    answer that carries the acknowledgment to the customer.

    ``lone_surrogates`` is the endpoint's answer to text that is not valid Unicode; ``parse`` is
    wrapped once here so that every event it returns obeys it (no parser has to remember).
    """

    provider: str
    secret_names: tuple[str, ...]
    verify: Verifier
    parse: Parser
    handshake: Handshake | None = None
    respond: Responder = empty_ok
    instant_reply: InstantReply | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    forged_status: int = 401
    lone_surrogates: LoneSurrogates = LoneSurrogates.REFUSE
    media: MediaReader | None = None
    replay_claim: ReplayClaimer | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "parse", _guarded_parser(self.parse, LoneSurrogates(self.lone_surrogates)))


def constant_time_equal(expected: str | bytes, given: str | bytes) -> bool:
    # surrogatepass: a header is text the sender chose, and a lone surrogate must compare unequal,
    # not raise UnicodeEncodeError.
    a = expected.encode("utf-8", "surrogatepass") if isinstance(expected, str) else expected
    b = given.encode("utf-8", "surrogatepass") if isinstance(given, str) else given
    return hmac.compare_digest(a, b)


def hmac_sha256(secret: str | bytes, message: bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, hashlib.sha256).digest()


def require_secret(secrets: Secrets, name: str) -> str:
    value = secrets.get(name)
    if not value:
        # A missing secret is the operator's fault, but accepting unsigned traffic would be
        # worse: refuse like a forged request and say why.
        raise Unauthorized(f"{name} is not configured")
    return value


# --- safe readers of signed input ----------------------------------------------------------------
# A signed request may still carry anything; these turn every malformed value into PayloadError
# (or a fallback) so that nothing but PayloadError/SignatureError leaves a verify or a parse.


def load_json(body: bytes | str, *, parse_float: Callable[[str], Any] | None = None) -> Any:
    """The body as JSON; anything json.loads refuses (including integers over 4300 digits and
    nesting deeper than the recursion limit, which raise ValueError and RecursionError) → InvalidJson,
    with a reason of our own rather than the json module's message."""
    try:
        return json.loads(body, parse_float=parse_float)
    except json.JSONDecodeError as err:
        raise InvalidJson(f"body is not JSON (line {err.lineno}, column {err.colno})") from err
    except UnicodeDecodeError as err:
        raise InvalidJson("body is not JSON: not UTF-8") from err
    except RecursionError as err:
        raise InvalidJson("body is not JSON the hub reads: nested too deeply") from err
    except ValueError as err:  # an integer of more than 4300 digits
        raise InvalidJson("body is not JSON the hub reads: a number is too long") from err


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def json_string(value: Any) -> str | None:
    """A JSON id or text as an exact string: a non-empty string as is, an integer in decimal (never
    through a float, so ids above 2^53 keep every digit); anything else (bool, float, object) None."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, int):
        return str(value)
    return None


def canonical_id(value: Any, *, prefix: str = "sha256:") -> str:
    """A stable id for an event the provider gives no id to: the same JSON always hashes the same."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    # surrogatepass: a lone surrogate still hashes (to its own id), the event is then judged by its
    # channel's LoneSurrogates policy rather than failing here.
    return prefix + hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


def epoch_to_timestamp(value: Any, *, millis: bool = False, fallback: str | None = None) -> str:
    """Unix seconds (or milliseconds) as a JSON number or numeric string → canonical timestamp.

    Anything else (missing, bool, text, NaN, infinities, 1e30, a year past 9999) is PayloadError,
    or ``fallback`` when one is given.
    """
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise PayloadError("the timestamp is not a number")
        try:
            seconds = float(value)
        except (ValueError, OverflowError) as err:  # OverflowError: an int too large for a float
            raise PayloadError("the timestamp is not a number") from err
        if not math.isfinite(seconds):
            raise PayloadError("the timestamp is not a finite number")
        try:
            return timestamp_from_epoch(seconds / 1000 if millis else seconds)
        except ModelError as err:
            raise PayloadError(f"bad timestamp: {err}") from err
    except PayloadError:
        if fallback is None:
            raise
        return fallback


def identity_or_error(channel: Channel, address: str) -> Identity:
    """The customer's identity, or :class:`AddressError` (a PayloadError, never a bare ModelError)."""
    try:
        return Identity(channel, address)
    except ModelError as err:
        raise AddressError(f"not a valid {Channel(channel).value} address: {err}") from err


def unreadable_reason(err: PayloadError) -> dict[str, str]:
    """Metadata saying why an event is kept as UNKNOWN: a stable code and the (value-free) error text."""
    return {"reason": "invalid_sender" if isinstance(err, AddressError) else "invalid_event",
            "reason_detail": err.reason}
