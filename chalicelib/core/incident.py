"""Crisis incidents, their updates, audiences and progress: the vocabulary, pure.

An incident is what the communications team opens during an outage; each update (the first one
comes with the incident) is broadcast once to each recipient of the incident's audience.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chalicelib.core.vocabulary import DeliveryStatus


class IncidentStatus(StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"


class ProgressCounter(StrEnum):
    PLANNED = "planned"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class BroadcastRef:
    """The incident update a broadcast message belongs to: its delivery statuses count on that
    update's progress (``delivered`` and ``failed`` per channel)."""

    incident_id: str
    update_id: str


_REACHED = frozenset({DeliveryStatus.DELIVERED, DeliveryStatus.READ})


def delivery_moves(old: DeliveryStatus, new: DeliveryStatus) -> dict[str, int]:
    """How one broadcast message's status change moves its update's counters (counter → delta).

    ``delivered`` counts a message that reached the customer once (a later ``read`` adds nothing);
    ``failed`` counts one that did not; a message reported failed after delivered moves from one to
    the other, so each message sits in at most one of them. Only for a change ``old.can_become(new)``
    allows: the callers apply it together with that conditional transition, never twice."""
    if new in _REACHED:
        return {} if old in _REACHED else {ProgressCounter.DELIVERED.value: 1}
    if new is DeliveryStatus.FAILED:
        moves = {ProgressCounter.FAILED.value: 1}
        if old in _REACHED:
            moves[ProgressCounter.DELIVERED.value] = -1
        return moves
    return {}


@dataclass(frozen=True, slots=True)
class Audience:
    """Who an incident reaches: every criterion given must hold (None: not a criterion)."""

    customer_ids: tuple[str, ...] | None = None
    open_conversations: bool | None = None
    active_within_days: int | None = None
    tiers: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    channels: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for name in ("customer_ids", "tiers", "tags", "channels"):
            value = getattr(self, name)
            if value is not None:
                data[name] = list(value)
        if self.open_conversations is not None:
            data["open_conversations"] = self.open_conversations
        if self.active_within_days is not None:
            data["active_within_days"] = self.active_within_days
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Audience:
        def strings(name: str) -> tuple[str, ...] | None:
            value = data.get(name)
            return None if value is None else tuple(str(v) for v in value)

        days = data.get("active_within_days")
        return cls(
            customer_ids=strings("customer_ids"),
            open_conversations=data.get("open_conversations"),
            active_within_days=None if days is None else int(days),
            tiers=strings("tiers"),
            tags=strings("tags"),
            channels=strings("channels"),
        )


@dataclass(frozen=True, slots=True)
class Progress:
    """Counters of one update: ``counts`` maps ``(counter, channel)`` to a number; ``skipped_reasons``
    maps ``(reason, channel)`` to a number (their sum per channel is the ``skipped`` counter)."""

    counts: Mapping[tuple[str, str], int] = field(default_factory=dict)
    skipped_reasons: Mapping[tuple[str, str], int] = field(default_factory=dict)
    last_sent_at: str | None = None
    planning_done: bool = False

    def to_api(self) -> dict[str, Any]:
        channels = sorted({c for _, c in self.counts} | {c for _, c in self.skipped_reasons})
        per_channel: dict[str, dict[str, Any]] = {}
        totals = {counter.value: 0 for counter in ProgressCounter}
        for channel in channels:
            figures: dict[str, Any] = {counter.value: 0 for counter in ProgressCounter}
            for counter in ProgressCounter:
                figures[counter.value] = self.counts.get((counter.value, channel), 0)
            reasons = {r: n for (r, c), n in self.skipped_reasons.items() if c == channel}
            figures["skipped"] = sum(reasons.values())
            figures["skipped_reasons"] = dict(sorted(reasons.items()))
            for counter in ProgressCounter:
                totals[counter.value] += int(figures[counter.value])
            per_channel[channel] = figures
        return {**totals, "per_channel": per_channel, "last_sent_at": self.last_sent_at,
                "planning_done": self.planning_done}


@dataclass(frozen=True, slots=True)
class IncidentUpdate:
    incident_id: str
    id: str
    status: IncidentStatus
    message: Mapping[str, str]  # language → text
    created_at: str
    progress: Progress = field(default_factory=Progress)

    def to_api(self) -> dict[str, Any]:
        return {"id": self.id, "incident_id": self.incident_id, "status": self.status.value,
                "message": dict(self.message), "created_at": self.created_at, "progress": self.progress.to_api()}


@dataclass(frozen=True, slots=True)
class Incident:
    id: str
    title: str
    status: IncidentStatus
    keywords: tuple[str, ...]
    audience: Audience
    created_at: str
    updated_at: str
    cancelled_at: str | None = None

    @property
    def active(self) -> bool:
        return self.status is not IncidentStatus.RESOLVED and self.cancelled_at is None

    def to_api(self, updates: tuple[IncidentUpdate, ...] = ()) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "status": self.status.value, "keywords": list(self.keywords),
                "audience": self.audience.to_dict(), "created_at": self.created_at, "updated_at": self.updated_at,
                "active": self.active, "cancelled_at": self.cancelled_at,
                "updates": [u.to_api() for u in updates]}


@dataclass(frozen=True, slots=True)
class PlanState:
    """Where an update's planner stands: ``phase`` (``audience``, then ``keywords``, then ``done``) and
    the store's opaque cursor within it."""

    phase: str = "audience"
    cursor: str | None = None

    @property
    def done(self) -> bool:
        return self.phase == "done"


@dataclass(frozen=True, slots=True)
class RecipientClaim:
    """The one record per recipient and update: ``fresh`` when this call created it."""

    fresh: bool
    state: str  # claimed → sent | skipped | failed | cancelled
    outbound_id: str
    created_at: str
