"""Email Message-IDs → their conversation, in memory (the twin of ``adapters/dynamo/mail_threads.py``)."""

from __future__ import annotations

from collections.abc import Sequence

from chalicelib.adapters.memory.store import MemoryStore

MAX_LOOKUP = 100


class MemoryMailThreads:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def remember(self, message_id: str, conversation_id: str, *, now: float | None = None) -> bool:
        with self.store.lock:
            return self.store.mail_threads.setdefault(message_id, conversation_id) == conversation_id

    def conversations_for(self, message_ids: Sequence[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(message_ids))[:MAX_LOOKUP]
        with self.store.lock:
            return {m: self.store.mail_threads[m] for m in wanted if m in self.store.mail_threads}
