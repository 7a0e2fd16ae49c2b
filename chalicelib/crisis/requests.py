"""The crisis API's request bodies, validated and bounded before anything is stored."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from chalicelib.core.errors import BadRequest, PayloadTooLarge
from chalicelib.core.incident import Audience, IncidentStatus
from chalicelib.core.language import is_language_tag
from chalicelib.core.model import Channel

MAX_TITLE = 200
MAX_MESSAGE = 1000
MAX_LANGUAGES = 30
MAX_KEYWORDS = 50
MAX_KEYWORD = 100
MAX_CUSTOMER_IDS = 1000
MAX_ID = 200
MAX_LABELS = 50
MAX_LABEL = 100
MAX_DAYS = 3650
_AUDIENCE_FIELDS = frozenset({"customer_ids", "open_conversations", "active_within_days", "tiers", "tags", "channels"})


@dataclass(frozen=True, slots=True)
class UpdateRequest:
    status: IncidentStatus
    message: dict[str, str]
    fingerprint: str


@dataclass(frozen=True, slots=True)
class IncidentRequest:
    title: str
    keywords: tuple[str, ...]
    audience: Audience
    dry_run: bool
    first: UpdateRequest
    fingerprint: str


def validated_incident(body: Any) -> IncidentRequest:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    title = body.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE or not _encodable(title):
        raise BadRequest(f"title must be a non-empty string of at most {MAX_TITLE} characters")
    keywords = _strings(body.get("keywords", []), "keywords", MAX_KEYWORDS, MAX_KEYWORD)
    audience = validated_audience(body.get("audience"))
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise BadRequest("dry_run must be true or false")
    first = validated_update(body)
    canonical = {"title": title, "keywords": list(keywords), "audience": audience.to_dict(),
                 "update": first.fingerprint}
    return IncidentRequest(title.strip(), keywords, audience, dry_run, first, _fingerprint(canonical))


def validated_update(body: Any) -> UpdateRequest:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    try:
        status = IncidentStatus(str(body.get("status")))
    except ValueError as err:
        raise BadRequest(f"status must be one of {[s.value for s in IncidentStatus]}") from err
    raw = body.get("message")
    if not isinstance(raw, dict) or not raw:
        raise BadRequest("message must be an object of language → text")
    if len(raw) > MAX_LANGUAGES:
        raise PayloadTooLarge(f"message may have at most {MAX_LANGUAGES} languages")
    message: dict[str, str] = {}
    for language, text in raw.items():
        if not isinstance(language, str) or not is_language_tag(language):
            raise BadRequest("message keys must be language tags such as it or pt-BR")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_MESSAGE or not _encodable(text):
            raise BadRequest(f"message.{language} must be a non-empty string of at most {MAX_MESSAGE} characters")
        message[language] = text
    return UpdateRequest(status, message, _fingerprint({"status": status.value, "message": message}))


def validated_audience(raw: Any) -> Audience:
    if raw is None:
        return Audience()
    if not isinstance(raw, dict):
        raise BadRequest("audience must be an object")
    unknown = set(raw) - _AUDIENCE_FIELDS
    if unknown:
        raise BadRequest(f"unknown audience criteria: {sorted(unknown)[:5]}")
    open_conversations = raw.get("open_conversations")
    if open_conversations is not None and not isinstance(open_conversations, bool):
        raise BadRequest("audience.open_conversations must be true or false")
    days = raw.get("active_within_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS):
        raise BadRequest(f"audience.active_within_days must be a whole number from 1 to {MAX_DAYS}")
    channels = raw.get("channels")
    channel_names = None
    if channels is not None:
        channel_names = _strings(channels, "audience.channels", len(Channel), 20)
        if set(channel_names) - {c.value for c in Channel}:
            raise BadRequest("audience.channels names an unknown channel")

    def optional(name: str, count: int, length: int) -> tuple[str, ...] | None:
        return None if raw.get(name) is None else _strings(raw[name], f"audience.{name}", count, length)

    return Audience(
        customer_ids=optional("customer_ids", MAX_CUSTOMER_IDS, MAX_ID),
        open_conversations=open_conversations,
        active_within_days=days,
        tiers=optional("tiers", MAX_LABELS, MAX_LABEL),
        tags=optional("tags", MAX_LABELS, MAX_LABEL),
        channels=channel_names,
    )


def _strings(raw: Any, name: str, count: int, length: int) -> tuple[str, ...]:
    if not isinstance(raw, list):
        raise BadRequest(f"{name} must be a list of strings")
    if len(raw) > count:
        raise PayloadTooLarge(f"{name} may hold at most {count} entries")
    if not all(isinstance(v, str) and v.strip() and len(v) <= length and _encodable(v) for v in raw):
        raise BadRequest(f"{name} must hold non-empty strings of at most {length} characters")
    return tuple(dict.fromkeys(v.strip() for v in raw))


def _encodable(text: str) -> bool:
    """A lone UTF-16 surrogate survives json.loads but not DynamoDB: refused at the door."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _fingerprint(canonical: Any) -> str:
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
