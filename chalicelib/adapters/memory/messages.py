"""Messages in memory: the index of provider message ids, and monotonic delivery statuses.

The same rules as the table: a message is stored once per (conversation, time, id); a status only
moves the way :meth:`DeliveryStatus.can_become` allows; a status for a provider id nobody recorded
yet (the callback overtook the sender's answer) is parked on that id, the best one kept, and applied
when the id is recorded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, replace
from typing import Any

from chalicelib.adapters.memory.store import (
    JobWritten,
    MemoryStore,
    MessageEntry,
    ProviderMessageEntry,
    check_item_size,
    message_key,
)
from chalicelib.core.incident import delivery_moves
from chalicelib.core.model import Channel, DeliveryStatus, Direction, Message
from chalicelib.core.records import LastInbound
from chalicelib.core.revisions import reacted, revised
from chalicelib.core.timestamps import utc_now


class MemoryMessages:
    def __init__(self, store: MemoryStore, *, retention_days: int = 30) -> None:
        self.store = store
        self._retention_seconds = retention_days * 86400

    def put(
        self,
        message: Message,
        *,
        kind: str | None = None,
        delivered_in: str | None = None,
        job: Mapping[str, Any] | None = None,
    ) -> bool:
        job_json = json.dumps(dict(job), ensure_ascii=False) if job is not None else None
        key = (message.conversation_id, message_key(message.created_at, message.id))
        check_item_size(key=key, message=asdict(message), kind=kind, delivered_in=delivered_in, job=job_json)
        with self.store.lock:
            written = key not in self.store.messages
            if written:
                entry = MessageEntry(message, kind=kind, delivered_in=delivered_in, job_json=job_json)
                self.store.messages[key] = entry
                if job_json is not None:
                    self.store.changes.append(JobWritten(job_json))
            if message.provider and message.provider_message_id:
                self._index_provider_message(message.provider, message.provider_message_id, message)
            return written

    def find(self, conversation_id: str, message_id: str) -> Message | None:
        return next((m for m in self._in_order(conversation_id) if m.id == message_id), None)

    def last_inbound_on_channel(self, conversation_id: str, channel: Channel) -> LastInbound | None:
        for message in reversed(self._in_order(conversation_id)):
            if message.direction is Direction.INBOUND and message.channel is channel:
                return LastInbound(message.created_at, message.provider, message.inbox_key)
        return None

    def _in_order(self, conversation_id: str) -> list[Message]:
        with self.store.lock:
            entries = sorted((k, e) for k, e in self.store.messages.items() if k[0] == conversation_id)
        return [entry.message for _, entry in entries]

    # ----------------------------------------------------------------- delivery statuses
    def apply_delivery_status(
        self, provider: str, provider_message_id: str, status: DeliveryStatus, error_code: str | None
    ) -> bool:
        """False when not newer, or parked because the id is not recorded on a message yet."""
        with self.store.lock:
            pointer = self.store.provider_messages.get((provider, provider_message_id))
            if pointer is None or not pointer.conversation_id or pointer.message_key is None:
                self._park_status((provider, provider_message_id), status, error_code)
                return False
            return self._advance((pointer.conversation_id, pointer.message_key), status, error_code)

    def revise_message(self, provider: str, provider_message_id: str, *, text: str | None, deleted: bool,
                       at: str) -> bool:
        return self._rewrite(provider, provider_message_id,
                             lambda message: revised(message, text=text, deleted=deleted, at=at))

    def record_reaction(self, provider: str, provider_message_id: str, *, emoji: str | None, at: str) -> bool:
        return self._rewrite(provider, provider_message_id, lambda message: reacted(message, emoji=emoji, at=at))

    def _rewrite(self, provider: str, provider_message_id: str, change: Callable[[Message], Message | None]) -> bool:
        with self.store.lock:
            pointer = self.store.provider_messages.get((provider, provider_message_id))
            if pointer is None or not pointer.conversation_id or pointer.message_key is None:
                return False
            key = (pointer.conversation_id, pointer.message_key)
            entry = self.store.messages.get(key)
            changed = None if entry is None else change(entry.message)
            if entry is None or changed is None:
                return False
            self.store.messages[key] = replace(entry, message=changed)
            return True

    def record_outbound_result(
        self,
        message: Message,
        *,
        status: DeliveryStatus,
        provider: str | None,
        provider_message_id: str | None,
        error_code: str | None = None,
        error_reason: str | None = None,
    ) -> None:
        """The provider's ids are always recorded; the status only moves forward (a callback may have
        overtaken the sender's answer)."""
        key = (message.conversation_id, message_key(message.created_at, message.id))
        with self.store.lock:
            entry = self.store.messages.get(key)
            if provider or provider_message_id or error_code or error_reason:
                if entry is None:
                    return  # no such message: nothing to record it on
                self.store.messages[key] = replace(
                    entry,
                    message=replace(
                        entry.message,
                        provider=provider or entry.message.provider,
                        provider_message_id=provider_message_id or entry.message.provider_message_id,
                        error_code=error_code or entry.message.error_code,
                    ),
                    error_reason=error_reason or entry.error_reason,
                )
            if provider and provider_message_id:
                self._index_provider_message(provider, provider_message_id, message)
            self._advance(key, status, None)

    def _advance(self, key: tuple[str, str], status: DeliveryStatus, error_code: str | None) -> bool:
        """Under the store's lock, like the table's conditional write (and, for a broadcast message, the
        transaction that moves its update's counters with it)."""
        entry = self.store.messages.get(key)
        if entry is None or not entry.message.status.can_become(status):
            return False
        changed = replace(entry.message, status=status, error_code=error_code or entry.message.error_code)
        self.store.messages[key] = replace(entry, message=changed, status_at=utc_now())
        ref = entry.message.broadcast
        if ref is not None:
            figures = self.store.broadcast_progress.setdefault((ref.incident_id, ref.update_id), {})
            for counter, delta in delivery_moves(entry.message.status, status).items():
                figures[(counter, entry.message.channel.value)] = figures.get((counter, entry.message.channel.value),
                                                                              0) + delta
        return True

    def _index_provider_message(self, provider: str, provider_message_id: str, message: Message) -> None:
        """Record where a provider's message id lives (the first message named wins); apply a status
        that arrived before we knew it."""
        pointer_key = (provider, provider_message_id)
        position = message_key(message.created_at, message.id)
        existing = self.store.provider_messages.get(pointer_key)
        if existing is None:
            self.store.provider_messages[pointer_key] = ProviderMessageEntry(message.conversation_id, position)
            return
        if existing.conversation_id:
            return
        self.store.provider_messages[pointer_key] = replace(
            existing, conversation_id=message.conversation_id, message_key=position
        )
        if existing.parked_status:
            self.apply_delivery_status(
                provider, provider_message_id, DeliveryStatus(existing.parked_status), existing.parked_error_code
            )

    def _park_status(self, pointer_key: tuple[str, str], status: DeliveryStatus, error_code: str | None) -> None:
        """Keep the highest-ranked status that arrived early (its error code, if it brought one)."""
        existing = self.store.provider_messages.get(pointer_key, ProviderMessageEntry())
        if existing.conversation_id or (existing.parked_rank is not None and not existing.parked_rank < status.rank):
            return
        self.store.provider_messages[pointer_key] = replace(
            existing,
            parked_status=status.value,
            parked_rank=status.rank,
            parked_error_code=error_code or existing.parked_error_code,
            expires_at=int(time.time()) + self._retention_seconds,
        )
