"""Meta's webhook signature and subscription handshake (WhatsApp, Messenger and Instagram alike).

- Signature: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(META_APP_SECRET, raw body)>``. Meta signs
  the bytes it sends, where non-ASCII characters are escaped as ``\\uXXXX``: always the raw body,
  never a re-serialized one.
- Handshake: ``GET ?hub.mode=subscribe&hub.verify_token=...&hub.challenge=...`` → the challenge as
  ``text/plain`` when the token equals ``META_VERIFY_TOKEN``, 403 otherwise.
"""

from __future__ import annotations

import hashlib
import hmac

from chalicelib.providers.base import (
    Secrets,
    SignatureError,
    WebhookRequest,
    WebhookResponse,
    constant_time_equal,
    require_secret,
)

APP_SECRET_NAME = "META_APP_SECRET"
VERIFY_TOKEN_NAME = "META_VERIFY_TOKEN"
SIGNATURE_HEADER = "x-hub-signature-256"
SIGNATURE_PREFIX = "sha256="

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
