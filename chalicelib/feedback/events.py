"""The ``feedback`` lifecycle event (``omnihub.event.v1``) on conversation-events.fifo: the customer answered
the survey, or commented on the answer.

Its id derives from the conversation and the messages that answered and commented, so a redelivered
answer republishes the same id (SQS drops it within five minutes, consumers dedupe beyond) and a
comment is a second event. ``detail.feedback`` is the survey as ``GET /conversations/{id}`` shows it.
"""

from __future__ import annotations

from chalicelib.adapters.sqs import SqsBus
from chalicelib.conversations.lifecycle import LifecycleType, conversation_event, publish_lifecycle
from chalicelib.core.feedback_record import FeedbackRecord
from chalicelib.core.ports import Repositories


def publish_feedback_event(repos: Repositories, bus: SqsBus | None, record: FeedbackRecord, at: str) -> None:
    """Publish the event (nothing without a bus: a use case tested alone)."""
    if bus is None:
        return
    conversation = repos.conversations.get(record.conversation_id)
    customer = repos.customers.get(record.customer_id)
    if conversation is None or customer is None:
        return
    change = f"{record.answer_message_id or ''}\x1f{record.comment_message_id or ''}"
    publish_lifecycle(bus, [conversation_event(LifecycleType.FEEDBACK, conversation, customer, change=change, at=at,
                                               by="customer", feedback=record.to_api())])
