"""What routing recorded on a conversation: the rule that stands, why, and which message decided it;
and support's last assignment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ConversationRouting:
    rule: str | None  # None: no rule matched, the default applied
    reason: str  # which conditions held, in words
    message_id: str  # the message whose decision stands: its redelivery recognises its own routing
    escalate: bool = False  # the rule escalates at once (its name is the reason)

    def to_api(self) -> dict[str, Any]:
        """``routing`` in ``GET /conversations/{id}`` and in the routed envelope."""
        return {"rule": self.rule, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class SupportAssignment:
    """Support's last assignment (``POST /conversations/{id}/assign``): when, and where the conversation
    was before; enough to publish its ``rerouted`` event and hand-over again when a request is retried."""

    at: str
    previous_route: str
    previous_priority: str
