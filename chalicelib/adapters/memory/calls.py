"""Phone calls in memory: the twin of ``adapters/dynamo/calls.py`` (same conditions, same answers)."""

from __future__ import annotations

from dataclasses import asdict, replace

from chalicelib.adapters.memory.store import CallEntry, MemoryStore, MessageEntry, check_item_size, message_key
from chalicelib.core.calls import CallLog
from chalicelib.core.model import Message

MAX_CALLBACKS = 200


def _log(entry: CallEntry) -> CallLog:
    return CallLog(entry.inbox_keys, entry.conversation_id, entry.message_created_at)


class MemoryCalls:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def record_event(self, provider: str, call_id: str, inbox_key: str) -> CallLog:
        with self.store.lock:
            entry = self.store.calls.get((provider, call_id), CallEntry())
            if len(entry.inbox_keys) < MAX_CALLBACKS:
                entry = replace(entry, inbox_keys=entry.inbox_keys | {inbox_key})
                self.store.calls[(provider, call_id)] = entry
            return _log(entry)

    def place(self, provider: str, call_id: str, conversation_id: str, message_created_at: str) -> CallLog:
        with self.store.lock:
            entry = self.store.calls.get((provider, call_id), CallEntry())
            if entry.conversation_id is None:
                entry = replace(entry, conversation_id=conversation_id, message_created_at=message_created_at)
                self.store.calls[(provider, call_id)] = entry
            return _log(entry)

    def write_message(self, message: Message, version: int) -> bool:
        key = (message.conversation_id, message_key(message.created_at, message.id))
        check_item_size(key=key, message=asdict(message))
        with self.store.lock:
            if self.store.call_versions.get(key, -1) > version:
                return False
            self.store.messages[key] = MessageEntry(message, kind="call")
            self.store.call_versions[key] = version
            return True

    def tag_conversation(self, conversation_id: str, tag: str) -> None:
        with self.store.lock:
            conversation = self.store.conversations.get(conversation_id)
            if conversation is not None and tag not in conversation.tags:
                self.store.conversations[conversation_id] = replace(conversation, tags=(*conversation.tags, tag))
