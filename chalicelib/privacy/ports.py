"""What the privacy use cases (export, erasure) need from storage and the event queue.

``PrivacyStore`` reads every copy the hub holds about one customer through keys and per-partition
queries (never a scan) and erases them; ``ObjectStore`` is the payload bucket (raw payloads too large
for an item, SES mail objects, kept attachments); ``ErasureNotices`` tells integrators. The DynamoDB
and S3 adapters implement them (chalicelib/adapters/dynamo/privacy.py, chalicelib/adapters/s3.py),
the in-memory twins live in chalicelib/adapters/memory/privacy.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.core.model import Conversation, Customer, Message


@dataclass(frozen=True, slots=True)
class InboxCopy:
    """A provider event as the inbox keeps it: the normalized event and the raw payload (inline bytes or
    a pointer into the payload bucket). An erased copy keeps only the dedupe record."""

    inbox_key: str
    provider: str
    kind: str
    received_at: str
    event: Mapping[str, Any] | None = None
    raw: bytes | None = None
    raw_pointer: str | None = None
    content_type: str | None = None
    erased: bool = False


@dataclass(frozen=True, slots=True)
class ErasureRecord:
    """The audit of one erasure: who asked (the API key's name), when, and what was erased (counts only)."""

    customer_id: str
    requested_by: str
    started_at: str
    finished_at: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    conversation_ids: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        return self.finished_at is not None


class PrivacyStore(Protocol):
    # ------------------------------------------------------------ reads (export and erasure)
    def customer(self, customer_id: str) -> Customer | None: ...

    def conversation_ids(self, customer_id: str) -> Iterator[str]:
        """The customer's conversations, oldest first, read page by page."""
        ...

    def conversation(self, conversation_id: str) -> Conversation | None: ...

    def messages(self, conversation_id: str) -> Iterator[Message]:
        """The conversation's messages in order, read page by page."""
        ...

    def call_inbox_keys(self, provider: str, call_id: str) -> tuple[str, ...]:
        """The inbox keys of a phone call's callbacks (its log), beyond the message's own."""
        ...

    def inbox_copy(self, inbox_key: str) -> InboxCopy | None: ...

    def inbox_keys_of(self, ordering_key: str) -> Iterator[str]:
        """The inbox items of one ordering key (a sender's identity key, a message's or a call's: see
        InboundEvent.ordering_key), page by page: the events no message names (statuses, edits, reactions)."""
        ...

    def feedback(self, conversation_id: str) -> Mapping[str, Any] | None: ...

    def crisis_records(self, customer_id: str) -> Iterator[Mapping[str, Any]]:
        """The crisis records naming the customer: keyword contacts and broadcast recipient records."""
        ...

    # ------------------------------------------------------------ the audit
    def erasure(self, customer_id: str) -> ErasureRecord | None: ...

    def start_erasure(self, record: ErasureRecord) -> ErasureRecord:
        """Write the record unless one exists; returns the stored one (a resumed erasure keeps its first)."""
        ...

    def finish_erasure(self, record: ErasureRecord) -> None: ...

    # ------------------------------------------------------------ erasure (each idempotent)
    def erase_inbox_copy(self, inbox_key: str, at: str) -> bool:
        """Keep only the dedupe record (key, provider, kind, received_at, TTL, ``erased_at``); False when
        there was nothing personal left to erase."""
        ...

    def erase_message(self, message: Message) -> None:
        """The message item and the pointers its provider ids left (statuses, call log); an outbound
        message's delivery claim stays, stripped of its detail."""
        ...

    def erase_conversation(self, customer_id: str, conversation: Conversation | None, conversation_id: str) -> None:
        """The conversation, its customer pointer, its survey and feedback."""
        ...

    def erase_crisis_contacts(self, customer_id: str) -> int:
        """Keyword contacts (which say what the customer wrote about); recipient records stay (no personal
        data: the exactly-once guard of a broadcast). Returns how many were deleted."""
        ...

    def erase_identity(self, identity_key: str) -> None:
        """The identity's owner record and the acknowledgment claim naming the address."""
        ...

    def erase_customer(self, customer_id: str) -> None:
        """The profile and the customer's partition (survey limit)."""
        ...


class ObjectStore(Protocol):
    """The payload bucket as the privacy use cases see it (pointers ``s3://bucket/key``)."""

    def link(self, pointer: str, *, filename: str | None, content_type: str | None, expires_in: int) -> str | None:
        ...

    def delete(self, pointer: str) -> None:
        """Delete the object (nothing to delete is fine); raises RetryableError when the bucket refused."""
        ...


class ErasureNotices(Protocol):
    def publish(self, body: Mapping[str, Any], *, group_id: str, dedupe_id: str) -> None:
        """Put the event on the conversation-events queue; raises RetryableError when refused."""
        ...
