"""The crisis broadcast's ports: incidents and their recipients, and the send-rate pacer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from chalicelib.core.incident import Incident, IncidentUpdate, PlanState, RecipientClaim
from chalicelib.core.model import Customer


class CrisisStore(Protocol):
    """Incidents, their updates with progress counters and planner cursor, one record per recipient
    and update (the exactly-once guard), and the audience read through an index (never a scan)."""

    def create_incident(self, incident: Incident) -> bool:
        """False when an incident with this id exists (a retried create)."""
        ...

    def get_incident(self, incident_id: str) -> Incident | None: ...
    def list_incidents(self, limit: int) -> list[Incident]: ...
    def set_incident_status(self, incident_id: str, status: str, at: str) -> None: ...
    def cancel_incident(self, incident_id: str, at: str) -> bool:
        """False when it was cancelled before (the first cancellation's time stands)."""
        ...

    def add_update(self, update: IncidentUpdate) -> bool:
        """False when an update with this id exists on the incident (a retried POST)."""
        ...

    def get_update(self, incident_id: str, update_id: str) -> IncidentUpdate | None: ...
    def updates(self, incident_id: str) -> list[IncidentUpdate]:
        """Oldest first, each with its progress."""
        ...

    def plan_state(self, incident_id: str, update_id: str) -> PlanState: ...
    def advance_plan(
        self, incident_id: str, update_id: str, expected: PlanState, reached: PlanState,
        counts: Mapping[tuple[str, str], int], skipped: Mapping[tuple[str, str], int],
    ) -> bool:
        """Move the planner's cursor from ``expected`` to ``reached`` and add the page's counters, in
        one conditional write: False (nothing added) when another planner moved it first."""
        ...

    def claim_recipient(
        self, incident_id: str, update_id: str, customer_id: str, outbound_id: str, created_at: str
    ) -> RecipientClaim:
        """One conditional put per recipient and update: the claim that stands (ours when fresh)."""
        ...

    def settle_recipient(
        self, incident_id: str, update_id: str, customer_id: str, state: str, channel: str,
        reason: str | None = None, at: str | None = None,
    ) -> bool:
        """Move a claimed recipient to its final ``state`` and count it once: False when it was settled."""
        ...

    def audience_page(self, cursor: str | None, limit: int) -> tuple[list[Customer], str | None]:
        """Customers through the listing index, oldest first; the next cursor or None at the end."""
        ...

    def audience_size(self) -> int | None:
        """About how many customers the listing index holds (the dry run's extrapolation); None when
        the store cannot say. DynamoDB refreshes the figure about every six hours."""
        ...

    def customers_by_id(self, customer_ids: Sequence[str]) -> list[Customer]: ...
    def record_keyword_contact(self, incident_id: str, customer_id: str, at: str) -> None: ...
    def keyword_contacts_page(self, incident_id: str, cursor: str | None, limit: int) -> tuple[list[str], str | None]:
        """Customers who wrote in with the incident's keywords, by id; the next cursor or None."""
        ...


class SendPacer(Protocol):
    """A token bucket per channel and sender, in the table: broadcasts wait for tokens; one-to-one
    care (acknowledgments, agent replies) takes them without waiting, so broadcasts yield to it."""

    def take(self, bucket: str, per_second: float, burst: float, now: float, *, wait: bool = True) -> float:
        """0 when a token was taken; else the seconds to wait (nothing taken). ``wait=False`` always
        takes one, into debt if need be."""
        ...

    def hold(self, bucket: str, until: float) -> None:
        """A provider said 429 / Retry-After: no token before ``until``."""
        ...
