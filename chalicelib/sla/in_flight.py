"""A ladder level recorded but not yet known to be published: the sweeper's in-flight mark (pure).

Recording a level (a write conditional on the timers' revision) makes one sweeper its owner, and the
same write marks the level *in flight* on the timers. The owner publishes it, then confirms with a second
conditional write that clears the mark. While a level is in flight no sweeper climbs past it: recording
level n+1 needs level n's mark gone, so the levels reach the queue in the order they are recorded (a
concurrent sweeper cannot publish level n+1 while level n's publication is still under way).

A mark nobody will confirm becomes *claimable*:

- at once when it is *released*: its owner's publication failed and it said so;
- after :data:`STALE_AFTER` otherwise: its owner died (a Lambda timeout, a crash) between recording and
  confirming. The bound covers the oldest scheduled event EventBridge still delivers (five minutes, the
  sweeper's "now" being the event's ``time``) plus the sweeper's Lambda timeout (60 s), with room.

The sweeper that claims a mark (again conditionally: one claimant) publishes the same level under the
same envelope id (the FIFO queue drops a repeat within its five-minute window; consumers dedupe on
``envelope_id`` beyond it) and confirms. The mark keeps the conversation on the sweeper's index at the
moment it becomes claimable (:func:`chalicelib.sla.timers.encode`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from chalicelib.core.errors import ModelError
from chalicelib.core.timestamps import format_timestamp, parse_timestamp
from chalicelib.sla.ladder import DueLevel, EscalationLevel
from chalicelib.sla.policy import SlaKind

STALE_AFTER = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class InFlight:
    """Level ``level`` of the clock ``kind`` started at ``clock_started_at``, recorded (or claimed) by the
    sweep of ``since`` and not yet confirmed published."""

    kind: SlaKind
    clock_started_at: datetime
    level: int
    since: datetime
    released: bool = False  # its owner's publication failed: claimable at once

    @property
    def claimable_at(self) -> datetime:
        return self.since if self.released else self.since + STALE_AFTER

    def claimable(self, now: datetime) -> bool:
        return now >= self.claimable_at


def mark(level: DueLevel, now: datetime) -> InFlight:
    """``level`` in flight as of ``now`` (to the millisecond, as stored)."""
    return InFlight(level.kind, parse_timestamp(format_timestamp(level.clock_started_at)), level.level,
                    parse_timestamp(format_timestamp(now)))


def release(flight: InFlight) -> InFlight:
    return replace(flight, released=True)


def due_level(flight: InFlight, ladder: Sequence[EscalationLevel]) -> DueLevel | None:
    """The level to publish again; None when the ladder (a new configuration) no longer has it."""
    if not 1 <= flight.level <= len(ladder):
        return None
    return DueLevel(flight.kind, flight.clock_started_at, flight.level, ladder[flight.level - 1], flight.since)


def to_record(flight: InFlight) -> dict[str, Any]:
    return {"kind": flight.kind.value, "clock_started_at": format_timestamp(flight.clock_started_at),
            "level": flight.level, "since": format_timestamp(flight.since), "released": flight.released}


def from_record(value: object) -> InFlight | None:
    """The mark stored under the timers' ``in_flight``; None when there is none; ModelError when malformed
    (as for the rest of the timers)."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ModelError("not an in-flight record")
    try:
        return InFlight(SlaKind(value["kind"]), parse_timestamp(value["clock_started_at"]), int(value["level"]),
                        parse_timestamp(value["since"]), bool(value.get("released", False)))
    except (KeyError, TypeError, ValueError) as err:
        raise ModelError(f"not an in-flight record: {type(err).__name__}") from err


def same(first: InFlight | None, second: InFlight | None) -> bool:
    """The same mark, compared as stored (a mark read back equals the one written)."""
    if first is None or second is None:
        return first is second
    return to_record(first) == to_record(second)
