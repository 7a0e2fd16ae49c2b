"""What the hub persists besides the conversation model: typed records, never ``dict[str, Any]``.

An :class:`InboxRecord` is one provider event as the inbox holds it; the :class:`ThreadDecision`
and the :class:`CarriedAcknowledgment` travel on it, written once and read back typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.core.model import InboundEvent


@dataclass(frozen=True, slots=True)
class ThreadDecision:
    """Which customer and conversation an inbound message belongs to, recorded once on its inbox item."""

    customer_id: str
    conversation_id: str
    opens: bool  # the message opens this conversation
    previous_inbound_at: str | None = None  # the joined conversation's last inbound before this message

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "customer_id": self.customer_id,
            "conversation_id": self.conversation_id,
            "opens": self.opens,
        }
        if self.previous_inbound_at is not None:
            data["previous_inbound_at"] = self.previous_inbound_at
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ThreadDecision:
        return cls(
            customer_id=str(data["customer_id"]),
            conversation_id=str(data["conversation_id"]),
            opens=bool(data["opens"]),
            previous_inbound_at=data.get("previous_inbound_at"),
        )


@dataclass(frozen=True, slots=True)
class CarriedAcknowledgment:
    """An acknowledgment decided on the webhook path and returned in the response.

    Carried on the inbox item so the worker stores it as the conversation's outbound message and
    opens the conversation with the very reference the customer was told.
    """

    text: str
    language: str
    reason: str
    reference: str
    expected_at: str | None
    conversation_id: str | None  # the conversation it announced when it opens one

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "language": self.language,
            "reason": self.reason,
            "reference": self.reference,
            "expected_at": self.expected_at,
            "conversation_id": self.conversation_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CarriedAcknowledgment:
        return cls(
            text=str(data["text"]),
            language=str(data["language"]),
            reason=str(data["reason"]),
            reference=str(data["reference"]),
            expected_at=data.get("expected_at"),
            conversation_id=data.get("conversation_id"),
        )


@dataclass(frozen=True, slots=True)
class InboxRecord:
    """One provider event as the inbox holds it, as the worker reads it back."""

    inbox_key: str
    event: InboundEvent
    received_at: str
    endpoint: str
    thread: ThreadDecision | None = None  # the threading decision once taken
    acknowledgment: CarriedAcknowledgment | None = None  # sent in the webhook's response
    content_type: str | None = None  # of the raw payload as the provider posted it
    confirmed_at: str | None = None  # an SNS subscription confirmation: when the worker confirmed it


@dataclass(frozen=True, slots=True)
class LastInbound:
    """The newest inbound message of a conversation on one channel: where a reply must go."""

    created_at: str
    provider: str | None
    inbox_key: str | None


@dataclass(frozen=True, slots=True)
class IdempotencyRecord:
    """An ``Idempotency-Key`` as first seen: when, and a fingerprint of the request it came with."""

    created_at: str
    fingerprint: str


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None
