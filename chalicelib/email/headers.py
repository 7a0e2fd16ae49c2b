"""Header values made safe: decoded (RFC 2047, RFC 6532), one line, no surrogates, bounded.

Every value that leaves this module is a clean ``str``: the standard library's header classes
(``email.policy.default``) decode encoded words and raw UTF-8, but they keep what the words decode
to, so ``=?utf-8?q?hi=0D=0ABcc:_x?=`` becomes ``"hi\\r\\nBcc: x"`` (a header injection waiting
for the first reply that reuses the subject) and 8-bit bytes in an unknown charset come back as
lone surrogates (which DynamoDB refuses). :func:`clean_text` and :func:`one_line` remove both.

Message-IDs are normalized once, here, for every use (dedupe keys, In-Reply-To, References,
threading lookups): angle brackets, comments and folding whitespace removed; the domain part (right
of the last ``@``) lower-cased because domains are case-insensitive, the local part kept as written
because generators such as Gmail's (``CAN_P_JMvV7…``) are case-sensitive; over
:data:`MAX_MESSAGE_ID_BYTES` the id is replaced by a hash of itself (still stable, still unique).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from email import policy
from email.utils import getaddresses, parsedate_to_datetime

from chalicelib.core.timestamps import format_timestamp

MAX_MESSAGE_ID_BYTES = 255
MAX_REFERENCES = 50
MAX_HEADER_VALUE_CHARS = 2_000  # a subject or a display name longer than this is cut
MAX_ADDRESS_CHARS = 254  # RFC 5321's path limit: a longer address is not one
MAX_ADDRESSES = 100  # per header: a To with thousands of recipients keeps the first ones

_SURROGATE_ESCAPED = re.compile("[\udc80-\udcff]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
# C0 and C1 controls except tab and newline, and the Unicode line/paragraph separators.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
_LINE_BREAKS = re.compile(r"[\s\u2028\u2029]+")
_MSG_ID = re.compile(r"<([^<>\s]{1,2000})>")
_BARE_ID = re.compile(r"[^\s<>()\",;]{1,2000}")
_COMMENT = re.compile(r"\([^()]*\)")
_ADDRESS = re.compile(r"^[^@\s<>()\[\],;:\"\\]{1,64}@[^@\s<>()\[\],;:\"\\]{1,253}$")


def clean_text(value: str) -> str:
    """Surrogates decoded or replaced, control characters (but tab and newline) removed.

    Runs of surrogate-escaped bytes (what the ``email`` package leaves for 8-bit data it could not
    decode) are read as UTF-8 with replacement; any other lone surrogate becomes U+FFFD.
    """
    if _SURROGATE.search(value):
        value = _SURROGATE_ESCAPED.sub(
            lambda match: match.group().encode("utf-8", "surrogateescape").decode("utf-8", "replace"), value
        )
        value = _SURROGATE.sub("\ufffd", value)
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


def one_line(value: str, *, limit: int = MAX_HEADER_VALUE_CHARS) -> str:
    """A header value as a single clean line: CR, LF and every other break become one space."""
    return _LINE_BREAKS.sub(" ", clean_text(value)).strip()[:limit]


def decoded_header(name: str, raw: str) -> str:
    """A raw header value decoded as ``policy.default`` reads it (RFC 2047 words, raw UTF-8).

    The header classes record defects rather than raise, but a parser bug must not cost the mail:
    on any exception the raw value is used as it is (cleaned by the caller).
    """
    try:
        return str(policy.default.header_factory(name, raw))
    except Exception:  # the stdlib header parser has had crashes on crafted input
        return raw


def decode_subject(raw: str | None) -> str:
    return one_line(decoded_header("subject", raw)) if raw else ""


@dataclass(frozen=True, slots=True)
class MailAddress:
    """One mailbox: ``address`` lower-cased (as the hub's email identities are), ``name`` decoded."""

    address: str
    name: str | None = None

    def formatted(self) -> str:
        return f"{self.name} <{self.address}>" if self.name else self.address


def normalize_address(value: str) -> str | None:
    """A bare address lower-cased, or None when it is not one (no ``@``, spaces, over 254 characters)."""
    address = one_line(value).strip("<> ").lower()
    if not address or len(address) > MAX_ADDRESS_CHARS or not _ADDRESS.match(address):
        return None
    return address


def parse_addresses(raws: Iterable[str], name: str = "to") -> tuple[MailAddress, ...]:
    """Every valid mailbox of one or more header values (groups flattened), in order, deduplicated."""
    found: list[MailAddress] = []
    seen: set[str] = set()
    for raw in raws:
        for display, addr in _address_pairs(name, raw):
            address = normalize_address(addr)
            if address is None or address in seen:
                continue
            seen.add(address)
            display_name = one_line(display, limit=200) or None
            if display_name and display_name.strip("'\" ").lower() == address:
                display_name = None  # "support@x" <support@x>: the name says nothing more
            found.append(MailAddress(address, display_name))
            if len(found) >= MAX_ADDRESSES:
                return tuple(found)
    return tuple(found)


def _address_pairs(name: str, raw: str) -> list[tuple[str, str]]:
    try:
        header = policy.default.header_factory(name, raw)
        addresses = getattr(header, "addresses", None)
        if addresses is not None:
            return [(a.display_name or "", a.addr_spec) for a in addresses]
    except Exception:  # noqa: S110 - fall back to the lenient legacy parser below
        pass
    try:
        return [(display, addr) for display, addr in getaddresses([raw])]
    except Exception:
        return []


def normalize_message_id(value: str) -> str | None:
    """``<AbC.123@Mail.Example.COM>`` → ``AbC.123@mail.example.com``; None when there is nothing usable."""
    text = one_line(value, limit=4_000)
    match = _MSG_ID.search(text)
    candidate = match.group(1) if match else None
    if candidate is None:
        bare = _BARE_ID.search(_COMMENT.sub(" ", text))
        candidate = bare.group() if bare else None
    if not candidate:
        return None
    local, at, domain = candidate.rpartition("@")
    normalized = f"{local}@{domain.lower()}" if at and local else candidate
    if len(normalized.encode("utf-8")) > MAX_MESSAGE_ID_BYTES:
        return "mid-sha256:" + hashlib.sha256(normalized.encode("utf-8")).hexdigest()
    return normalized


def message_id_list(raws: Iterable[str], *, limit: int = MAX_REFERENCES) -> tuple[str, ...]:
    """Every message id in ``References``/``In-Reply-To`` values, in order, deduplicated.

    Over ``limit`` ids the first (the thread's root) and the most recent ones are kept, as RFC 5322
    suggests for trimming References.
    """
    ids: list[str] = []
    seen: set[str] = set()
    for raw in raws:
        text = one_line(raw, limit=100_000)
        tokens = _MSG_ID.findall(text) or text.split()
        for token in tokens:
            normalized = normalize_message_id(f"<{token}>")
            if normalized and normalized not in seen:
                seen.add(normalized)
                ids.append(normalized)
    if len(ids) > limit:
        ids = ids[:1] + ids[-(limit - 1):]
    return tuple(ids)


def parse_date(raw: str | None) -> str | None:
    """An RFC 5322 date as the hub's UTC timestamp; None when absent or unreadable."""
    if not raw:
        return None
    try:
        moment = parsedate_to_datetime(one_line(raw, limit=200))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return format_timestamp(moment)
    except (TypeError, ValueError, OverflowError, IndexError):
        return None


_HEADER_NAME = re.compile(r"^[!-9;-~]{1,100}$")


def header_block(pairs: Iterable[tuple[str, str]]) -> bytes:
    """Header pairs (from a provider's JSON) as an RFC 5322 header section, ready for the parser.

    Names that are not RFC 5322 field names are dropped; values lose their line breaks, so a value
    cannot smuggle a second header in.
    """
    lines = []
    for name, value in pairs:
        if not isinstance(name, str) or not isinstance(value, str) or not _HEADER_NAME.match(name):
            continue
        lines.append(f"{name}: {one_line(value, limit=100_000)}\r\n")
    return "".join(lines).encode("utf-8", "replace")
