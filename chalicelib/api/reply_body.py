"""An agent reply's body and Idempotency-Key, validated before anything is written.

Attachment URLs are never fetched by the hub, but providers fetch them (Twilio ``MediaUrl``,
Meta ``link``): only ``https`` URLs on a host name are accepted, never an IP literal of a private,
loopback or link-local range, never credentials in the URL.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from chalicelib.core.errors import BadRequest, PayloadTooLarge
from chalicelib.core.model import Attachment, Channel

MAX_TEXT = 4096
MAX_ATTACHMENTS = 10
MAX_URL = 2048
MAX_NAME = 255
MAX_IDEMPOTENCY_KEY = 255
_CONTENT_TYPE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$")
_KINDS = frozenset({"image", "audio", "video", "document", "sticker", "file"})
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1," + str(MAX_IDEMPOTENCY_KEY) + "}")


@dataclass(frozen=True, slots=True)
class ReplyBody:
    text: str | None
    attachments: tuple[Attachment, ...]
    channel: Channel | None
    fingerprint: str  # what a retried POST with the same Idempotency-Key must repeat
    private: bool = False  # on a public conversation: a private reply (Messenger/Instagram, an X DM)


def validated_reply(body: Any) -> ReplyBody:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    text = body.get("text")
    if text is not None and (not isinstance(text, str) or len(text) > MAX_TEXT):
        raise BadRequest(f"text must be a string of at most {MAX_TEXT} characters")
    raw_attachments = body.get("attachments") or []
    if not isinstance(raw_attachments, list):
        raise BadRequest("attachments must be a list")
    if len(raw_attachments) > MAX_ATTACHMENTS:
        raise PayloadTooLarge(f"a reply may carry at most {MAX_ATTACHMENTS} attachments")
    attachments = tuple(_attachment(position, raw) for position, raw in enumerate(raw_attachments))
    if not (text and text.strip()) and not attachments:
        raise BadRequest("a reply needs text or attachments")
    channel_text = body.get("channel")
    if channel_text is not None and not isinstance(channel_text, str):
        raise BadRequest("channel must be a string")
    try:
        channel = Channel(channel_text) if channel_text else None
    except ValueError as err:
        raise BadRequest("unknown channel") from err
    private = body.get("private", False)
    if not isinstance(private, bool):
        raise BadRequest("private must be true or false")
    canonical: dict[str, Any] = {"text": text, "attachments": [a.to_dict() for a in attachments],
                                 "channel": channel_text}
    if private:  # only when set: a reply's fingerprint stays what it was before the field existed
        canonical["private"] = True
    fingerprint = hashlib.sha256(json.dumps(canonical, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return ReplyBody(text, attachments, channel, fingerprint, private)


def validated_idempotency_key(key: str | None) -> str | None:
    """Printable ASCII, at most 255 characters (Stripe's rule); it becomes part of a table key."""
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise BadRequest(f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters")
    return key


def _attachment(position: int, raw: Any) -> Attachment:
    where = f"attachments[{position}]"
    if not isinstance(raw, dict):
        raise BadRequest(f"{where} must be an object")
    url = raw.get("url")
    if not isinstance(url, str) or len(url) > MAX_URL or not is_fetchable_by_providers(url):
        raise BadRequest(f"{where}.url must be an https URL on a public host name, without credentials")
    kind = raw.get("kind", "file")
    if not isinstance(kind, str) or kind not in _KINDS:
        raise BadRequest(f"{where}.kind must be one of {sorted(_KINDS)}")
    content_type = raw.get("content_type")
    if content_type is not None and (not isinstance(content_type, str) or not _CONTENT_TYPE.fullmatch(content_type)):
        raise BadRequest(f"{where}.content_type must be a media type such as image/jpeg")
    name = raw.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME):
        raise BadRequest(f"{where}.name must be a string of 1 to {MAX_NAME} characters")
    return Attachment(kind=kind, url=url, content_type=content_type, name=name)


def is_fetchable_by_providers(url: str) -> bool:
    """``https``, a host, no credentials, and not an address a provider's fetch could turn against
    a private network (loopback, private, link-local, reserved IP literals, localhost)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError for a malformed port
    except ValueError:
        return False
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme != "https" or not host or parts.username is not None or parts.password is not None:
        return False
    if port is not None and not 0 < port < 65536:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return False
    address = _ip_literal(host)
    if address is None:
        return "." in host and not any(c.isspace() for c in host)
    return address.is_global and not address.is_multicast


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host names literally, including the legacy IPv4 forms many fetchers still
    accept (``0x7f.1``, ``2130706433``, ``127.1``)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None
