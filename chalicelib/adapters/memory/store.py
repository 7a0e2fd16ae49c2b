"""The state behind every in-memory repository: one lock, one dictionary per aggregate.

The records are frozen and replaced on every change, never edited in place, so a snapshot taken
by a test stays true whatever happens afterwards. Events, jobs and details are kept as the JSON the
DynamoDB item holds, so what could not be stored there cannot be stored here either.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field, fields
from typing import Any

from chalicelib.core.errors import PayloadTooLarge
from chalicelib.core.item_limits import ITEM_LIMIT_BYTES
from chalicelib.core.model import Conversation, Message


@dataclass(frozen=True, slots=True)
class InboxEntry:
    event_json: str
    endpoint: str
    received_at: str
    content_type: str | None
    expires_at: int
    raw: bytes | None
    raw_pointer: str | None
    thread_json: str | None = None
    acknowledgment_json: str | None = None
    confirmed_at: str | None = None
    erased_at: str | None = None  # an erasure kept only the dedupe record (event_json empty, no raw payload)


@dataclass(frozen=True, slots=True)
class IdentityEntry:
    customer_id: str
    created_at: str


@dataclass(frozen=True, slots=True)
class CustomerEntry:
    id: str
    name: str | None
    language: str | None
    tier: str
    identities: tuple[str, ...]  # identity keys given at creation, in their order
    created_at: str
    identity_set: frozenset[str] = frozenset()  # identity keys added later
    open_conversation_id: str | None = None
    open_claimed_at: str | None = None
    consent: tuple[tuple[str, str, str], ...] = ()  # (channel, state, decided at)
    tags: tuple[str, ...] = ()
    profile_version: int = 0
    last_inbound_channel: str | None = None
    last_inbound_at: str | None = None


@dataclass(frozen=True, slots=True)
class MessageEntry:
    message: Message
    kind: str | None = None
    delivered_in: str | None = None
    job_json: str | None = None  # the outbox: a job stored with its message
    status_at: str | None = None
    error_reason: str | None = None

    @property
    def job(self) -> dict[str, Any] | None:
        return None if self.job_json is None else dict(json.loads(self.job_json))


@dataclass(frozen=True, slots=True)
class ProviderMessageEntry:
    """Where a provider's message id lives, or the best status that arrived before we knew it."""

    conversation_id: str | None = None
    message_key: str | None = None  # the message's sort position in its conversation
    parked_status: str | None = None
    parked_rank: int | None = None
    parked_error_code: str | None = None
    expires_at: int | None = None


@dataclass(frozen=True, slots=True)
class CallEntry:
    inbox_keys: frozenset[str] = frozenset()
    conversation_id: str | None = None
    message_created_at: str | None = None


@dataclass(frozen=True, slots=True)
class ClaimEntry:
    state: str  # "sending" while leased, then whatever finish() recorded
    lease_until: int | None = None
    expires_at: int | None = None
    detail_json: str | None = None

    @property
    def detail(self) -> dict[str, Any] | None:
        return None if self.detail_json is None else dict(json.loads(self.detail_json))


@dataclass(frozen=True, slots=True)
class IdempotencyEntry:
    created_at: str
    expires_at: int
    fingerprint: str = ""


# ------------------------------------------------------------------ what the table's stream would relay
@dataclass(frozen=True, slots=True)
class InboxWritten:
    """A new (or expired and overwritten) inbox item: the relay queues it on inbound.fifo."""

    inbox_key: str
    kind: str
    ordering_key: str


@dataclass(frozen=True, slots=True)
class JobWritten:
    """A new outbound message stored with its job: the relay queues the job on outbound.fifo."""

    job_json: str

    @property
    def job(self) -> dict[str, Any]:
        return dict(json.loads(self.job_json))


Change = InboxWritten | JobWritten


@dataclass(frozen=True, slots=True)
class Stored:
    """One stored record, as :meth:`MemoryStore.scan` lists it."""

    aggregate: str
    key: tuple[str, ...]
    record: Any


def check_item_size(**attributes: Any) -> None:
    """Refuse what the table would refuse: an item over 400 KB (sizes counted as DynamoDB does,
    closely enough: UTF-8 strings, raw bytes, and nested values by their JSON)."""
    size = 0
    for name, value in attributes.items():
        if value is None:
            continue
        if isinstance(value, bytes):
            size += len(name) + len(value)
        elif isinstance(value, str):
            size += len(name) + len(value.encode())
        else:
            size += len(name) + len(json.dumps(value, default=str).encode())
    if size > ITEM_LIMIT_BYTES:
        raise PayloadTooLarge("the event is too large to store")


def message_key(created_at: str, message_id: str) -> str:
    """A message's position in its conversation: by time, then id (the table's sort order)."""
    return f"{created_at}#{message_id}"


@dataclass(slots=True)
class MemoryStore:
    """Every record of every in-memory repository. Share one between the repositories of a test."""

    lock: threading.RLock = field(default_factory=threading.RLock, repr=False, compare=False)
    inbox: dict[str, InboxEntry] = field(default_factory=dict)
    identities: dict[str, IdentityEntry] = field(default_factory=dict)
    customers: dict[str, CustomerEntry] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)  # reference → conversation id
    conversations: dict[str, Conversation] = field(default_factory=dict)
    customer_conversations: set[tuple[str, str, str]] = field(default_factory=set)  # (customer, created, id)
    messages: dict[tuple[str, str], MessageEntry] = field(default_factory=dict)  # (conversation, message_key)
    provider_messages: dict[tuple[str, str], ProviderMessageEntry] = field(default_factory=dict)
    claims: dict[str, ClaimEntry] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], IdempotencyEntry] = field(default_factory=dict)
    calls: dict[tuple[str, str], CallEntry] = field(default_factory=dict)  # (provider, call id)
    call_versions: dict[tuple[str, str], int] = field(default_factory=dict)  # (conversation, message_key)
    thread_owner_at: dict[str, str] = field(default_factory=dict)  # conversation → when its owner was recorded
    mail_threads: dict[str, str] = field(default_factory=dict)  # email Message-ID → conversation id
    expiring_claims: dict[str, tuple[str, int]] = field(default_factory=dict)  # key → (holder, expires at)
    changes: list[Change] = field(default_factory=list)  # what the stream would carry, in order
    feedback: dict[str, Any] = field(default_factory=dict)  # conversation id → FeedbackRecord
    customer_surveys: dict[str, tuple[str, str]] = field(default_factory=dict)  # customer → (conversation, asked)
    surveys_due: set[tuple[str, str]] = field(default_factory=set)  # (due at, conversation id)
    survey_cursor: dict[str, tuple[str, str]] = field(default_factory=dict)  # "sent": the last delayed survey sent
    kpis: dict[tuple[str, str, str], dict[str, int]] = field(default_factory=dict)  # (kind, day, value) → counts
    kpi_events: set[str] = field(default_factory=set)  # event keys already counted
    # (incident, update) → (counter, channel) → n: broadcast messages' delivered / failed, moved with their status
    broadcast_progress: dict[tuple[str, str], dict[tuple[str, str], int]] = field(default_factory=dict)
    erasures: dict[str, Any] = field(default_factory=dict)  # customer id → ErasureRecord (chalicelib.privacy)

    def scan(self) -> list[Stored]:
        """Every stored record (the in-memory ``runtime.table().scan()``), grouped by aggregate."""
        found: list[Stored] = []
        with self.lock:
            for spec in fields(self):
                if spec.name in ("lock", "changes"):
                    continue
                table = getattr(self, spec.name)
                entries = (
                    [(key, key) for key in table] if isinstance(table, set) else list(table.items())
                )
                for key, record in sorted(entries, key=lambda pair: _as_key(pair[0])):
                    found.append(Stored(spec.name, _as_key(key), record))
        return found

    def records(self, aggregate: str) -> list[Any]:
        """The stored records of one aggregate (``"messages"``, ``"claims"``, ...), in key order."""
        return [stored.record for stored in self.scan() if stored.aggregate == aggregate]

    def jobs(self) -> list[dict[str, Any]]:
        """Every job the relay would have queued, in the order the messages were stored."""
        with self.lock:
            return [change.job for change in self.changes if isinstance(change, JobWritten)]


def _as_key(key: Any) -> tuple[str, ...]:
    return tuple(str(part) for part in key) if isinstance(key, tuple) else (str(key),)
