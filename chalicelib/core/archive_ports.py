"""The raw archive's port: what ``./hub renormalize`` reads and rewrites (chalicelib/ingest/renormalize.py)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Protocol

from chalicelib.core.model import InboundEvent
from chalicelib.core.records import ThreadDecision


@dataclass(frozen=True, slots=True)
class StoredWebhook:
    """One inbox item as kept: the request's raw body and what the parser of its day made of it."""

    inbox_key: str
    endpoint: str
    path: str | None  # None for items stored before the path was kept
    content_type: str | None
    received_at: str
    raw: bytes | None  # None when its body is gone (S3 pointer unreadable, erased)
    event: InboundEvent
    event_json: str  # exactly as stored: the condition of the rewrite
    thread: ThreadDecision | None  # where the worker put its message (None: not threaded yet)


class RawArchive(Protocol):
    def stored_since(self, provider: str, since: str) -> Iterator[StoredWebhook]:
        """The provider's inbox items received at or after ``since`` (ISO-8601 UTC), in no order."""
        ...

    def replace_event(self, inbox_key: str, expected_json: str, event: InboundEvent) -> bool:
        """Store ``event`` as the item's normalized event, only while it still holds ``expected_json``."""
        ...

    def revise_inbound_message(self, conversation_id: str, created_at: str, message_id: str, *,
                               text: str | None, metadata: Mapping[str, str]) -> bool:
        """Rewrite the text and metadata of the message a threaded event became (it must exist)."""
        ...
