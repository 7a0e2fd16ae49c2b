"""The ports of customer feedback (surveys and answers) and of the KPI aggregates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from chalicelib.core.feedback_record import FeedbackRecord
from chalicelib.core.kpi_record import KpiCounts, KpiDimension


class FeedbackRepository(Protocol):
    """One survey per conversation, at most one per customer per N days, one answer and one comment."""

    def claim_customer_survey(self, customer_id: str, conversation_id: str, at: str, since: str | None) -> bool:
        """Make ``conversation_id`` the customer's latest survey unless one was asked after ``since`` (None:
        no limit); True also when it already is (a retry)."""
        ...

    def customer_survey(self, customer_id: str) -> str | None:
        """The conversation of the customer's latest survey."""
        ...

    def create(self, record: FeedbackRecord, *, due: bool) -> bool:
        """Create the conversation's survey once (False when it existed); ``due``: it waits for the scheduler."""
        ...

    def get(self, conversation_id: str) -> FeedbackRecord | None: ...
    def mark_sent(self, record: FeedbackRecord) -> None:
        """The survey was placed in the outbox: off the scheduler's list."""
        ...

    def due(self, now: str, limit: int) -> list[str]:
        """Conversations whose delayed survey is due at or before ``now``, earliest first (never a scan)."""
        ...

    def record_answer(
        self, conversation_id: str, *, score: int, comment: str | None, at: str, message_id: str
    ) -> bool:
        """Conditional: only the first answer stands (False when one was recorded)."""
        ...

    def record_comment(self, conversation_id: str, *, comment: str, message_id: str) -> bool:
        """Conditional: only the first comment stands, and only after an answer."""
        ...


class KpiRepository(Protocol):
    """Aggregates per day and dimension, each event counted once (a marker per event key)."""

    def record(self, event_key: str, day: str, dimensions: Sequence[KpiDimension], counts: KpiCounts) -> bool:
        """Add ``counts`` to the day's item of every dimension, once per ``event_key`` (False: counted before)."""
        ...

    def counted(self, event_key: str) -> bool:
        """Whether ``event_key`` was recorded (a consistent read of its marker)."""
        ...

    def read(self, dimension_kind: str, first_day: str, last_day: str) -> list[tuple[str, str, KpiCounts]]:
        """(day, dimension value, counts) of every item of ``dimension_kind`` between the days (a query)."""
        ...
