"""Threading: which conversation, and which reference, an inbound message belongs to.

Decided in one place, :func:`choose_thread`, from what was read: the webhook path previews it to
put the reference in an instant acknowledgment, the worker decides it for good. Every step is
replay-safe: ids are derived from the inbox key, the decision is recorded once on the inbox item
before it is applied, and every write is conditional, so a crash half-way through is finished the
same way by the redelivery.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.adapters.observability import logger
from chalicelib.adapters.resources import INBOUND_QUEUE
from chalicelib.conversations.identities import owner_of, resolve_customer
from chalicelib.core.consent import event_consent_keyword, keyword_consent
from chalicelib.core.errors import RetryableError
from chalicelib.core.ids import allocate_reference, conversation_id_for, event_reference, message_id_for
from chalicelib.core.language import language_hint
from chalicelib.core.model import (
    Conversation,
    ConversationStatus,
    Customer,
    DeliveryStatus,
    Direction,
    EventKind,
    InboundEvent,
    Message,
    Priority,
)
from chalicelib.core.ports import Repositories
from chalicelib.core.records import CarriedAcknowledgment, InboxRecord, ThreadDecision
from chalicelib.core.timestamps import parse_timestamp, utc_now

# Longer than a message can be retried on inbound.fifo before it goes to the DLQ.
ABANDONED_CLAIM_SECONDS = INBOUND_QUEUE.visibility_timeout_seconds * INBOUND_QUEUE.max_receive_count
DEFAULT_ROUTE = "default"


@dataclass(frozen=True, slots=True)
class ThreadChoice:
    """Join the customer's open conversation, or open the one this message names."""

    conversation_id: str
    opens: bool
    current: Conversation | None  # the open conversation joined; None when opening
    claim_pending: bool = False  # another message claimed the customer's pointer and has not created it yet


def choose_thread(inbox_key: str, customer: Customer | None, current: Conversation | None, now: str) -> ThreadChoice:
    """The one threading rule, on what was read: the customer's open (not resolved) conversation, else a
    new one whose id derives from this message."""
    mine = conversation_id_for(inbox_key)
    pointer = customer.open_conversation_id if customer else None
    if pointer == mine:  # claimed by an earlier attempt of this very message
        return ThreadChoice(mine, opens=True, current=None)
    if current is not None and current.status is not ConversationStatus.RESOLVED:
        return ThreadChoice(current.id, opens=False, current=current)
    claimed_at = customer.open_claimed_at if customer else None
    pending = bool(pointer and current is None and not _claim_abandoned(claimed_at, now))
    return ThreadChoice(mine, opens=True, current=None, claim_pending=pending)


def _claim_abandoned(claimed_at: str | None, now: str) -> bool:
    """A claim older than every retry of its message: that message died (DLQ), its conversation never came."""
    if claimed_at is None:
        return True
    return (parse_timestamp(now) - parse_timestamp(claimed_at)).total_seconds() > ABANDONED_CLAIM_SECONDS


# ------------------------------------------------------------------ on the webhook path (reads only)
@dataclass(frozen=True, slots=True)
class ThreadPreview:
    customer: Customer | None
    conversation: Conversation | None  # the open conversation the message will join, if any
    conversation_id: str
    reference: str  # the joined conversation's, or the one reserved for the conversation it opens


def preview_thread(repos: Repositories, event: InboundEvent) -> ThreadPreview:
    """Single-item reads (plus one reference reservation for a new conversation): what the worker will
    most likely decide, so the webhook response can announce the reference."""
    assert event.sender is not None
    owner, sibling_owner = owner_of(repos.customers, event.sender.identity)
    owner = owner or sibling_owner
    customer = repos.customers.get(owner) if owner else None
    open_id = customer.open_conversation_id if customer else None
    current = repos.conversations.get(open_id) if open_id else None
    choice = choose_thread(event.inbox_key, customer, current, utc_now())
    if not choice.opens and choice.current is not None:
        return ThreadPreview(customer, choice.current, choice.conversation_id, choice.current.reference)
    reference = allocate_reference(choice.conversation_id, repos.references.reserve)
    return ThreadPreview(customer, None, choice.conversation_id, reference)


# ------------------------------------------------------------------ in the conversation worker
@dataclass(frozen=True, slots=True)
class Threaded:
    """What handling one inbound message produced: enough for routing and acknowledgment."""

    event: InboundEvent
    customer: Customer
    conversation: Conversation
    message: Message
    opened: bool  # this message opened the conversation
    previous_inbound_at: str | None  # the conversation's last inbound before this message


def decide_thread(
    repos: Repositories, inbox_key: str, event: InboundEvent, received_at: str, *, id_key: Callable[[], bytes]
) -> ThreadDecision:
    """Resolve the customer and take the decision; opening claims the customer's pointer (conditional)."""
    assert event.sender is not None
    customer_id = resolve_customer(repos.customers, event.sender, received_at, key=id_key)
    while True:
        customer = repos.customers.get(customer_id, consistent=True)
        if customer is None:
            raise RetryableError(f"customer {customer_id} not readable yet")
        pointer = customer.open_conversation_id
        current = repos.conversations.get(pointer, consistent=True) if pointer else None
        choice = choose_thread(inbox_key, customer, current, utc_now())
        if choice.claim_pending:
            # Another worker (the same customer on a linked identity) claimed it and has not
            # created it yet: wait for it rather than steal the pointer.
            raise RetryableError(f"conversation {pointer} is being opened; retry")
        if not choice.opens:
            previous = choice.current.last_inbound_at if choice.current else None
            return ThreadDecision(customer_id, choice.conversation_id, opens=False, previous_inbound_at=previous)
        if pointer == choice.conversation_id or repos.customers.claim_open_conversation(
            customer_id, choice.conversation_id, pointer
        ):
            return ThreadDecision(customer_id, choice.conversation_id, opens=True)
        logger.info(
            "open conversation changed under us; deciding again", extra={"event_ref": event_reference(inbox_key)}
        )


def thread_message(repos: Repositories, record: InboxRecord, *, id_key: Callable[[], bytes]) -> Threaded:
    """Resolve, decide (once), apply. Safe to call again for the same inbox record."""
    event, inbox_key, received_at = record.event, record.inbox_key, record.received_at
    assert event.sender is not None  # InboundEvent guarantees it for messages
    decision = record.thread or repos.inbox.record_thread_decision(
        inbox_key, decide_thread(repos, inbox_key, event, received_at, id_key=id_key)
    )
    if decision.opens:
        _open_conversation(repos, decision, event, received_at, _announced_reference(record.acknowledgment, decision))
    _keep_announced_reference(repos, record.acknowledgment, decision)
    message = Message(
        id=message_id_for(inbox_key),
        conversation_id=decision.conversation_id,
        direction=Direction.INBOUND,
        channel=event.channel,
        created_at=received_at,
        text=event.text,
        attachments=event.attachments,
        status=DeliveryStatus.RECEIVED,
        provider=event.provider,
        provider_message_id=event.provider_message_id,
        inbox_key=inbox_key,
    )
    repos.messages.put(message)
    if not decision.opens:  # an opened conversation was created with this message's time
        repos.conversations.record_inbound_activity(decision.conversation_id, received_at)
    _update_customer(repos, decision.customer_id, event)
    repos.customers.record_last_inbound(decision.customer_id, event.channel, received_at)
    customer = repos.customers.get(decision.customer_id, consistent=True)
    conversation = repos.conversations.get(decision.conversation_id, consistent=True)
    if customer is None or conversation is None:
        raise RetryableError(f"threading of {event_reference(inbox_key)} is not readable yet")
    return Threaded(event, customer, conversation, message, decision.opens, decision.previous_inbound_at)


def _announced_reference(carried: CarriedAcknowledgment | None, decision: ThreadDecision) -> str | None:
    """The reference the webhook response already told the customer, when it named this conversation."""
    return carried.reference if carried and carried.conversation_id == decision.conversation_id else None


def _keep_announced_reference(
    repos: Repositories, carried: CarriedAcknowledgment | None, decision: ThreadDecision
) -> None:
    """The webhook announced a new conversation, but the message joined one opened meanwhile: the
    reference the customer was told must still find their case."""
    if carried and carried.reference and carried.conversation_id not in (None, decision.conversation_id):
        repos.references.move(carried.reference, carried.conversation_id, decision.conversation_id)


def _open_conversation(
    repos: Repositories, decision: ThreadDecision, event: InboundEvent, at: str, announced: str | None
) -> None:
    conversation_id = decision.conversation_id
    if announced and repos.references.reserve(announced, conversation_id):
        reference = announced
    else:
        reference = allocate_reference(conversation_id, repos.references.reserve)
    repos.conversations.create(
        Conversation(
            id=conversation_id,
            reference=reference,
            status=ConversationStatus.OPEN,
            priority=Priority.NORMAL,
            route=DEFAULT_ROUTE,
            customer_id=decision.customer_id,
            channel=event.channel,
            created_at=at,
            updated_at=at,
            last_inbound_at=at,
        )
    )


def _update_customer(repos: Repositories, customer_id: str, event: InboundEvent) -> None:
    """What the message tells about its customer: a name and language where unset, a STOP or START."""
    assert event.sender is not None
    repos.customers.fill_profile(
        customer_id,
        name=event.sender.name,
        language=event.sender.language
        or language_hint(event.sender.identity.address, event.metadata.get("country")),
    )
    keyword = event_consent_keyword(event.channel.value, event.text, event.metadata.get("consent"))
    state = keyword_consent(keyword)
    if state is not None:
        repos.customers.set_consent(customer_id, event.channel, state, event.occurred_at)


def is_threadable(event: InboundEvent) -> bool:
    return event.kind is EventKind.MESSAGE and event.sender is not None
