"""Acknowledgments in the flow: in the webhook response where the channel allows it, otherwise
through the outbound queue from the conversation worker. The policy itself is pure
(chalicelib/acknowledgments/policy.py); this module gathers its inputs and turns its decision into a
message, once per inbound event.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from chalicelib.acknowledgments import AckContext, AckDecision, Policy, decide_acknowledgment
from chalicelib.adapters.observability import logger
from chalicelib.conversations.threading import Threaded, conversation_id_for, owner_of, reference_for
from chalicelib.core.consent import event_consent_keyword
from chalicelib.core.errors import OmnihubError
from chalicelib.core.language import language_hint
from chalicelib.core.model import (
    Conversation,
    ConversationStatus,
    Customer,
    DeliveryStatus,
    Direction,
    EventKind,
    Identity,
    InboundEvent,
    Message,
    Priority,
)
from chalicelib.outbound.job import OutboundJob, OutboundKind
from chalicelib.outbound.registry import NoOutboundProvider, provider_for

# channel metadata → the sender hint the outbound senders read
_HINTS_FROM_METADATA = {"to": "from", "phone_number_id": "phone_number_id", "bot": "bot"}


def sender_hints_from(metadata: Mapping[str, str]) -> dict[str, str]:
    """Where a reply must leave from: the number, WhatsApp phone number id or bot the customer wrote to."""
    return {hint: metadata[key] for key, hint in _HINTS_FROM_METADATA.items() if metadata.get(key)}


def acknowledgment_id_for(inbox_key: str) -> str:
    """The acknowledgment of one inbound event has one id: it can never be sent twice."""
    return "out_ack_" + hashlib.sha256(f"ack\x1f{inbox_key}".encode()).hexdigest()[:20]


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
        reply_not_ours=event.metadata.get("mode") == "standby",
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


# ------------------------------------------------------------------ on the webhook path (TwiML, Telegram)
class AcknowledgmentReader(Protocol):
    """Single-item reads the webhook path may make, plus the reference allocation."""

    def identity_owner(self, identity: Identity) -> str | None: ...
    def identity_owners(self, identities: list[Identity]) -> dict[Identity, str]: ...
    def get_customer(self, customer_id: str, *, consistent: bool = False) -> Customer | None: ...
    def get_conversation(self, conversation_id: str, *, consistent: bool = False) -> Conversation | None: ...
    def reserve_reference(self, reference: str, conversation_id: str) -> bool: ...


def instant_acknowledgment(
    reader: AcknowledgmentReader, event: InboundEvent, policy: Policy, now: datetime | None = None
) -> CarriedAcknowledgment | None:
    """Decide, before the inbox write, the acknowledgment the webhook response will carry.

    Reads the identity's customer and open conversation to personalize it; a message that will
    open a conversation gets that conversation's reference reserved here. Any failure means no
    instant acknowledgment: the worker then decides and sends one through the outbound queue.
    """
    if event.kind is not EventKind.MESSAGE or event.sender is None:
        return None
    moment = now or datetime.now(UTC)
    try:
        owner, sibling_owner = owner_of(reader, event.sender.identity)
        owner = owner or sibling_owner
        customer = reader.get_customer(owner) if owner else None
        open_id = customer.open_conversation_id if customer else None
        conversation = reader.get_conversation(open_id) if open_id else None
        if conversation is not None and conversation.status is ConversationStatus.RESOLVED:
            conversation = None  # the message opens a new conversation
        new_conversation_id: str | None = None
        if conversation is None:
            new_conversation_id = conversation_id_for(event.inbox_key)
            reference = _allocate_reference(reader, new_conversation_id)
        else:
            reference = conversation.reference
        decision = decide_acknowledgment(
            acknowledgment_context(
                event,
                customer=customer,
                reference=reference,
                opens=conversation is None,
                previous_inbound_at=None if conversation is None else conversation.last_inbound_at,
                now=moment,
                conversation=conversation,
            ),
            policy,
        )
    except (OmnihubError, ValueError) as err:
        logger.warning("instant acknowledgment skipped", extra={"inbox_key": event.inbox_key, "reason": str(err)})
        return None
    if not decision.send or not decision.text:
        return None
    return CarriedAcknowledgment(
        text=decision.text,
        language=decision.language,
        reason=str(decision.reason),
        reference=reference,
        expected_at=decision.expected_at,
        conversation_id=new_conversation_id,
    )


def _allocate_reference(reader: AcknowledgmentReader, conversation_id: str) -> str:
    for attempt in range(8):
        candidate = reference_for(conversation_id, attempt)
        if reader.reserve_reference(candidate, conversation_id):
            return candidate
    raise ValueError("no free reference after 8 attempts")


# ------------------------------------------------------------------ in the conversation worker
def acknowledgment_message(threaded: Threaded, text: str, *, status: DeliveryStatus, provider: str | None) -> Message:
    return Message(
        id=acknowledgment_id_for(threaded.message.inbox_key or threaded.message.id),
        conversation_id=threaded.conversation.id,
        direction=Direction.OUTBOUND,
        channel=threaded.event.channel,
        created_at=threaded.message.created_at,  # sorts right after the message it answers
        text=text,
        status=status,
        provider=provider,
    )


def decide_for_threaded(threaded: Threaded, policy: Policy, now: datetime | None = None) -> AckDecision:
    return decide_acknowledgment(
        acknowledgment_context(
            threaded.event,
            customer=threaded.customer,
            reference=threaded.conversation.reference,
            opens=threaded.opened,
            previous_inbound_at=threaded.previous_inbound_at,
            now=now or datetime.now(UTC),
            conversation=threaded.conversation,
        ),
        policy,
    )


def acknowledgment_job(
    threaded: Threaded, decision: AckDecision, environ: Mapping[str, str]
) -> OutboundJob | None:
    """The outbound job that delivers ``decision``; None for a channel no sender serves (web chat)."""
    event = threaded.event
    if not decision.send or not decision.text or event.sender is None:
        return None
    try:
        provider = provider_for(event.channel, environ, inbound_provider=event.provider)
    except NoOutboundProvider:
        return None
    hints = sender_hints_from(event.metadata)
    message = acknowledgment_message(threaded, decision.text, status=DeliveryStatus.QUEUED, provider=provider)
    return OutboundJob(
        outbound_id=message.id,
        conversation_id=threaded.conversation.id,
        kind=OutboundKind.ACKNOWLEDGMENT,
        channel=event.channel,
        provider=provider,
        to=event.sender.identity.address,
        text=decision.text,
        language=decision.language,
        reference=threaded.conversation.reference,
        customer_last_inbound_at=event.occurred_at,
        reply_token=event.reply_token,
        sender_hints=hints,
        created_at=message.created_at,
    )

