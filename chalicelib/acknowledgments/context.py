"""The acknowledgment decision's inputs, gathered from an inbound event and what was read about it.

Shared by the webhook path (the instant acknowledgment) and the worker; it imports nothing that
sends, so the webhook path loads no sender.
"""

from __future__ import annotations

from datetime import datetime

from chalicelib.acknowledgments.decision import AckContext
from chalicelib.core.consent import event_consent_keyword
from chalicelib.core.language import language_hint
from chalicelib.core.model import THREAD_OWNER_OTHER, Conversation, Customer, InboundEvent, Priority


def acknowledgment_context(
    event: InboundEvent,
    *,
    customer: Customer | None,
    reference: str,
    opens: bool,
    previous_inbound_at: str | None,
    now: datetime,
    conversation: Conversation | None = None,
    crisis_status_line: str | None = None,
) -> AckContext:
    sender = event.sender
    return AckContext(
        kind=event.kind,
        channel=event.channel,
        occurred_at=event.occurred_at,
        now=now,
        reference=reference,
        text=event.text,
        is_auto_reply=event.metadata.get("auto_reply") == "true",
        reply_not_ours=event.metadata.get("mode") == "standby"
        or (conversation is not None and conversation.thread_owner == THREAD_OWNER_OTHER),
        public=event.metadata.get("public") == "true",
        consent_state=(customer.consent.get(event.channel.value) if customer else None),
        consent_keyword=event_consent_keyword(event.channel.value, event.text, event.metadata.get("consent")),
        opens_conversation=opens,
        previous_inbound_at=previous_inbound_at,
        customer_name=(customer.name if customer and customer.name else (sender.name if sender else None)),
        language=customer.language if customer else None,
        language_hint=(sender.language or language_hint(sender.identity.address, event.metadata.get("country")))
        if sender
        else None,
        priority=conversation.priority if conversation else Priority.NORMAL,
        crisis_status_line=crisis_status_line,
    )
