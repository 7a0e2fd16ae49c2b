"""The ``feedback`` lifecycle event: a survey answered (or commented) → conversation-events.fifo.

The conversation-events queue and its ``omnihub.event.v1`` publisher arrive with the lifecycle branch
(the conversations' lifecycle module); until it is merged this is the one call site, and it
only logs. At the merge it publishes ``{"type": "feedback", "conversation_id", "feedback": {...}}``
with an event id derived from the conversation and the answer's (or comment's) message id, so a
redelivery republishes the same id.
"""

from __future__ import annotations

from chalicelib.adapters.observability import logger
from chalicelib.core.feedback_record import FeedbackRecord
from chalicelib.core.ports import Repositories

FEEDBACK_EVENT_TYPE = "feedback"


def feedback_event_id(record: FeedbackRecord) -> str:
    """Stable per answer and per comment: ``feedback#{conversation}#{message}``."""
    return f"{FEEDBACK_EVENT_TYPE}#{record.conversation_id}#{record.comment_message_id or record.answer_message_id}"


def publish_feedback_event(repos: Repositories, record: FeedbackRecord) -> None:
    """Publish the ``feedback`` lifecycle event (logged only until the lifecycle publisher is merged)."""
    logger.info("feedback event", extra={"event_type": FEEDBACK_EVENT_TYPE, "event_id": feedback_event_id(record),
                                         "feedback": record.to_api()})
