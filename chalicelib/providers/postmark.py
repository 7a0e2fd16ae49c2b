"""Postmark inbound: ``POST /webhooks/email/postmark`` (JSON).

Follows Postmark's "Inbound webhook" and "Parse an email" (postmarkapp.com/developer/webhooks/
inbound-webhook) and the official client's ``InboundWebhook`` type: ``FromFull`` (``Email``, ``Name``),
``ToFull``/``CcFull``/``BccFull`` (lists of ``Email``, ``Name``, ``MailboxHash``), ``OriginalRecipient``,
``Subject``, ``Date``, ``MessageID`` (Postmark's own id, not the Message-ID header, which is in
``Headers``), ``TextBody``, ``HtmlBody``, ``StrippedTextReply``, ``MailboxHash``, ``Headers`` (list of
``Name``/``Value``), ``Attachments`` (``Name``, base64 ``Content``, ``ContentType``, ``ContentLength``,
``ContentID``) and, when "include raw email content" is on, ``RawEmail``.

``RawEmail``, when present, goes through the hub's one MIME path as is; otherwise the header fields and
the ``Headers`` list are rebuilt into a header block and parsed the same way. ``StrippedTextReply``
is not used: the hub cuts quotes and signatures the same way for every provider.

Verification: basic auth in the webhook URL (``https://user:password@hub.example/webhooks/email/
postmark``) checked against ``POSTMARK_INBOUND_USER``/``POSTMARK_INBOUND_PASSWORD`` in constant time.
Wrong or missing → 403, the status on which Postmark stops retrying an inbound post.

Size: Postmark posts mail up to 35 MB (attachments base64 in the JSON), but a Lambda behind API
Gateway receives at most ~6 MB: :data:`MAX_BODY_BYTES` refuses more with 413. Large mail belongs on
Amazon SES with the S3 action, which never passes through a webhook.
"""

from __future__ import annotations

import base64
import binascii
from email.utils import formataddr
from typing import Any

from chalicelib.core.model import InboundEvent
from chalicelib.core.timestamps import utc_now
from chalicelib.email.events import EmailDelivery, email_events, email_media
from chalicelib.email.headers import normalize_address
from chalicelib.email.mime import PartAttachment, parse_email, parse_email_parts
from chalicelib.providers.base import (
    ChannelSpec,
    PayloadError,
    Secrets,
    SignatureError,
    WebhookRequest,
    as_dict,
    as_list,
    constant_time_equal,
    json_string,
    load_json,
    require_secret,
)

PROVIDER = "postmark"
USER_SECRET = "POSTMARK_INBOUND_USER"
PASSWORD_SECRET = "POSTMARK_INBOUND_PASSWORD"
MAX_BODY_BYTES = 4 * 1024 * 1024  # Lambda's 6 MB synchronous payload, less the event's envelope
MAX_ATTACHMENTS = 100
_BUILT_HEADERS = frozenset({"from", "to", "cc", "subject", "date"})


def verify_postmark_basic_auth(request: WebhookRequest, secrets: Secrets, now: float) -> None:
    user = require_secret(secrets, USER_SECRET)
    password = require_secret(secrets, PASSWORD_SECRET)
    scheme, _, encoded = (request.header("authorization") or "").strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise SignatureError("missing basic auth")
    try:
        given_user, separator, given_password = base64.b64decode(encoded.strip(), validate=True).decode(
            "utf-8").partition(":")
    except (binascii.Error, ValueError) as err:
        raise SignatureError("malformed basic auth") from err
    # Both compared every time, so the time taken says nothing about which one was wrong.
    user_ok = constant_time_equal(user, given_user)
    password_ok = constant_time_equal(password, given_password)
    if not (separator and user_ok and password_ok):
        raise SignatureError("basic auth mismatch")


def basic_auth_header(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def read_postmark_email(request: WebhookRequest) -> EmailDelivery:
    payload = load_json(request.body)
    if not isinstance(payload, dict):
        raise PayloadError("body must be a JSON object")
    recipient = json_string(payload.get("OriginalRecipient"))
    raw = json_string(payload.get("RawEmail"))
    if raw:
        parsed = parse_email(raw.encode("utf-8", "surrogatepass"), envelope_recipients=[recipient] if recipient
                             else [])
    else:
        parsed = parse_email_parts(
            headers=_header_pairs(payload),
            text=json_string(payload.get("TextBody")),
            html=json_string(payload.get("HtmlBody")),
            attachments=_attachments(payload.get("Attachments")),
            envelope_recipients=[recipient] if recipient else [],
        )
    spam = next((json_string(h.get("Value")) for h in map(as_dict, as_list(payload.get("Headers")))
                 if str(h.get("Name", "")).lower() == "x-spam-status"), None)
    return EmailDelivery(
        provider=PROVIDER,
        parsed=parsed,
        received_at=request.received_at or utc_now(),
        provider_event_id=(json_string(payload.get("MessageID")) or "")[:200] or None,
        mailbox=normalize_address(recipient) if recipient else None,
        verdicts={"spam": spam} if spam else {},
    )


def _header_pairs(payload: dict[str, Any]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    sender = as_dict(payload.get("FromFull"))
    from_address = json_string(sender.get("Email")) or json_string(payload.get("From"))
    if from_address:
        pairs.append(("From", _mailbox(json_string(sender.get("Name")), from_address)))
    for name, full, plain in (("To", "ToFull", "To"), ("Cc", "CcFull", "Cc")):
        listed = [_mailbox(json_string(item.get("Name")), json_string(item.get("Email")) or "")
                  for item in map(as_dict, as_list(payload.get(full))) if json_string(item.get("Email"))]
        value = ", ".join(listed) or json_string(payload.get(plain))
        if value:
            pairs.append((name, value))
    for key in ("Subject", "Date"):
        field = json_string(payload.get(key))
        if field:
            pairs.append((key, field))
    for header in map(as_dict, as_list(payload.get("Headers"))):
        header_name, header_value = json_string(header.get("Name")), json_string(header.get("Value"))
        if header_name and header_value is not None and header_name.lower() not in _BUILT_HEADERS:
            pairs.append((header_name, header_value))
    return pairs


def _mailbox(name: str | None, address: str) -> str:
    try:
        return formataddr((name or "", address)) if name else address
    except (UnicodeError, ValueError):
        return address


def _attachments(value: Any) -> list[PartAttachment]:
    found = []
    for item in map(as_dict, as_list(value)[:MAX_ATTACHMENTS]):
        content = json_string(item.get("Content"))
        if content is None:
            continue
        try:
            data = base64.b64decode(content, validate=False)
        except (binascii.Error, ValueError):
            continue  # an attachment Postmark could not encode is skipped, the mail is kept
        found.append(PartAttachment(
            content=data,
            filename=json_string(item.get("Name")),
            content_type=json_string(item.get("ContentType")),
            content_id=json_string(item.get("ContentID")),
        ))
    return found


def parse_postmark_events(request: WebhookRequest) -> list[InboundEvent]:
    return email_events(read_postmark_email(request))


def postmark_media(request: WebhookRequest) -> dict[str, bytes]:
    """The bytes of the mail's attachments, read again from the stored request (the worker keeps them)."""
    return email_media(read_postmark_email(request).parsed)


CHANNEL = ChannelSpec(
    provider=PROVIDER,
    secret_names=(USER_SECRET, PASSWORD_SECRET),
    verify=verify_postmark_basic_auth,
    parse=parse_postmark_events,
    max_body_bytes=MAX_BODY_BYTES,
    media=postmark_media,
    forged_status=403,
)
