"""Conversation references in memory: each reserved once, for one conversation."""

from __future__ import annotations

from chalicelib.adapters.memory.store import MemoryStore


class MemoryReferences:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def reserve(self, reference: str, conversation_id: str) -> bool:
        with self.store.lock:
            return self.store.references.setdefault(reference, conversation_id) == conversation_id

    def move(self, reference: str, from_conversation: str, to_conversation: str) -> None:
        """A reference announced for a conversation that was never opened now names the one that was."""
        with self.store.lock:
            if self.store.references.get(reference) == from_conversation:
                self.store.references[reference] = to_conversation

    def conversation_for(self, reference: str) -> str | None:
        with self.store.lock:
            return self.store.references.get(reference.upper())
