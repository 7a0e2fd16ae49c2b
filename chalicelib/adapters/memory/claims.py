"""Outbound delivery claims (leased) and REST idempotency keys, in memory."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from chalicelib.adapters.memory.store import ClaimEntry, IdempotencyEntry, MemoryStore
from chalicelib.core.records import IdempotencyRecord

SENDING = "sending"


class MemoryDeliveryClaims:
    """Sent at most once: a claim is taken when absent, or when its lease ran out while still sending."""

    def __init__(self, store: MemoryStore, *, retention_days: int = 30) -> None:
        self.store = store
        self._retention_seconds = retention_days * 86400

    def claim(self, outbound_id: str, lease_seconds: int, now: float | None = None) -> bool:
        moment = int(time.time() if now is None else now)
        with self.store.lock:
            held = self.store.claims.get(outbound_id)
            if held is not None and not (
                held.state == SENDING and held.lease_until is not None and held.lease_until < moment
            ):
                return False
            self.store.claims[outbound_id] = ClaimEntry(
                SENDING, lease_until=moment + lease_seconds, expires_at=moment + self._retention_seconds
            )
            return True

    def finish(self, outbound_id: str, state: str, detail: Mapping[str, Any]) -> None:
        """Unconditional, like the table's UpdateItem: it records the outcome even without a claim."""
        with self.store.lock:
            held = self.store.claims.get(outbound_id)
            self.store.claims[outbound_id] = ClaimEntry(
                state,
                lease_until=None,
                expires_at=held.expires_at if held else None,
                detail_json=json.dumps(dict(detail), sort_keys=True),
            )

    def release(self, outbound_id: str) -> None:
        """Give a claim back (a transient failure) so a redelivery can take it; a finished one stays."""
        with self.store.lock:
            held = self.store.claims.get(outbound_id)
            if held is not None and held.state == SENDING:
                del self.store.claims[outbound_id]


class MemoryIdempotencyKeys:
    def __init__(self, store: MemoryStore, *, retention_days: int = 30) -> None:
        self.store = store
        self._retention_seconds = retention_days * 86400

    def remember(self, scope: str, key: str, created_at: str, fingerprint: str) -> IdempotencyRecord:
        with self.store.lock:
            entry = self.store.idempotency.setdefault(
                (scope, key), IdempotencyEntry(created_at, int(time.time()) + self._retention_seconds, fingerprint)
            )
            return IdempotencyRecord(entry.created_at, entry.fingerprint)


class MemoryExpiringClaims:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def claim(self, key: str, holder: str, expires_at: int, *, now: float | None = None) -> bool:
        moment = int(time.time() if now is None else now)
        with self.store.lock:
            held = self.store.expiring_claims.get(key)
            if held is not None and held[1] >= moment and held[0] != holder:
                return False
            self.store.expiring_claims[key] = (holder, expires_at)
            return True
