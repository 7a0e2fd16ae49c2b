"""Escalations: the one place a conversation is put on the escalation queue.

Three sources call :func:`escalate`: a rule with ``"escalate": true`` (the worker, at routing), the
customer's third contact on the same case within 24 hours (``repeat_contact``, the worker), and the SLA
sweeper's ladder (``sla:first_response`` / ``sla:next_response`` / ``sla:resolution``, level n). Each
caller has first won a conditional write that makes it the only one to escalate that reason and level,
and the envelope id derives from the conversation, the reason, the level (and the SLA clock's start), so
a publication repeated after a crash is dropped by the FIFO queue's deduplication. Each escalation also
reports ``escalated`` on the conversation-events queue (omnihub.event.v1), once, here and nowhere else.
"""

from __future__ import annotations

from chalicelib.adapters.observability import count, logger
from chalicelib.adapters.resources import ESCALATION_QUEUE
from chalicelib.adapters.sqs import Outgoing, SqsBus
from chalicelib.api.envelopes import escalation_envelope
from chalicelib.conversations.lifecycle import publish_escalated
from chalicelib.core.ids import escalation_id_for
from chalicelib.core.model import Conversation, Customer

REPEAT_CONTACT_REASON = "repeat_contact"


def escalate(
    bus: SqsBus,
    conversation: Conversation,
    customer: Customer,
    *,
    reason: str,
    level: int = 1,
    at: str,
    action: str = "notify",
    deadline: str | None = None,
    cycle: str | None = None,
) -> str:
    """Publish ``omnihub.escalation.v1`` and its ``escalated`` lifecycle event; returns its envelope id.
    ``at`` is when the escalation became due (the message's arrival, the level's due time), so a retry
    reports the same time. ``cycle`` tells apart two breaches of the same kind on one conversation (the SLA
    clock's start): each has its own ladder. Raises PublishFailed when SQS refused the event: the caller
    retries (the worker's message is redelivered, the sweeper takes the level back)."""
    envelope_id = escalation_id_for(conversation.id, reason if cycle is None else f"{reason}@{cycle}", level)
    bus.publish(
        ESCALATION_QUEUE,
        Outgoing(escalation_envelope(envelope_id, reason, level, conversation, customer,
                                     action=action, deadline=deadline),
                 group_id=conversation.id, dedupe_id=envelope_id),
    )
    count("ConversationsEscalated", channel=conversation.channel.value)
    logger.info("conversation escalated", extra={"reason": reason, "level": level, "action": action})
    conversation_escalated(bus, conversation, customer, reason=reason, level=level, at=at, envelope_id=envelope_id,
                           cycle=cycle)
    return envelope_id


def conversation_escalated(
    bus: SqsBus, conversation: Conversation, customer: Customer, *, reason: str, level: int, at: str,
    envelope_id: str, cycle: str | None = None,
) -> None:
    """The ``escalated`` lifecycle event (omnihub.event.v1), once per escalation, after its envelope was
    published; its id derives from the reason, the level and the SLA cycle, as the envelope's does."""
    publish_escalated(bus, conversation, customer, reason=reason, level=level, at=at, escalation_id=envelope_id,
                      cycle=cycle)
