"""Meta (``/webhooks/meta``): WhatsApp Cloud API, Messenger and Instagram, one module per concern.

- ``signature``: ``X-Hub-Signature-256`` and the ``GET`` subscription handshake
- ``fields``: how every entry is read (scalars, dates, media URLs kept only on Meta's hosts)
- ``whatsapp``: WhatsApp Cloud API entries; ``messaging``: Messenger and Instagram entries
- ``webhook``: the endpoint (:data:`CHANNEL`), which dispatches on the payload's ``object``

The names below are re-exported so that ``chalicelib.providers.meta:CHANNEL`` keeps resolving.
"""

from __future__ import annotations

from chalicelib.providers.meta.signature import (
    APP_SECRET_NAME,
    VERIFY_TOKEN_NAME,
    answer_meta_verification,
    sign_meta_payload,
    verify_meta_signature,
)
from chalicelib.providers.meta.webhook import CHANNEL, MAX_BODY_BYTES, parse_meta_event, respond_meta

__all__ = [
    "APP_SECRET_NAME",
    "CHANNEL",
    "MAX_BODY_BYTES",
    "VERIFY_TOKEN_NAME",
    "answer_meta_verification",
    "parse_meta_event",
    "respond_meta",
    "sign_meta_payload",
    "verify_meta_signature",
]
