"""Vonage: one module per concern, every endpoint signed the same way.

- ``signature``: the HS256 JWT Vonage signs every webhook with (verified by PyJWT), for every endpoint
- ``fields``: what every Messages webhook carries (channel, timestamp, an event kept as unknown)
- ``inbound``: inbound messages; ``status``: status webhooks of the messages the hub sent
- ``messages``: ``POST /webhooks/vonage/messages`` (:data:`MESSAGES`), which receives both

Vonage Voice (``/webhooks/vonage/voice/...``) belongs next to them as ``voice``. The names below are
re-exported so that ``chalicelib.providers.vonage:MESSAGES`` keeps resolving; new code imports the
module of its concern.
"""

from __future__ import annotations

from chalicelib.providers.vonage.messages import MESSAGES, parse_vonage_messages
from chalicelib.providers.vonage.signature import (
    IAT_MAX_AGE_SECONDS,
    SECRET_NAME,
    sign_vonage_webhook,
    verified_claims,
    verify_vonage_signature,
)
from chalicelib.providers.vonage.status import STATUS_MAP

__all__ = [
    "IAT_MAX_AGE_SECONDS",
    "MESSAGES",
    "SECRET_NAME",
    "STATUS_MAP",
    "parse_vonage_messages",
    "sign_vonage_webhook",
    "verified_claims",
    "verify_vonage_signature",
]
