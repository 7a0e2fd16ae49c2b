"""Mailgun routes: ``POST /webhooks/email/mailgun`` (a route's ``forward()`` action).

Follows Mailgun's "Receiving Messages via HTTP through a forward() action" and "Securing Webhooks"
(documentation.mailgun.com, user-manual/receive-forward-store/receive-http). The POST is
``application/x-www-form-urlencoded``, or ``multipart/form-data`` when the mail has attachments:

- Parsed (default): ``recipient`` and ``sender`` (the SMTP envelope), ``from``, ``subject``,
  ``body-plain``, ``body-html``, ``stripped-text``, ``message-headers`` (JSON list of
  ``[name, value]``, in order), ``Message-Id``, ``In-Reply-To``, ``References``, ``attachment-count``,
  files ``attachment-1``…, ``content-id-map`` (JSON ``{"<cid>": "attachment-1"}``).
- Raw MIME (a route URL ending in ``mime``; the ``store(notify=…)`` variant too): the message in
  ``body-mime``, with ``recipient``, ``sender``, ``from``, ``subject``.

Both go through the hub's one MIME path. Mailgun's own ``stripped-text`` is not used: the hub cuts
quotes and signatures the same way for every provider.

Signature: ``signature`` = hex(HMAC-SHA256(``MAILGUN_SIGNING_KEY``, ``timestamp`` + ``token``)),
fields of the form. It covers neither the body nor the URL, so two more checks make a captured
signature useless: a timestamp more than :data:`TOLERANCE_SECONDS` away from now is refused
(:class:`StaleSignatureError`), and each token may be used once — which needs the store:
:func:`mailgun_replay_claim` gives the ingest use case the claim to record with a conditional put
(key ``mailgun#token#<token>``, the body's SHA-256 as fingerprint, an expiry past the tolerance).
The same token with the *same* body is Mailgun retrying (its retries resend the original signature
block, per Hookdeck's Mailgun reference; Mailgun's docs do not say) and is a duplicate, answered 200;
the same token with another body is a replay, refused.

Forged → 406 Not Acceptable: the one status Mailgun treats as "rejected, do not retry" (any other
non-200 is retried for 8 hours). Size: see :data:`MAX_BODY_BYTES`; large mail belongs on SES → S3.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from chalicelib.core.model import InboundEvent
from chalicelib.core.timestamps import utc_now
from chalicelib.email.events import EmailDelivery, email_events, email_media
from chalicelib.email.formdata import Form, read_form
from chalicelib.email.headers import normalize_address
from chalicelib.email.mime import PartAttachment, parse_email, parse_email_parts
from chalicelib.email.parsed import ParsedEmail
from chalicelib.providers.base import (
    ChannelSpec,
    PayloadError,
    ReplayClaim,
    Secrets,
    SignatureError,
    WebhookRequest,
    constant_time_equal,
    require_secret,
)

PROVIDER = "mailgun"
SECRET_NAME = "MAILGUN_SIGNING_KEY"
TOLERANCE_SECONDS = 300
MAX_BODY_BYTES = 4 * 1024 * 1024  # Lambda's 6 MB synchronous payload, less base64 and the event
MAX_TOKEN_CHARS = 256  # Mailgun's tokens are 50 characters
_FALLBACK_HEADERS = ("From", "To", "Cc", "Subject", "Date", "Message-Id", "In-Reply-To", "References")


class StaleSignatureError(SignatureError):
    """Signed by Mailgun, but the timestamp is outside the tolerance: ``claim`` says which token."""

    def __init__(self, reason: str, claim: ReplayClaim) -> None:
        super().__init__(reason)
        self.claim = claim


def sign_mailgun(signing_key: str, timestamp: str, token: str) -> str:
    """The ``signature`` Mailgun sends with ``timestamp`` and ``token``."""
    return hmac.new(signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def _signature_fields(form: Form) -> tuple[str, str, str]:
    return checked_signature_fields(*(form.text(name) or "" for name in ("timestamp", "token", "signature")))


def checked_signature_fields(timestamp: str, token: str, signature: str) -> tuple[str, str, str]:
    """Mailgun's ``timestamp``, ``token`` and ``signature`` (from a route's form or an event's JSON), bounded."""
    if not (timestamp and token and signature):
        raise SignatureError("missing timestamp, token or signature")
    if not timestamp.isdigit() or len(timestamp) > 12 or len(token) > MAX_TOKEN_CHARS or len(signature) > 128:
        raise SignatureError("malformed timestamp, token or signature")
    return timestamp, token, signature.strip().lower()


def verify_mailgun_signature(request: WebhookRequest, secrets: Secrets, now: float) -> None:
    key = require_secret(secrets, SECRET_NAME)
    verify_signature_fields(request, key, _signature_fields(_form(request)), now)


def verify_signature_fields(request: WebhookRequest, key: str, fields: tuple[str, str, str], now: float) -> None:
    """The one check of a Mailgun signature (routes and event webhooks): HMAC, then the tolerance."""
    timestamp, token, signature = fields
    if not constant_time_equal(sign_mailgun(key, timestamp, token), signature):
        raise SignatureError("signature mismatch")
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        raise StaleSignatureError("timestamp outside the tolerance", replay_claim_for(request, timestamp, token))


def mailgun_replay_claim(request: WebhookRequest) -> ReplayClaim:
    """The claim to record once :func:`verify_mailgun_signature` has accepted the request."""
    timestamp, token, _ = _signature_fields(_form(request))
    return replay_claim_for(request, timestamp, token)


def replay_claim_for(request: WebhookRequest, timestamp: str, token: str) -> ReplayClaim:
    """One claim per token, whichever Mailgun endpoint it came to (routes or event webhooks)."""
    return ReplayClaim(
        key=f"{PROVIDER}#token#{hashlib.sha256(token.encode()).hexdigest()}",
        fingerprint=hashlib.sha256(request.body).hexdigest(),
        expires_at=int(timestamp) + 2 * TOLERANCE_SECONDS,
    )


def _form(request: WebhookRequest) -> Form:
    return read_form(request.header("content-type"), request.body)


def read_mailgun_email(request: WebhookRequest) -> EmailDelivery:
    form = _form(request)
    recipient = form.text("recipient") or ""
    recipients = [r.strip() for r in recipient.split(",") if r.strip()]
    sender = form.text("sender")
    raw = form.get("body-mime")
    if raw is not None:
        parsed = parse_email(raw.value, envelope_recipients=recipients, envelope_sender=sender)
    else:
        parsed = _parsed_mode(form, recipients, sender)
    return EmailDelivery(
        provider=PROVIDER,
        parsed=parsed,
        received_at=request.received_at or utc_now(),
        mailbox=normalize_address(recipients[0]) if recipients else None,
    )


def _parsed_mode(form: Form, recipients: list[str], sender: str | None) -> ParsedEmail:
    headers = _header_pairs(form)
    if not headers:
        raise PayloadError("neither body-mime nor message headers in the form")
    content_type = next((v for n, v in headers if n.lower() == "content-type"), "")
    text, html = form.text("body-plain"), form.text("body-html")
    if content_type.lower().startswith("text/html") and html:
        text = None  # Mailgun wrote body-plain itself from the HTML: the hub renders HTML its own way
    cid_map = _json(form.text("content-id-map"))
    cids = {v: k for k, v in cid_map.items() if isinstance(v, str)} if isinstance(cid_map, dict) else {}
    attachments = [
        PartAttachment(content=file.value, filename=file.filename, content_type=file.content_type,
                       content_id=cids.get(file.name))
        for file in form.files() if file.name.startswith("attachment-")
    ]
    return parse_email_parts(headers=headers, text=text, html=html, attachments=attachments,
                             envelope_recipients=recipients, envelope_sender=sender)


def _header_pairs(form: Form) -> list[tuple[str, str]]:
    listed = _json(form.text("message-headers"))
    if isinstance(listed, list):
        pairs = [(str(item[0]), str(item[1])) for item in listed
                 if isinstance(item, list) and len(item) == 2 and all(isinstance(x, str) for x in item)]
        if pairs:
            return pairs
    pairs = []
    for name in _FALLBACK_HEADERS:
        value = form.text(name) or form.text(name.lower())
        if value:
            pairs.append((name, value))
    return pairs


def _json(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def parse_mailgun_events(request: WebhookRequest) -> list[InboundEvent]:
    return email_events(read_mailgun_email(request))


def mailgun_media(request: WebhookRequest) -> dict[str, bytes]:
    """The bytes of the mail's attachments, read again from the stored request (the worker keeps them)."""
    return email_media(read_mailgun_email(request).parsed)


CHANNEL = ChannelSpec(
    provider=PROVIDER,
    secret_names=(SECRET_NAME,),
    verify=verify_mailgun_signature,
    parse=parse_mailgun_events,
    max_body_bytes=MAX_BODY_BYTES,
    media=mailgun_media,
    replay_claim=mailgun_replay_claim,
    forged_status=406,
)
