"""The inbox in memory: one entry per provider event, deduplicated like the table's conditional put."""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import asdict, replace

from chalicelib.adapters.memory.store import InboxEntry, InboxWritten, MemoryStore, check_item_size
from chalicelib.core.bucket_layout import RAW_PAYLOAD_PREFIX
from chalicelib.core.errors import StoreUnavailable
from chalicelib.core.item_limits import event_json_size
from chalicelib.core.model import InboundEvent
from chalicelib.core.ports import PayloadArchive
from chalicelib.core.records import CarriedAcknowledgment, InboxRecord, ThreadDecision


class MemoryInbox:
    def __init__(
        self,
        store: MemoryStore,
        *,
        payloads: PayloadArchive | None = None,
        inline_payload_limit: int = 256 * 1024,
        retention_days: int = 30,
    ) -> None:
        self.store = store
        self._payloads = payloads
        self._inline_limit = inline_payload_limit
        self._retention_seconds = retention_days * 86400

    def put(
        self,
        event: InboundEvent,
        *,
        endpoint: str,
        received_at: str,
        raw_body: bytes,
        content_type: str | None,
        raw_pointer: str | None = None,
        now: float | None = None,
        acknowledgment: CarriedAcknowledgment | None = None,
        path: str | None = None,
    ) -> bool:
        """A duplicate is an entry whose retention has not run out at ``now``: an expired one is replaced.
        (``path`` is what the table keeps for ``./hub renormalize``; the twin has no renormalizer.)"""
        moment = int(time.time() if now is None else now)
        entry = InboxEntry(
            event_json=json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False),
            endpoint=endpoint,
            received_at=received_at,
            content_type=content_type,
            expires_at=moment + self._retention_seconds,
            raw=None if raw_pointer else bytes(raw_body),
            raw_pointer=raw_pointer,
            acknowledgment_json=json.dumps(acknowledgment.to_dict(), ensure_ascii=False, sort_keys=True)
            if acknowledgment
            else None,
        )
        check_item_size(key=event.inbox_key, **asdict(entry))
        with self.store.lock:
            existing = self.store.inbox.get(event.inbox_key)
            if existing is not None and not existing.expires_at < moment:
                return False
            self.store.inbox[event.inbox_key] = entry
            self.store.changes.append(InboxWritten(event.inbox_key, event.kind.value, event.ordering_key))
            return True

    def needs_payload_pointer(self, raw_body: bytes, events: Sequence[InboundEvent]) -> bool:
        """The entry holds the raw body and its event's JSON: both must fit under the inline limit."""
        return len(raw_body) + max(map(event_json_size, events), default=0) > self._inline_limit

    def archive_payload(self, provider: str, received_at: str, raw_body: bytes) -> str:
        if self._payloads is None:
            raise StoreUnavailable("no payload archive configured for a large body")
        # One object per request, as on S3, so discarding a refused request's copy touches no other.
        digest = hashlib.sha256(raw_body).hexdigest()
        name = f"{RAW_PAYLOAD_PREFIX}{provider}/{received_at[:10]}/{digest}-{secrets.token_hex(8)}"
        return self._payloads.put(name, raw_body)

    def discard_payload(self, pointer: str) -> None:
        if self._payloads is not None:
            self._payloads.delete(pointer)

    def get(self, inbox_key: str) -> InboxRecord | None:
        with self.store.lock:
            entry = self.store.inbox.get(inbox_key)
        if entry is None or entry.erased_at is not None:  # erased: only the dedupe record is left
            return None
        return InboxRecord(
            inbox_key=inbox_key,
            event=InboundEvent.from_dict(json.loads(entry.event_json)),
            received_at=entry.received_at,
            endpoint=entry.endpoint,
            thread=ThreadDecision.from_dict(json.loads(entry.thread_json)) if entry.thread_json else None,
            acknowledgment=CarriedAcknowledgment.from_dict(json.loads(entry.acknowledgment_json))
            if entry.acknowledgment_json
            else None,
            content_type=entry.content_type,
            confirmed_at=entry.confirmed_at,
        )

    def raw_payload(self, inbox_key: str) -> bytes | None:
        with self.store.lock:
            entry = self.store.inbox.get(inbox_key)
        if entry is None:
            return None
        if entry.raw is not None:
            return entry.raw
        if self._payloads is not None and entry.raw_pointer:
            return self._payloads.get(entry.raw_pointer)
        return None

    def record_thread_decision(self, inbox_key: str, decision: ThreadDecision) -> ThreadDecision:
        with self.store.lock:
            entry = self.store.inbox.get(inbox_key)
            if entry is None:
                raise StoreUnavailable(f"inbox item {inbox_key} vanished")
            if entry.thread_json is None:
                self.store.inbox[inbox_key] = replace(
                    entry, thread_json=json.dumps(decision.to_dict(), sort_keys=True)
                )
                return decision
            return ThreadDecision.from_dict(json.loads(entry.thread_json))

    def record_confirmation(self, inbox_key: str, confirmed_at: str) -> str:
        with self.store.lock:
            entry = self.store.inbox.get(inbox_key)
            if entry is None:
                raise StoreUnavailable(f"inbox item {inbox_key} vanished")
            if entry.confirmed_at is None:
                self.store.inbox[inbox_key] = replace(entry, confirmed_at=confirmed_at)
                return confirmed_at
            return entry.confirmed_at
