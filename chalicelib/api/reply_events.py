"""The ``replied`` lifecycle event of an agent's reply, once per reply (its id derives from the reply's)."""

from __future__ import annotations

from chalicelib.adapters.observability import logger
from chalicelib.adapters.sqs import PublishFailed, SqsBus
from chalicelib.conversations.lifecycle import LifecycleType, conversation_event, publish_lifecycle
from chalicelib.core.model import Conversation, Customer, Message


def report_reply(
    bus: SqsBus, conversation: Conversation, customer: Customer, reply: Message, *, retry_is_safe: bool
) -> None:
    """Publish ``replied``; a retried POST with the same Idempotency-Key publishes the same event.

    When SQS refuses it, a request with an Idempotency-Key fails (503) so that its retry publishes it
    (the reply itself is stored once). Without a key, a retry would send the customer a second
    message: the reply stands (202), and the lost event is logged as an error instead."""
    event = conversation_event(LifecycleType.REPLIED, conversation, customer, change=reply.id, at=reply.created_at,
                               by="support", message_id=reply.id, channel=reply.channel.value)
    try:
        publish_lifecycle(bus, [event])
    except PublishFailed:
        if retry_is_safe:
            raise
        logger.error("the replied event was not published", extra={"conversation_id": conversation.id,
                                                                   "event_id": event.event_id})
