"""Email Message-IDs (received and sent) → their conversation: how a reply finds its thread by header."""

from __future__ import annotations

import time
from collections.abc import Sequence

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.table import Table

MAX_LOOKUP = 100  # BatchGetItem's limit; a mail's References are capped at 50 before this


class DynamoMailThreads:
    def __init__(self, table: Table, *, retention_days: int = 365) -> None:
        self._table = table
        self._retention_seconds = retention_days * 86400

    def remember(self, message_id: str, conversation_id: str, *, now: float | None = None) -> bool:
        """The first conversation named keeps the Message-ID (a conditional put); True when it is this one."""
        moment = int(time.time() if now is None else now)
        item = {**keys.mail_thread(message_id), "conversation_id": conversation_id,
                "expires_at": moment + self._retention_seconds}
        if self._table.put_if_absent(item):
            return True
        existing = self._table.get(keys.mail_thread(message_id), consistent=True)
        return existing is not None and existing.get("conversation_id") == conversation_id

    def conversations_for(self, message_ids: Sequence[str]) -> dict[str, str]:
        wanted = list(dict.fromkeys(message_ids))[:MAX_LOOKUP]
        if not wanted:
            return {}
        by_key = {keys.mail_thread(message_id)["pk"]: message_id for message_id in wanted}
        found = self._table.batch_get([keys.mail_thread(message_id) for message_id in wanted], consistent=False)
        return {by_key[item["pk"]]: str(item["conversation_id"]) for item in found if item.get("pk") in by_key}
