"""Crisis incidents, recipients and send-rate buckets in memory: the same conditions as the table's."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace

from chalicelib.adapters.memory.customers import MemoryCustomers
from chalicelib.adapters.memory.store import MemoryStore
from chalicelib.core.incident import Incident, IncidentStatus, IncidentUpdate, PlanState, Progress, RecipientClaim
from chalicelib.core.model import Customer
from chalicelib.core.pacing import Bucket, take_token

CLAIMED = "claimed"


class MemoryCrisis:
    def __init__(self, store: MemoryStore) -> None:
        self._customers = MemoryCustomers(store)
        self._store = store
        self._lock = threading.RLock()
        self.incidents: dict[str, Incident] = {}
        self.updates_by_incident: dict[str, dict[str, IncidentUpdate]] = {}
        self.plans: dict[tuple[str, str], PlanState] = {}
        self.recipients: dict[tuple[str, str, str], dict[str, str]] = {}
        self.contacts: dict[str, dict[str, str]] = {}
        self.size_estimate: int | None = None  # what audience_size answers
        self.calls: dict[str, int] = {}  # operation → count (the bench's DynamoDB figures on the twin)

    def _count(self, operation: str) -> None:
        self.calls[operation] = self.calls.get(operation, 0) + 1

    def create_incident(self, incident: Incident) -> bool:
        with self._lock:
            if incident.id in self.incidents:
                return False
            self.incidents[incident.id] = incident
            return True

    def get_incident(self, incident_id: str) -> Incident | None:
        return self.incidents.get(incident_id)

    def list_incidents(self, limit: int) -> list[Incident]:
        return sorted(self.incidents.values(), key=lambda i: i.id, reverse=True)[:limit]

    def set_incident_status(self, incident_id: str, status: str, at: str) -> None:
        with self._lock:
            if incident_id in self.incidents:
                self.incidents[incident_id] = replace(
                    self.incidents[incident_id], status=IncidentStatus(status), updated_at=at)

    def cancel_incident(self, incident_id: str, at: str) -> bool:
        with self._lock:
            incident = self.incidents.get(incident_id)
            if incident is None or incident.cancelled_at is not None:
                return False
            self.incidents[incident_id] = replace(incident, cancelled_at=at, updated_at=at)
            return True

    def add_update(self, update: IncidentUpdate) -> bool:
        with self._lock:
            updates = self.updates_by_incident.setdefault(update.incident_id, {})
            if update.id in updates:
                return False
            updates[update.id] = replace(update, progress=Progress())
            self.plans[(update.incident_id, update.id)] = PlanState()
            return True

    def get_update(self, incident_id: str, update_id: str) -> IncidentUpdate | None:
        update = self.updates_by_incident.get(incident_id, {}).get(update_id)
        return None if update is None else self._with_deliveries(update)

    def updates(self, incident_id: str) -> list[IncidentUpdate]:
        found = [self._with_deliveries(u) for u in self.updates_by_incident.get(incident_id, {}).values()]
        return sorted(found, key=lambda u: (u.created_at, u.id))

    def _with_deliveries(self, update: IncidentUpdate) -> IncidentUpdate:
        """The delivered / failed counters the message twin moves with each broadcast status."""
        with self._store.lock:
            moved = dict(self._store.broadcast_progress.get((update.incident_id, update.id), {}))
        if not moved:
            return update
        return replace(update, progress=replace(update.progress, counts=_added(update.progress.counts, moved)))

    def plan_state(self, incident_id: str, update_id: str) -> PlanState:
        self._count("get_item")
        return self.plans[(incident_id, update_id)]

    def advance_plan(
        self, incident_id: str, update_id: str, expected: PlanState, reached: PlanState,
        counts: Mapping[tuple[str, str], int], skipped: Mapping[tuple[str, str], int],
    ) -> bool:
        self._count("update_item")
        with self._lock:
            if self.plans[(incident_id, update_id)] != expected:
                return False
            self.plans[(incident_id, update_id)] = reached
            update = self.updates_by_incident[incident_id][update_id]
            progress = update.progress
            self.updates_by_incident[incident_id][update_id] = replace(update, progress=replace(
                progress, counts=_added(progress.counts, counts),
                skipped_reasons=_added(progress.skipped_reasons, skipped),
                planning_done=reached.done))
            return True

    def claim_recipient(
        self, incident_id: str, update_id: str, customer_id: str, outbound_id: str, created_at: str
    ) -> RecipientClaim:
        self._count("put_item")
        with self._lock:
            key = (incident_id, update_id, customer_id)
            existing = self.recipients.get(key)
            if existing is None:
                self.recipients[key] = {"state": CLAIMED, "outbound_id": outbound_id, "created_at": created_at}
                return RecipientClaim(True, CLAIMED, outbound_id, created_at)
            return RecipientClaim(False, existing["state"], existing["outbound_id"], existing["created_at"])

    def settle_recipient(
        self, incident_id: str, update_id: str, customer_id: str, state: str, channel: str,
        reason: str | None = None, at: str | None = None,
    ) -> bool:
        self._count("update_item")
        with self._lock:
            record = self.recipients.get((incident_id, update_id, customer_id))
            if record is None or record["state"] != CLAIMED:
                return False
            record.update(state=state, channel=channel, reason=reason or "")
            self._count("update_item")
            update = self.updates_by_incident[incident_id][update_id]
            progress = update.progress
            if state == "skipped":
                skips = _added(progress.skipped_reasons, {(reason or "", channel): 1})
                progress = replace(progress, skipped_reasons=skips)
            else:
                progress = replace(progress, counts=_added(progress.counts, {(state, channel): 1}))
            if state == "sent" and at:
                progress = replace(progress, last_sent_at=at)
            self.updates_by_incident[incident_id][update_id] = replace(update, progress=progress)
            return True

    def audience_page(self, cursor: str | None, limit: int) -> tuple[list[Customer], str | None]:
        self._count("query")
        with self._store.lock:
            ordered = sorted((e.created_at, e.id) for e in self._store.customers.values())
        after = tuple(cursor.split("#", 1)) if cursor else None
        page = [pair for pair in ordered if after is None or pair > after][:limit]
        customers = [c for c in (self._customers.get(customer_id) for _, customer_id in page) if c is not None]
        more = page and len(page) == limit and page[-1] != ordered[-1]
        return customers, f"{page[-1][0]}#{page[-1][1]}" if more else None

    def audience_size(self) -> int | None:
        """None unless a test sets ``size_estimate`` (DynamoDB's figure is approximate, and moto's absent)."""
        return self.size_estimate

    def customers_by_id(self, customer_ids: Sequence[str]) -> list[Customer]:
        self._count("batch_get_item")
        found = [c for c in (self._customers.get(i) for i in customer_ids) if c is not None]
        return sorted(found, key=lambda c: (c.created_at, c.id))

    def record_keyword_contact(self, incident_id: str, customer_id: str, at: str) -> None:
        with self._lock:
            self.contacts.setdefault(incident_id, {}).setdefault(customer_id, at)

    def keyword_contacts_page(self, incident_id: str, cursor: str | None, limit: int) -> tuple[list[str], str | None]:
        ordered = sorted(self.contacts.get(incident_id, {}))
        page = [c for c in ordered if cursor is None or c > cursor][:limit]
        more = page and len(page) == limit and page[-1] != ordered[-1]
        return page, page[-1] if more else None


class MemoryPacer:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.buckets: dict[str, Bucket] = {}

    def take(self, bucket: str, per_second: float, burst: float, now: float, *, wait: bool = True) -> float:
        with self._lock:
            after, delay = take_token(self.buckets.get(bucket), per_second, burst, now, wait=wait)
            self.buckets[bucket] = after
            return delay

    def hold(self, bucket: str, until: float) -> None:
        with self._lock:
            current = self.buckets.get(bucket)
            if current is None:
                self.buckets[bucket] = Bucket(tokens=0.0, at=0.0, held_until=until)
            elif current.held_until < until:
                self.buckets[bucket] = replace(current, held_until=until)


def _added(figures: Mapping[tuple[str, str], int], more: Mapping[tuple[str, str], int]) -> dict[tuple[str, str], int]:
    total = dict(figures)
    for key, number in more.items():
        if number:
            total[key] = total.get(key, 0) + number
    return total
