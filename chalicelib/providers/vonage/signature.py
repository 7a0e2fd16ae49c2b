"""Vonage's signed webhooks: an HS256 JWT in ``Authorization: Bearer <jwt>``, for every Vonage endpoint.

The token is signed with the account's signature secret (``VONAGE_SIGNATURE_SECRET``); its claims carry
``iat``, ``jti``, ``iss``, ``api_key``, ``application_id`` and ``payload_hash`` = hex SHA-256 of the
body. It is verified with PyJWT (pure Python, imported only when a Vonage request arrives): only ``alg``
HS256 is accepted (never ``none``, never an algorithm the sender picks), ``iat`` and ``payload_hash``
are required, ``payload_hash`` must match the body, ``exp``/``nbf`` are honoured when present, ``iat``
may be at most 5 minutes in the future and at most 25 hours old, and a claim of the wrong type or an
absurd value (``iat: -10**400``) is a forged token like any other. The age bound is wide on purpose:
Vonage retries a failed webhook for 24 hours and the hub cannot assume each retry is re-signed; replays
of the same body are harmless because every event is deduplicated.

``payload_hash`` is checked against the SHA-256 of the raw body only, never of a re-serialized one:
Vonage hashes the bytes it sends, and accepting other forms would let a modified body through.

A request with no token at all is answered 401 like any other unsigned request: the hub answers 5xx
only when its durable write failed, never for a request it cannot trust. Nothing is stored.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from chalicelib.providers.base import (
    Secrets,
    SignatureError,
    WebhookRequest,
    constant_time_equal,
    require_secret,
)

SECRET_NAME = "VONAGE_SIGNATURE_SECRET"
AUTHORIZATION_HEADER = "authorization"
JWT_ALGORITHM = "HS256"
IAT_MAX_AGE_SECONDS = 25 * 3600  # Vonage retries for 24 h; one hour of margin
CLOCK_SKEW_SECONDS = 300
MAX_NUMERIC_DATE = 2**53  # seconds (the year 285 million): past it a time claim is absurd
FORGED_STATUS = 401


def _numeric_date(claims: dict[str, Any], name: str) -> float | None:
    """A time claim as seconds, None when absent; SignatureError for any other type (null included) or an absurd value.

    Compared before any arithmetic: ``-10**400`` or ``1e400`` must be refused, never overflow a float,
    and NaN (which compares false with everything) fails the range check like any other absurdity.
    """
    if name not in claims:
        return None
    value = claims[name]  # present but null is a claim of the wrong type, like any other non-number
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
