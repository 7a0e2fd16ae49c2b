"""What every provider module offers the webhook use case: verify, parse, handshake.

A provider module is pure: it reads a :class:`WebhookRequest` (raw bytes and headers, no
framework object) and the provider's secrets, and returns events or raises. Nothing here
touches AWS or the network, so every module is unit-tested with the providers' own vectors.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from chalicelib.errors import BadRequest, PermanentError, Unauthorized
from chalicelib.model import InboundEvent

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class SignatureError(Unauthorized):
    """The request is not from the provider: rejected before any parsing that matters."""


class PayloadError(BadRequest):
    """Signed, but not an event the hub can read."""


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    method: str
    path: str  # the route's concrete path, e.g. /webhooks/telegram/support_bot
    headers: Mapping[str, str]  # keys lower-cased
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)
    path_params: Mapping[str, str] = field(default_factory=dict)
    public_url: str = ""  # PUBLIC_BASE_URL + path (+ "?" + query string as received)
    received_at: str = ""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def form(self) -> list[tuple[str, str]]:
        """The body as ``application/x-www-form-urlencoded`` pairs, in order, blanks kept."""
        try:
            return parse_qsl(self.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError as err:
            raise PayloadError("the form body is not UTF-8") from err


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


def empty_ok(request: WebhookRequest, events: list[InboundEvent]) -> WebhookResponse:
    return WebhookResponse(200, '{"ok":true}')


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """A provider's webhook, as the ingest use case needs to know it.

    ``verify`` raises :class:`SignatureError` (status ``forged_status``) for anything not signed
    by the provider; ``handshake`` answers requests that carry no events (GET challenges, CRC,
    verification POSTs) and returns None otherwise; ``respond`` builds the 2xx body the provider
    expects once events are stored; ``instant_reply``, where the channel allows it, builds the
    answer that carries the acknowledgment to the customer.
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


def constant_time_equal(expected: str | bytes, given: str | bytes) -> bool:
    a = expected.encode() if isinstance(expected, str) else expected
    b = given.encode() if isinstance(given, str) else given
    return hmac.compare_digest(a, b)


def hmac_sha256(secret: str | bytes, message: bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, message, hashlib.sha256).digest()


def require_secret(secrets: Secrets, name: str) -> str:
    value = secrets.get(name)
    if not value:
        # A missing secret is the operator's fault, but accepting unsigned traffic would be
        # worse: refuse like a forged request and say why.
        raise PermanentError(f"{name} is not configured", status=401)
    return value
