"""Lifecycle events (``omnihub.event.v1``) on ``omnihub-{stage}-conversation-events.fifo``: one per change.

Every event's id derives from the change it reports (:func:`~chalicelib.core.ids.lifecycle_event_id_for`):
the message that opened, routed or re-routed a conversation, the reply placed, the time and kind of a
status change (recorded on the conversation with it), a customer profile's version. A redelivered
worker message or a retried request that finds its change already made publishes the same id again:
SQS drops it within five minutes, consumers dedupe on ``event_id`` beyond. A request that changes
nothing publishes nothing.

The FIFO group is the conversation id (the customer id for ``customer_updated``), so one
conversation's events arrive in the order they happened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from chalicelib.adapters.observability import count
from chalicelib.adapters.resources import CONVERSATION_EVENTS_QUEUE
from chalicelib.adapters.sqs import Outgoing, PublishFailed, SqsBus
from chalicelib.api.envelopes import lifecycle_event
from chalicelib.core.ids import lifecycle_event_id_for
from chalicelib.core.model import Conversation, ConversationStatus, Customer


class LifecycleType(StrEnum):
    OPENED = "opened"  # a customer message opened a conversation
    ROUTED = "routed"  # the opening message's routing decision placed it on a route
    REROUTED = "rerouted"  # a later message (a rule of higher priority) or support moved it
    ESCALATED = "escalated"  # put on the escalation queue (a rule, an SLA breach)
    REPLIED = "replied"  # an agent's reply was placed
    RESOLVED = "resolved"
    REOPENED = "reopened"  # a resolved or pending conversation is open again
    PENDING = "pending"  # waiting on the customer (support set it)
    CUSTOMER_UPDATED = "customer_updated"  # PATCH /customers/{id} changed the profile
    FEEDBACK = "feedback"  # the customer answered the survey (or commented on the answer): chalicelib.feedback
    CUSTOMER_ERASED = "customer_erased"  # DELETE /customers/{id} erased every copy: chalicelib.privacy


# The event a status change reports, by the status it moved to.
STATUS_EVENT = {
    ConversationStatus.RESOLVED: LifecycleType.RESOLVED,
    ConversationStatus.OPEN: LifecycleType.REOPENED,
    ConversationStatus.PENDING: LifecycleType.PENDING,
}


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    type: LifecycleType
    event_id: str
    occurred_at: str  # when the change happened (a redelivery reports the same time)
    customer: Customer
    conversation: Conversation | None  # None for customer_updated
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def group_id(self) -> str:
        return self.conversation.id if self.conversation is not None else self.customer.id

    def body(self) -> dict[str, Any]:
        return lifecycle_event(self.event_id, self.type.value, self.occurred_at, self.conversation, self.customer,
                               dict(self.detail))


def conversation_event(
    event_type: LifecycleType,
    conversation: Conversation,
    customer: Customer,
    *,
    change: str,
    at: str,
    **detail: Any,
) -> LifecycleEvent:
    """An event about ``conversation``; ``change`` names the change (see the module's docstring)."""
    event_id = lifecycle_event_id_for(conversation.id, event_type.value, change)
    return LifecycleEvent(event_type, event_id, at, customer, conversation, detail)


def status_change_id(conversation_id: str, status: ConversationStatus, change: str) -> str:
    """The id of the event reporting a move to ``status``, recorded on the conversation with the move."""
    return lifecycle_event_id_for(conversation_id, STATUS_EVENT[status].value, change)


def reopened_by_message_id(conversation_id: str, message_id: str) -> str:
    """The status change of a *resolved* conversation reopened by the customer's message (a reply naming it):
    apart from a pending one's (:func:`status_change_id` of the message), so the two read differently."""
    return status_change_id(conversation_id, ConversationStatus.OPEN, f"resolved\x1f{message_id}")


def last_status_event(conversation: Conversation, customer: Customer, **detail: Any) -> LifecycleEvent | None:
    """The event of the status change that brought ``conversation`` where it stands, as first published;
    None when its status was never changed (a conversation open since it opened)."""
    event_type = STATUS_EVENT.get(conversation.status)
    if event_type is None or conversation.status_event_id is None or conversation.status_changed_at is None:
        return None
    return LifecycleEvent(event_type, conversation.status_event_id, conversation.status_changed_at, customer,
                          conversation, detail)


def customer_updated_event(customer: Customer, changed: Sequence[str], at: str) -> LifecycleEvent:
    """The profile's version is the change: the same version is the same event, A→B→A is two."""
    event_id = lifecycle_event_id_for(customer.id, LifecycleType.CUSTOMER_UPDATED.value, str(customer.profile_version))
    return LifecycleEvent(LifecycleType.CUSTOMER_UPDATED, event_id, at, customer, None, {"changed": list(changed)})


def escalated_event(
    conversation: Conversation, customer: Customer, *, reason: str, level: int, at: str, escalation_id: str,
    cycle: str | None = None,
) -> LifecycleEvent:
    """One per conversation, reason and level (and SLA cycle: a second breach of the same clock has its own
    ladder), like the escalation envelope it accompanies."""
    change = f"{reason}\x1f{level}" if cycle is None else f"{reason}@{cycle}\x1f{level}"
    return conversation_event(LifecycleType.ESCALATED, conversation, customer, change=change, at=at,
                              reason=reason, level=level, escalation_id=escalation_id)


def publish_lifecycle(bus: SqsBus, events: Sequence[LifecycleEvent]) -> None:
    """Publish in order (one batch per call keeps one conversation's events in sequence); raises
    :class:`PublishFailed` when SQS refused one, so the caller's message or request is retried."""
    if not events:
        return
    refused = bus.publish_batch(
        CONVERSATION_EVENTS_QUEUE,
        [Outgoing(event.body(), group_id=event.group_id, dedupe_id=event.event_id) for event in events],
    )
    if refused:
        raise PublishFailed(f"SQS refused lifecycle events: {', '.join(refused)}")
    count("LifecycleEvents", value=len(events))


def publish_escalated(
    bus: SqsBus, conversation: Conversation, customer: Customer, *, reason: str, level: int, at: str,
    escalation_id: str, cycle: str | None = None,
) -> None:
    """The ``escalated`` event of an escalation already put on the escalation queue; called only by
    conversations/escalation.py::escalate, which every escalation (rule, repeat contact, SLA ladder level)
    goes through (the same reason, level and cycle publish the same event)."""
    publish_lifecycle(bus, [escalated_event(conversation, customer, reason=reason, level=level, at=at,
                                            escalation_id=escalation_id, cycle=cycle)])
