"""A conversation's survey, as stored: what was asked, when, and what the customer answered. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class FeedbackRecord:
    conversation_id: str
    customer_id: str
    kind: str  # "csat" | "nps"
    channel: str  # the conversation's channel (the survey's)
    route: str  # the conversation's route when it was resolved (KPI dimension)
    asked_at: str  # when the survey is sent (resolve + the configured delay)
    language: str | None = None
    sent: bool = False  # False while a delayed survey waits for the scheduler
    delayed: bool = False  # on the scheduler's due list until sent
    score: int | None = None
    comment: str | None = None
    answered_at: str | None = None
    answer_message_id: str | None = None  # the inbound message that answered (a redelivery recognizes it)
    comment_message_id: str | None = None

    @property
    def answered(self) -> bool:
        return self.score is not None

    def to_api(self) -> dict[str, Any]:
        """The public shape on ``GET /conversations/{id}``: null fields until answered."""
        return {"kind": self.kind, "score": self.score, "comment": self.comment, "asked_at": self.asked_at,
                "answered_at": self.answered_at}
