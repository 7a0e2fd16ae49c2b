"""One MIME path for every provider: a raw RFC 5322 message (or a provider's parsed fields) → ParsedEmail.

Built on the standard library (``email.parser.BytesParser`` with ``policy.default``). The parser
itself has no limits: thousands of sibling parts cost seconds (50,000 parts in 2 MB: 12 s) and a
thousand nested multiparts raise ``RecursionError``. So the raw bytes are bounded *before* the parser
sees them, and every mail over a cap stays readable with ``truncation`` saying what was cut:

=======================================  =======================================================
cap (:class:`MimeLimits`)                over it
=======================================  =======================================================
``max_message_bytes`` (40 MB, SES's)     refused: :class:`PayloadError` (the webhook's 413 is first)
``max_header_fields`` / ``…_field_bytes``  extra or oversized top-level header fields dropped
``max_structures`` (multipart/message    body cut before the next container: depth and nesting
containers, which bounds nesting)        are bounded before the recursive parser runs
``max_delimiters`` (``--`` lines)        body cut before the next part: thousands of parts never
                                         reach the parser
``max_parts`` / ``max_depth``            the walk stops / skips deeper parts
``max_attachments``/``max_decoded_bytes``  further attachments dropped
``max_text_chars``                       the body text cut
=======================================  =======================================================

Nothing but :class:`PayloadError` leaves this module: a parser crash falls back to the headers.
Bad charsets and undecodable bytes are replaced (U+FFFD); no lone surrogate reaches the output.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from email import policy
from email.message import Message
from email.parser import BytesParser
from typing import ParamSpec

from chalicelib.email.headers import (
    MailAddress,
    clean_text,
    decode_subject,
    header_block,
    message_id_list,
    normalize_address,
    normalize_message_id,
    parse_addresses,
    parse_date,
)
from chalicelib.email.html_text import html_to_text
from chalicelib.email.loops import Bounce, classify, read_delivery_status
from chalicelib.email.mime_walk import CID_REFERENCE, Leaf, Walk, decode_bytes, make_attachment, note, param, walk_tree
from chalicelib.email.parsed import ParsedEmail
from chalicelib.email.reply_text import split_reply
from chalicelib.providers.base import PayloadError


@dataclass(frozen=True, slots=True)
class MimeLimits:
    max_message_bytes: int = 40 * 1024 * 1024
    max_header_fields: int = 500
    max_header_field_bytes: int = 64 * 1024
    max_structures: int = 40
    max_delimiters: int = 1_000
    max_parts: int = 200
    max_depth: int = 12
    max_attachments: int = 100
    max_decoded_bytes: int = 40 * 1024 * 1024
    max_text_chars: int = 1_000_000


DEFAULT_LIMITS = MimeLimits()
P = ParamSpec("P")

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_CONTAINER = re.compile(rb"(?i)content-type:\s*(?:multipart|message)/")
_DELIMITER = re.compile(rb"(?m)^--")


@dataclass(frozen=True, slots=True)
class PartAttachment:
    """An attachment a provider already decoded (SendGrid, Mailgun and Postmark parsed modes)."""

    content: bytes
    filename: str | None = None
    content_type: str | None = None
    content_id: str | None = None
    inline: bool = False


def _only_payload_errors(function: Callable[P, ParsedEmail]) -> Callable[P, ParsedEmail]:
    """The module's promise: nothing but PayloadError leaves it, whatever the input."""

    @functools.wraps(function)
    def guarded(*args: P.args, **kwargs: P.kwargs) -> ParsedEmail:
        try:
            return function(*args, **kwargs)
        except PayloadError:
            raise
        except Exception as err:  # RecursionError, MemoryError excluded (BaseException), parser bugs
            raise PayloadError(f"the message could not be read ({type(err).__name__})") from err

    return guarded


@_only_payload_errors
def parse_email(raw: bytes, *, envelope_recipients: Iterable[str] = (), envelope_sender: str | None = None,
                limits: MimeLimits = DEFAULT_LIMITS) -> ParsedEmail:
    """Parse a raw message (``envelope_*``: the SMTP envelope, when the provider gives it)."""
    if not isinstance(raw, bytes | bytearray) or not raw.strip():
        raise PayloadError("the message is empty")
    if len(raw) > limits.max_message_bytes:
        raise PayloadError(f"the message exceeds {limits.max_message_bytes} bytes")
    raw = bytes(raw)
    truncation: list[str] = []
    bounded = _bounded(raw, limits, truncation)
    try:
        message = BytesParser(policy=policy.default).parsebytes(bounded)
        walk = walk_tree(message, limits, truncation)
    except Exception:  # RecursionError or a parser bug: keep what the headers say
        truncation.append("unparseable_body")
        message = BytesParser(policy=policy.default).parsebytes(bounded, headersonly=True)
        walk = Walk()
    return _assemble(message.raw_items(), walk, message, raw_size=len(raw), truncation=truncation,
                     envelope_recipients=envelope_recipients, envelope_sender=envelope_sender, limits=limits)


@_only_payload_errors
def parse_email_parts(*, headers: Sequence[tuple[str, str]] | bytes, text: str | None, html: str | None,
                      attachments: Sequence[PartAttachment] = (), envelope_recipients: Iterable[str] = (),
                      envelope_sender: str | None = None, limits: MimeLimits = DEFAULT_LIMITS) -> ParsedEmail:
    """The same result from a provider's already-parsed fields: header pairs (or a raw header block),
    the text and HTML bodies, and decoded attachments. The headers go through the same parser."""
    block = headers if isinstance(headers, bytes) else header_block(headers)
    truncation: list[str] = []
    head = _trim_headers(block.rstrip(b"\r\n") + b"\r\n", limits, truncation)
    message = BytesParser(policy=policy.default).parsebytes(head + b"\r\n", headersonly=True)
    walk = Walk()
    if text:
        walk.plain.append(clean_text(text))
    elif html:
        walk.html.append(clean_text(html))
    if html:
        walk.cids.update(cid.lower() for cid in CID_REFERENCE.findall(html))
    for index, item in enumerate(attachments):
        if index >= limits.max_attachments or walk.decoded + len(item.content) > limits.max_decoded_bytes:
            truncation.append("attachments_over_limit")
            break
        walk.decoded += len(item.content)
        walk.leaves.append(Leaf(make_attachment(item.content, item.filename, item.content_type, item.content_id),
                                 inline=item.inline, related=False))
    size = len(block) + len(text or "") + len(html or "") + walk.decoded
    return _assemble(message.raw_items(), walk, message, raw_size=size, truncation=truncation,
                     envelope_recipients=envelope_recipients, envelope_sender=envelope_sender, limits=limits)


# --- bounding the raw bytes ---------------------------------------------------------------------


def _bounded(raw: bytes, limits: MimeLimits, truncation: list[str]) -> bytes:
    end = _HEADER_END.search(raw)
    head, separator, body = (raw[: end.start()], end.group(), raw[end.end():]) if end else (raw, b"", b"")
    head = _trim_headers(head + b"\n", limits, truncation).rstrip(b"\r\n")
    cut = len(body)
    containers = len(_CONTAINER.findall(head))
    for match in _CONTAINER.finditer(body):
        containers += 1
        if containers > limits.max_structures:
            cut = min(cut, body.rfind(b"\n", 0, match.start()) + 1)
            truncation.append("mime_structure_over_limit")
            break
    for count, match in enumerate(_DELIMITER.finditer(body, 0, cut), start=1):
        if count > limits.max_delimiters:
            cut = match.start()
            truncation.append("mime_parts_over_limit")
            break
    return head + (separator or b"\r\n\r\n") + body[:cut]


def _trim_headers(head: bytes, limits: MimeLimits, truncation: list[str]) -> bytes:
    fields: list[bytes] = []
    for line in head.splitlines(keepends=True):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        elif line.strip():
            fields.append(line)
    kept = [f for f in fields if len(f) <= limits.max_header_field_bytes][: limits.max_header_fields]
    if len(kept) < len(fields):
        truncation.append("headers_over_limit")
    return b"".join(line if line.endswith(b"\n") else line + b"\r\n" for line in kept)


# --- assembling the result ----------------------------------------------------------------------


def _assemble(raw_items: Iterable[tuple[str, str]], walk: Walk, message: Message, *, raw_size: int,
              truncation: list[str], envelope_recipients: Iterable[str], envelope_sender: str | None,
              limits: MimeLimits) -> ParsedEmail:
    headers: dict[str, list[str]] = {}
    pairs: list[tuple[str, str]] = []
    for name, value in raw_items:
        headers.setdefault(name.lower(), []).append(str(value))
        pairs.append((name, str(value)))
    first = {name: values[0] for name, values in headers.items()}
    if walk.plain:
        text, source = "\n\n".join(p.strip("\n") for p in walk.plain), "text"
    elif walk.html:
        text, source = html_to_text("\n".join(walk.html)), "html"
    else:
        text, source = "", "none"
    if len(text) > limits.max_text_chars:
        text = text[: limits.max_text_chars]
        note(truncation, "text_over_limit")
    attachments, inline = [], []
    for leaf in walk.leaves:
        cid = (leaf.attachment.content_id or "").lower()
        is_image = leaf.attachment.content_type.startswith("image/")
        if is_image and (leaf.inline or (cid and (cid in walk.cids or leaf.related))):
            inline.append(leaf.attachment)
        else:
            attachments.append(leaf.attachment)
    senders = parse_addresses(headers.get("from", [])[:1], "from")  # two From fields: the first counts
    sender = senders[0] if senders else None
    content_type = message.get_content_type() if message is not None else "text/plain"
    report_type = param(message, "report-type")
    dsn: Bounce | None = None
    if content_type == "multipart/report" and (report_type or "").lower() == "delivery-status":
        try:
            dsn = read_delivery_status(message)
        except Exception:  # an unreadable DSN is still a bounce (classified soft)
            dsn = None
    envelope_from = None if envelope_sender is None else (normalize_address(envelope_sender) or "")
    loop = classify(pairs, sender=sender.address if sender else None, envelope_sender=envelope_from,
                    content_type=content_type, report_type=report_type, dsn=dsn)
    message_id = normalize_message_id(first["message-id"]) if "message-id" in first else None
    in_reply_to = message_id_list(headers.get("in-reply-to", []), limit=1)
    recipients = tuple(dict.fromkeys(a for a in (normalize_address(r) for r in envelope_recipients) if a))
    parsed = ParsedEmail(
        dedupe_key="",
        message_id=message_id,
        in_reply_to=in_reply_to[0] if in_reply_to else None,
        references=message_id_list(headers.get("references", [])),
        subject=decode_subject(first.get("subject")),
        sender=sender,
        reply_to=parse_addresses(headers.get("reply-to", []), "reply-to"),
        to=parse_addresses(headers.get("to", []), "to"),
        cc=parse_addresses(headers.get("cc", []), "cc"),
        delivered_to=tuple(a.address for a in parse_addresses(headers.get("delivered-to", []), "to")),
        envelope_recipients=recipients,
        envelope_sender=envelope_from or None,
        date=parse_date(first.get("date")),
        text=text,
        body_source=source,
        reply=split_reply(text),
        attachments=tuple(attachments),
        inline_images=tuple(inline),
        loop=loop,
        truncation=tuple(dict.fromkeys(truncation)),
        size=raw_size,
    )
    return replace(parsed, dedupe_key=message_id or content_key(parsed))


def content_key(parsed: ParsedEmail) -> str:
    """``sha256:`` of what the mail says (From, To, Cc, Date, Subject, text, attachments' digests).

    Used when a mail has no Message-ID. Hashing these rather than the raw bytes makes the key survive
    what every relay changes (``Received``, ``Delivered-To``, DKIM/ARC seals, the provider's own
    wrapping), so a provider's retry always dedupes and the same mail from two providers usually does.
    """
    canonical = {
        "from": parsed.sender.address if parsed.sender else None,
        "to": sorted(a.address for a in parsed.to),
        "cc": sorted(a.address for a in parsed.cc),
        "date": parsed.date,
        "subject": parsed.subject,
        "text": " ".join(parsed.text.split()),
        "files": sorted(a.sha256 for a in (*parsed.attachments, *parsed.inline_images)),
    }
    encoded = json.dumps(canonical, sort_keys=True, ensure_ascii=False).encode("utf-8", "replace")
    return "sha256:" + hashlib.sha256(encoded).hexdigest()


__all__ = ["DEFAULT_LIMITS", "MailAddress", "MimeLimits", "PartAttachment", "content_key", "decode_bytes",
           "parse_email", "parse_email_parts"]
