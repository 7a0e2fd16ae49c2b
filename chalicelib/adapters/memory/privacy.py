"""The privacy ports in memory: the twin of DynamoPrivacyStore over the in-memory store (so a test can
run the in-memory hub, erase a customer and scan what is left), the payload bucket, the event queue."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any

from chalicelib.adapters.memory.crisis import MemoryCrisis
from chalicelib.adapters.memory.customers import MemoryCustomers
from chalicelib.adapters.memory.store import InboxEntry, MemoryStore, message_key
from chalicelib.core.errors import StoreUnavailable
from chalicelib.core.ids import acknowledgment_claim_key
from chalicelib.core.model import Conversation, Customer, Direction, InboundEvent, Message
from chalicelib.privacy.ports import ErasureRecord, InboxCopy


class MemoryPrivacyStore:
    def __init__(self, store: MemoryStore, crisis: MemoryCrisis | None = None) -> None:
        self.store = store
        self._customers = MemoryCustomers(store)
        self._crisis = crisis

    # ------------------------------------------------------------ reads
    def customer(self, customer_id: str) -> Customer | None:
        return self._customers.get(customer_id)

    def conversation_ids(self, customer_id: str) -> Iterator[str]:
        with self.store.lock:
            links = sorted(link for link in self.store.customer_conversations if link[0] == customer_id)
        for _, _, conversation_id in links:
            yield conversation_id

    def conversation(self, conversation_id: str) -> Conversation | None:
        with self.store.lock:
            return self.store.conversations.get(conversation_id)

    def messages(self, conversation_id: str) -> Iterator[Message]:
        with self.store.lock:
            found = sorted((key, entry.message) for key, entry in self.store.messages.items()
                           if key[0] == conversation_id)
        for _, message in found:
            yield message

    def call_inbox_keys(self, provider: str, call_id: str) -> tuple[str, ...]:
        with self.store.lock:
            entry = self.store.calls.get((provider, call_id))
        return tuple(sorted(entry.inbox_keys)) if entry else ()

    def inbox_copy(self, inbox_key: str) -> InboxCopy | None:
        with self.store.lock:
            entry = self.store.inbox.get(inbox_key)
        if entry is None:
            return None
        event = json.loads(entry.event_json) if entry.event_json else None
        provider, _, _ = inbox_key.partition("#")
        return InboxCopy(inbox_key=inbox_key, provider=provider, kind=str((event or {}).get("kind", "")),
                         received_at=entry.received_at, event=event, raw=entry.raw, raw_pointer=entry.raw_pointer,
                         content_type=entry.content_type, erased=entry.erased_at is not None)

    def inbox_keys_of(self, ordering_key: str) -> Iterator[str]:
        with self.store.lock:
            entries = sorted(self.store.inbox.items(), key=lambda pair: (pair[1].received_at, pair[0]))
        for inbox_key, entry in entries:
            if entry.event_json and InboundEvent.from_dict(json.loads(entry.event_json)).ordering_key == ordering_key:
                yield inbox_key

    def feedback(self, conversation_id: str) -> Mapping[str, Any] | None:
        with self.store.lock:
            record = self.store.feedback.get(conversation_id)
        if record is None:
            return None
        return {"conversation_id": conversation_id, "kind": record.kind, "channel": record.channel,
                "route": record.route, "asked_at": record.asked_at, "language": record.language, "sent": record.sent,
                "score": record.score, "comment": record.comment, "answered_at": record.answered_at}

    def crisis_records(self, customer_id: str) -> Iterator[Mapping[str, Any]]:
        if self._crisis is None:
            return
        for incident_id, contacts in sorted(self._crisis.contacts.items()):
            if customer_id in contacts:
                yield {"record": "keyword_contact", "incident_id": incident_id, "created_at": contacts[customer_id]}
        for (incident_id, update_id, recipient), state in sorted(self._crisis.recipients.items()):
            if recipient == customer_id:
                yield {"record": "broadcast_recipient", "incident_id": incident_id, "update_id": update_id,
                       **{name: state.get(name) for name in ("state", "channel", "reason", "outbound_id",
                                                             "created_at")}}

    # ------------------------------------------------------------ the audit
    def erasure(self, customer_id: str) -> ErasureRecord | None:
        with self.store.lock:
            record: ErasureRecord | None = self.store.erasures.get(customer_id)
        return record

    def start_erasure(self, record: ErasureRecord) -> ErasureRecord:
        with self.store.lock:
            stored: ErasureRecord = self.store.erasures.setdefault(record.customer_id, record)
        return stored

    def finish_erasure(self, record: ErasureRecord) -> None:
        with self.store.lock:
            held = self.store.erasures.get(record.customer_id)
            if held is not None and not held.finished:
                self.store.erasures[record.customer_id] = record

    # ------------------------------------------------------------ erasure
    def erase_inbox_copy(self, inbox_key: str, at: str) -> bool:
        with self.store.lock:
            entry = self.store.inbox.get(inbox_key)
            if entry is None or entry.erased_at is not None:
                return False
            self.store.inbox[inbox_key] = InboxEntry(
                event_json="", endpoint=entry.endpoint, received_at=entry.received_at, content_type=None,
                expires_at=entry.expires_at, raw=None, raw_pointer=None, confirmed_at=entry.confirmed_at,
                erased_at=at)
            return True

    def erase_message(self, message: Message) -> None:
        with self.store.lock:
            if message.provider and message.provider_message_id:
                self.store.provider_messages.pop((message.provider, message.provider_message_id), None)
                if message.call:
                    self.store.calls.pop((message.provider, message.provider_message_id), None)
            claim = self.store.claims.get(message.id)
            if message.direction is Direction.OUTBOUND and claim is not None:
                self.store.claims[message.id] = replace(claim, detail_json=None)  # the claim stays, no detail
            position = message_key(message.created_at, message.id)
            self.store.messages.pop((message.conversation_id, position), None)
            self.store.call_versions.pop((message.conversation_id, position), None)

    def erase_conversation(self, customer_id: str, conversation: Conversation | None, conversation_id: str) -> None:
        with self.store.lock:
            record = self.store.feedback.pop(conversation_id, None)
            if record is not None:
                self.store.surveys_due.discard((record.asked_at, conversation_id))
            self.store.customer_conversations = {
                link for link in self.store.customer_conversations
                if not (link[0] == customer_id and link[2] == conversation_id)}
            self.store.conversations.pop(conversation_id, None)
            self.store.thread_owner_at.pop(conversation_id, None)

    def erase_crisis_contacts(self, customer_id: str) -> int:
        if self._crisis is None:
            return 0
        deleted = 0
        for contacts in self._crisis.contacts.values():
            if contacts.pop(customer_id, None) is not None:
                deleted += 1
        return deleted

    def erase_identity(self, identity_key: str) -> None:
        with self.store.lock:
            self.store.expiring_claims.pop(acknowledgment_claim_key(identity_key), None)
            self.store.identities.pop(identity_key, None)

    def erase_customer(self, customer_id: str) -> None:
        with self.store.lock:
            self.store.customer_surveys.pop(customer_id, None)
            self.store.customers.pop(customer_id, None)


class MemoryObjects:
    """The payload bucket's objects by pointer; ``failing`` makes deletes fail (an outage)."""

    def __init__(self, objects: Mapping[str, bytes] | None = None) -> None:
        self.objects = dict(objects or {})
        self.failing = False
        self._lock = threading.Lock()

    def link(self, pointer: str, *, filename: str | None, content_type: str | None, expires_in: int) -> str | None:
        with self._lock:
            return f"{pointer}?expires_in={expires_in}" if pointer in self.objects else None

    def delete(self, pointer: str) -> None:
        if self.failing:
            raise StoreUnavailable("the payload bucket is unavailable")
        with self._lock:
            self.objects.pop(pointer, None)


class MemoryNotices:
    """The conversation-events queue as a list of (body, group id, dedupe id); ``failing`` refuses."""

    def __init__(self) -> None:
        self.published: list[tuple[dict[str, Any], str, str]] = []
        self.failing = False

    def publish(self, body: Mapping[str, Any], *, group_id: str, dedupe_id: str) -> None:
        if self.failing:
            raise StoreUnavailable("the queue refused the event")
        self.published.append((dict(body), group_id, dedupe_id))
