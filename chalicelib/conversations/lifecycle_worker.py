"""The conversation worker's lifecycle events: what one customer message changed, reported once.

``opened`` (the message opened the conversation), ``routed`` (the opening message's decision) or
``rerouted`` (a later message's, of higher priority), and ``reopened`` when the message brings a
``pending`` conversation back to ``open`` (here) or a resolved one it answers (an email naming it,
conversations/threading.py); ``escalated`` comes from conversations/escalation.py, the one
place every escalation (a rule, a repeat contact, an SLA level) goes through. Every id derives
from the message, so a redelivery publishes the same events again (see conversations/lifecycle.py).
"""

from __future__ import annotations

from chalicelib.conversations.lifecycle import (
    LifecycleEvent,
    LifecycleType,
    conversation_event,
    last_status_event,
    status_change_id,
)
from chalicelib.conversations.threading import Threaded
from chalicelib.core.errors import Conflict, RetryableError
from chalicelib.core.model import Conversation, ConversationStatus
from chalicelib.core.ports import ConversationRepository


def reopen_by_customer(threaded: Threaded, conversations: ConversationRepository) -> tuple[Conversation, bool]:
    """A customer's message on a ``pending`` conversation (support waited on them) opens it again;
    True when this message did (now, or an earlier attempt of it). Only a message that arrived after
    the conversation became pending: a late redelivery of an earlier one changes nothing. A resolved
    conversation is reopened only by a reply naming it (threading does it); else threading opens a new one."""
    conversation, message = threaded.conversation, threaded.message
    event_id = status_change_id(conversation.id, ConversationStatus.OPEN, message.id)
    pending_since = conversation.status_changed_at
    after_pending = pending_since is None or pending_since < message.created_at
    if conversation.status is ConversationStatus.PENDING and after_pending:
        try:
            conversation = conversations.set_status(
                conversation.id, ConversationStatus.OPEN, message.created_at,
                expected=(ConversationStatus.PENDING,), event_id=event_id,
            )
        except Conflict:  # moved meanwhile (support reopened or resolved it): it stands as it is
            reread = conversations.get(conversation.id, consistent=True)
            if reread is None:
                raise RetryableError(f"conversation {conversation.id} is not readable yet") from None
            conversation = reread
    return conversation, conversation.status_event_id == event_id


def routing_events(
    threaded: Threaded,
    conversation: Conversation,
    *,
    reopened: bool,
    applied: bool,
    reason: str | None = None,
) -> list[LifecycleEvent]:
    """The events of one routed message, in the order they happened (its escalations follow them)."""
    customer, message = threaded.customer, threaded.message
    events: list[LifecycleEvent] = []
    if threaded.opened:
        events.append(conversation_event(LifecycleType.OPENED, conversation, customer, change="",
                                         at=conversation.created_at, message_id=message.id, by="customer"))
    if reopened or threaded.reopened:
        previous = ConversationStatus.RESOLVED if threaded.reopened else ConversationStatus.PENDING
        event = last_status_event(conversation, customer, by="customer", message_id=message.id,
                                  previous_status=previous.value)
        if event is not None:
            events.append(event)
    if applied:
        event_type = LifecycleType.ROUTED if threaded.opened else LifecycleType.REROUTED
        because = {"reason": reason} if reason else {}  # an incident's keywords: incident:<id>
        events.append(conversation_event(event_type, conversation, customer, change=message.id,
                                         at=message.created_at, message_id=message.id, by="rule", **because))
    return events
