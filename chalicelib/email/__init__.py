"""Inbound email: one MIME path for every provider, threaded, deduplicated and loop-safe.

``mime`` parses a raw message (or a provider's parsed fields) into a :class:`ParsedEmail`;
``reply_text`` separates the new text from the quoted reply and the signature; ``html_text`` reads
HTML bodies; ``loops`` recognizes auto-replies, bounces and bulk mail; ``events`` turns a parsed mail
into the hub's events; ``formdata`` reads the ``multipart/form-data`` bodies SendGrid and Mailgun post.
Standard library only.
"""

from __future__ import annotations

from chalicelib.email.events import (
    EMAIL_DEDUPE_NAMESPACE,
    EmailDelivery,
    attachment_object_key,
    email_events,
    inbox_namespace,
)
from chalicelib.email.headers import MailAddress, normalize_message_id
from chalicelib.email.loops import Bounce, BounceKind, LoopVerdict, looks_like_auto_reply
from chalicelib.email.mime import DEFAULT_LIMITS, MimeLimits, PartAttachment, parse_email, parse_email_parts
from chalicelib.email.parsed import EmailAttachment, ParsedEmail
from chalicelib.email.reply_text import ReplyParts, split_reply

__all__ = [
    "DEFAULT_LIMITS",
    "EMAIL_DEDUPE_NAMESPACE",
    "Bounce",
    "BounceKind",
    "EmailAttachment",
    "EmailDelivery",
    "LoopVerdict",
    "MailAddress",
    "MimeLimits",
    "ParsedEmail",
    "PartAttachment",
    "ReplyParts",
    "attachment_object_key",
    "email_events",
    "inbox_namespace",
    "looks_like_auto_reply",
    "normalize_message_id",
    "parse_email",
    "parse_email_parts",
    "split_reply",
]
