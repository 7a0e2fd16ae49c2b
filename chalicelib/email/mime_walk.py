"""Walking a parsed MIME tree, bounded: body text parts, attachments and inline images.

The walk is iterative (no recursion), visits at most ``max_parts`` parts and no deeper than
``max_depth``; in a ``multipart/alternative`` only the best body (``text/plain``, else a nested
multipart, else ``text/html``) gives text, but every alternative's files are kept. Delivery-status
blocks and signatures are not content. Every reader here returns a fallback rather than raise.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass
from email import policy
from email.message import Message
from typing import TYPE_CHECKING

from chalicelib.email.headers import clean_text, decode_subject, one_line
from chalicelib.email.parsed import EmailAttachment

if TYPE_CHECKING:
    from chalicelib.email.mime import MimeLimits

CID_REFERENCE = re.compile(r"cid:([^\"'\s>)]+)", re.IGNORECASE)
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_UNSAFE_CODECS = frozenset({"idna", "punycode", "unicode_escape", "raw_unicode_escape"})
_SIGNATURE_TYPES = frozenset({"application/pgp-signature", "application/pkcs7-signature",
                              "application/x-pkcs7-signature"})


@dataclass(slots=True)
class Leaf:
    attachment: EmailAttachment
    inline: bool  # Content-Disposition: inline
    related: bool  # inside multipart/related


class Walk:
    __slots__ = ("cids", "decoded", "html", "leaves", "plain")

    def __init__(self) -> None:
        self.cids: set[str] = set()  # Content-IDs an HTML part refers to (cid:...)
        self.plain: list[str] = []
        self.html: list[str] = []
        self.leaves: list[Leaf] = []
        self.decoded = 0


def walk_tree(root: Message, limits: MimeLimits, truncation: list[str]) -> Walk:
    walk = Walk()
    stack: list[tuple[Message, int, bool, bool]] = [(root, 0, True, False)]  # part, depth, body?, related?
    seen = 0
    while stack:
        part, depth, body_allowed, related = stack.pop()
        seen += 1
        if seen > limits.max_parts:
            note(truncation, "mime_parts_over_limit")
            break
        if depth > limits.max_depth:
            note(truncation, "mime_depth_over_limit")
            continue
        content_type = part.get_content_type()
        payload = part.get_payload() if part.get_content_maintype() == "multipart" else None
        if isinstance(payload, list):
            children = [child for child in payload if isinstance(child, Message)]
            chosen = _alternative_choice(children) if content_type == "multipart/alternative" else None
            for child in reversed(children):
                allowed = body_allowed and (chosen is None or child is chosen)
                stack.append((child, depth + 1, allowed, related or content_type == "multipart/related"))
            continue
        if payload is not None:
            content_type = "text/plain"  # a multipart without a boundary: its body is all there is
        _visit_leaf(part, content_type, body_allowed, related, walk, limits, truncation)
    return walk


def _alternative_choice(children: list[Message]) -> Message | None:
    for wanted in ("text/plain", "multipart/", "text/html"):
        for child in children:
            if child.get_content_type().startswith(wanted) and _disposition(child) != "attachment":
                return child
    return children[-1] if children else None


def _visit_leaf(part: Message, content_type: str, body_allowed: bool, related: bool, walk: Walk,
                limits: MimeLimits, truncation: list[str]) -> None:
    if content_type in ("message/delivery-status", "message/global-delivery-status", "text/rfc822-headers") \
            or content_type in _SIGNATURE_TYPES:
        return  # read by loops.read_delivery_status / a signature, not content
    disposition = _disposition(part)
    filename = _filename(part)
    if content_type in ("text/plain", "text/html") and disposition != "attachment" and not filename:
        if content_type == "text/html":
            html = _decode_text(part)
            walk.cids.update(cid.lower() for cid in CID_REFERENCE.findall(html))
            if body_allowed:
                walk.html.append(html)
        elif body_allowed:
            walk.plain.append(_decode_text(part))
        return
    if content_type in ("message/rfc822", "message/global"):
        content = _message_bytes(part)
        filename = filename or (_inner_subject(part) or "message") + ".eml"
    else:
        content = _payload_bytes(part)
    if len(walk.leaves) >= limits.max_attachments or walk.decoded + len(content) > limits.max_decoded_bytes:
        note(truncation, "attachments_over_limit")
        return
    walk.decoded += len(content)
    content_id = _content_id(part)
    walk.leaves.append(Leaf(make_attachment(content, filename, content_type, content_id),
                             inline=disposition == "inline", related=related))


# --- small readers (never raise) ----------------------------------------------------------------


def note(truncation: list[str], reason: str) -> None:
    if reason not in truncation:
        truncation.append(reason)


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def param(part: Message, name: str) -> str | None:
    try:
        value = part.get_param(name)
    except Exception:
        return None
    return one_line(value, limit=100) if isinstance(value, str) else None


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if not isinstance(name, str):
        return None
    # Never a path: only the last component, no control characters, bounded.
    cleaned = one_line(name.replace("\\", "/").rsplit("/", 1)[-1], limit=255).strip(". ")
    return cleaned or None


def _content_id(part: Message) -> str | None:
    raw = dict((k.lower(), v) for k, v in part.raw_items()).get("content-id")
    return one_line(str(raw), limit=250).strip("<> ") or None if raw else None


def _media_type(value: str | None) -> str:
    media = (value or "").strip().lower()
    return media if _MEDIA_TYPE.match(media) else "application/octet-stream"


def make_attachment(content: bytes, filename: str | None, content_type: str | None,
                content_id: str | None) -> EmailAttachment:
    name = one_line(filename, limit=255) if filename else None
    cid = one_line(content_id, limit=250).strip("<> ") if content_id else None
    return EmailAttachment.of(content, filename=name or None, content_type=_media_type(content_type),
                              content_id=cid or None)


def _payload_bytes(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        return b""
    return bytes(payload) if isinstance(payload, bytes | bytearray) else b""


def _message_bytes(part: Message) -> bytes:
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, Message):
        return _payload_bytes(part)
    try:
        return inner.as_bytes(policy=policy.default.clone(max_line_length=0))
    except Exception:
        return b""


def _inner_subject(part: Message) -> str | None:
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, Message):
        return None
    raw = dict((k.lower(), v) for k, v in inner.raw_items()).get("subject")
    return decode_subject(str(raw))[:100] or None if raw else None


def _decode_text(part: Message) -> str:
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    return decode_bytes(_payload_bytes(part), charset)


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Bytes in a declared charset as clean text; undecodable bytes replaced.

    A missing, unknown, non-text (``rot13``, ``zlib``) or unsafe (``idna``, ``punycode``,
    ``unicode_escape``) charset, or plain ``us-ascii`` with 8-bit data, is read as UTF-8 when the bytes
    are UTF-8, else as Windows-1252: what mislabelled mail nearly always is.
    """
    try:
        codec = codecs.lookup(charset.strip()).name.replace("-", "_") if charset and charset.strip() else None
    except (LookupError, ValueError, TypeError):
        codec = None
    if codec is not None and codec not in _UNSAFE_CODECS and codec != "ascii":
        try:
            return clean_text(data.decode(codec, "replace"))
        except (LookupError, ValueError, TypeError):
            pass  # a bytes-to-bytes codec: not a text encoding at all
    try:
        return clean_text(data.decode("utf-8"))
    except UnicodeDecodeError:
        return clean_text(data.decode("cp1252", "replace"))
