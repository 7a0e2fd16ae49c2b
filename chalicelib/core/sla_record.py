"""What the SLA timers store on a conversation, as the core model carries it.

The timers' own format (clocks, levels climbed, pauses) belongs to :mod:`chalicelib.sla.ladder`; here it
is an opaque mapping, kept with what everybody else reads: the due times of the running clocks, whether
the clock is paused, and when the sweeper must look next. ``revision`` grows by one with every write, and
every write is conditional on the revision it read, so two writers (a sweeper and a reply, two sweepers)
never both apply a change made from the same state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SLA_KINDS = ("first_response", "next_response", "resolution")


@dataclass(frozen=True, slots=True)
class StoredSla:
    record: Mapping[str, Any]  # chalicelib.sla.ladder's stored form (state_to_record), plus its own keys
    revision: int  # 1 for the first write; each write is conditional on the one before
    due: Mapping[str, str] = field(default_factory=dict)  # kind → deadline (UTC ISO) of each running clock
    paused: bool = False  # the conversation is pending: no clock runs
    attention_at: str | None = None  # when a ladder level next falls due (None: nothing can; off the index)

    def to_api(self) -> dict[str, Any]:
        """``sla`` in ``GET /conversations/{id}`` and in the envelopes: a deadline per clock, null when
        that clock is not running (answered, resolved, or not started)."""
        return {
            **{f"{kind}_due_at": self.due.get(kind) for kind in SLA_KINDS},
            "paused": self.paused,
        }
