"""The instant acknowledgment: decided on the webhook path where the channel's response reaches the
customer (Twilio TwiML, Telegram's method reply), before the inbox write, and carried on the inbox
item so the worker records exactly what was said.
"""

from __future__ import annotations

from datetime import UTC, datetime

from chalicelib.acknowledgments import Policy, decide_acknowledgment
from chalicelib.acknowledgments.context import acknowledgment_context
from chalicelib.adapters.observability import logger
from chalicelib.conversations.threading import preview_thread
from chalicelib.core.errors import OmnihubError
from chalicelib.core.ids import event_reference
from chalicelib.core.model import EventKind, InboundEvent
from chalicelib.core.ports import Repositories
from chalicelib.core.records import CarriedAcknowledgment


def instant_acknowledgment(
    repos: Repositories, event: InboundEvent, policy: Policy, now: datetime | None = None
) -> CarriedAcknowledgment | None:
    """Single-item reads personalize it; a message that will open a conversation gets that
    conversation's reference reserved here. Any failure means no instant acknowledgment: the worker
    then decides and sends one through the outbound queue.
    """
    if event.kind is not EventKind.MESSAGE or event.sender is None:
        return None
    try:
        preview = preview_thread(repos, event)
        decision = decide_acknowledgment(
            acknowledgment_context(
                event,
                customer=preview.customer,
                reference=preview.reference,
                opens=preview.conversation is None,
                previous_inbound_at=preview.conversation.last_inbound_at if preview.conversation else None,
                now=now or datetime.now(UTC),
                conversation=preview.conversation,
            ),
            policy,
        )
    except (OmnihubError, ValueError) as err:
        logger.warning(
            "instant acknowledgment skipped", extra={"event_ref": event_reference(event.inbox_key), "reason": str(err)}
        )
        return None
    if not decision.send or not decision.text:
        return None
    return CarriedAcknowledgment(
        text=decision.text,
        language=decision.language,
        reason=str(decision.reason),
        reference=preview.reference,
        expected_at=decision.expected_at,
        conversation_id=preview.conversation_id if preview.conversation is None else None,
    )
