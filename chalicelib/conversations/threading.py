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
from chalicelib.conversations.attachments import keep_attachments
from chalicelib.conversations.email_threads import find_mail_thread, remember_mail
from chalicelib.conversations.identities import SenderReads, owner_of, resolve_or_create
from chalicelib.conversations.message_metadata import shown_metadata
from chalicelib.conversations.public import PublicThread, newest_public_thread, post_of, public_thread_key
from chalicelib.core.consent import event_consent_keyword, keyword_consent
from chalicelib.core.errors import Conflict, RetryableError
from chalicelib.core.ids import allocate_reference, conversation_id_for, event_reference, message_id_for
from chalicelib.core.language import language_hint
from chalicelib.core.model import (
    Channel,
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


def choose_thread(inbox_key: str, customer: Customer | None, current: Conversation | None, now: str,
                  *, public: PublicThread | None = None) -> ThreadChoice:
    """The one threading rule, on what was read: the customer's open (not resolved) conversation, else a
    new one whose id derives from this message.

    A public message (a comment, a mention, a reply post: ``public`` is its thread as read) threads on
    its post instead: the customer's newest public conversation about it unless resolved, else the next
    one (:mod:`chalicelib.conversations.public`); the direct conversation is neither joined nor claimed."""
    if public is not None and customer is not None:
        if public.current is not None and public.current.status is not ConversationStatus.RESOLVED:
            return ThreadChoice(public.current.id, opens=False, current=public.current)
        return ThreadChoice(public.next_id(customer.id), opens=True, current=None)
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
    choice = choose_thread(event.inbox_key, customer, current, utc_now(),
                           public=_public_thread(repos, customer.id, event) if customer else None)
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
    reopened: bool = False  # this message reopened its resolved conversation (now, or an earlier attempt)


def decide_thread(
    repos: Repositories, inbox_key: str, event: InboundEvent, received_at: str, *, id_key: Callable[[], bytes],
    known: SenderReads | None = None,
) -> ThreadDecision:
    return _decide(repos, inbox_key, event, received_at, id_key=id_key, known=known)[0]


def _decide(
    repos: Repositories, inbox_key: str, event: InboundEvent, received_at: str, *, id_key: Callable[[], bytes],
    known: SenderReads | None = None,
) -> tuple[ThreadDecision, Conversation | None]:
    """Resolve the customer and take the decision; opening claims the customer's pointer (conditional).

    An email that answers one of the customer's conversations (by header or by the reference it
    names, see ``email_threads``) joins it, even resolved: applying the decision reopens it."""
    assert event.sender is not None
    customer_id, created = resolve_or_create(repos.customers, event.sender, received_at, key=id_key, known=known)
    answered = find_mail_thread(repos, event, customer_id)
    if answered is not None:
        decided = ThreadDecision(customer_id, answered.id, opens=False, previous_inbound_at=answered.last_inbound_at)
        return decided, None  # applying it reads the conversation again (it may be resolved)
    # The profile as this call created it, or as the worker read it: the first attempt reads it no more
    # (a claim below is conditional on the pointer it saw, so a stale view only costs a second round).
    first: Customer | None = created or (
        known.customer if known and known.customer and known.customer.id == customer_id else None)
    while True:
        customer = first or repos.customers.get(customer_id, consistent=True)
        first = None
        if customer is None:
            raise RetryableError(f"customer {customer_id} not readable yet")
        public = _public_thread(repos, customer_id, event, consistent=True)
        if public is not None:  # a public message claims nothing: its conversation's id is derived
            choice = choose_thread(inbox_key, customer, None, utc_now(), public=public)
            previous = choice.current.last_inbound_at if choice.current else None
            return ThreadDecision(customer_id, choice.conversation_id, opens=choice.opens,
                                  previous_inbound_at=previous), choice.current
        pointer = customer.open_conversation_id
        current = repos.conversations.get(pointer, consistent=True) if pointer else None
        choice = choose_thread(inbox_key, customer, current, utc_now())
        if choice.claim_pending:
            # Another worker (the same customer on a linked identity) claimed it and has not
            # created it yet: wait for it rather than steal the pointer.
            raise RetryableError(f"conversation {pointer} is being opened; retry")
        if not choice.opens:
            previous = choice.current.last_inbound_at if choice.current else None
            return ThreadDecision(customer_id, choice.conversation_id, opens=False,
                                  previous_inbound_at=previous), choice.current
        if pointer == choice.conversation_id or repos.customers.claim_open_conversation(
            customer_id, choice.conversation_id, pointer
        ):
            return ThreadDecision(customer_id, choice.conversation_id, opens=True), None
        logger.info(
            "open conversation changed under us; deciding again", extra={"event_ref": event_reference(inbox_key)}
        )


def _public_thread(
    repos: Repositories, customer_id: str, event: InboundEvent, *, consistent: bool = False
) -> PublicThread | None:
    key = public_thread_key(event)
    if key is None:
        return None
    return newest_public_thread(customer_id, key, lambda cid: repos.conversations.get(cid, consistent=consistent))


def thread_message(
    repos: Repositories, record: InboxRecord, *, id_key: Callable[[], bytes], known: SenderReads | None = None
) -> Threaded:
    """Resolve, decide (once), apply. Safe to call again for the same inbox record. ``known``: the
    sender as the worker already read it (not read again)."""
    event, inbox_key, received_at = record.event, record.inbox_key, record.received_at
    assert event.sender is not None  # InboundEvent guarantees it for messages
    joined: Conversation | None = None  # the conversation the decision read, when it joins one
    if record.thread is not None:
        decision = record.thread
    else:
        decided, joined = _decide(repos, inbox_key, event, received_at, id_key=id_key, known=known)
        decision = repos.inbox.record_thread_decision(inbox_key, decided)
    created = None
    if decision.opens:
        created = _open_conversation(repos, decision, event, received_at,
                                     _announced_reference(record.acknowledgment, decision))
    else:
        _reopen_if_resolved(repos, decision, message_id_for(inbox_key), joined)
    _keep_announced_reference(repos, record.acknowledgment, decision)
    message = Message(
        id=message_id_for(inbox_key),
        conversation_id=decision.conversation_id,
        direction=Direction.INBOUND,
        channel=event.channel,
        created_at=received_at,
        text=event.text,
        attachments=keep_attachments(repos, record),
        status=DeliveryStatus.RECEIVED,
        provider=event.provider,
        provider_message_id=event.provider_message_id,
        inbox_key=inbox_key,
        metadata=shown_metadata(event.metadata),
    )
    repos.messages.put(message)
    remember_mail(repos, event.metadata.get("message_id") if event.channel is Channel.EMAIL else None,
                  decision.conversation_id)
    moved = None
    if not decision.opens:  # an opened conversation was created with this message's time
        moved = repos.conversations.record_inbound_activity(decision.conversation_id, received_at)
    _apply_consent_keyword(repos, decision.customer_id, event)
    # The writes answer what they wrote (one UpdateItem for the profile and the last inbound): read
    # again only what a write did not return (a retry, an older message).
    customer = repos.customers.record_inbound(
        decision.customer_id, event.channel, received_at, **_profile(event)
    ) or repos.customers.get(decision.customer_id, consistent=True)
    conversation = created or moved or repos.conversations.get(decision.conversation_id, consistent=True)
    if customer is None or conversation is None:
        raise RetryableError(f"threading of {event_reference(inbox_key)} is not readable yet")
    reopened = not decision.opens and conversation.status_event_id == _reopen_id(conversation.id, message.id)
    return Threaded(event, customer, conversation, message, decision.opens, decision.previous_inbound_at,
                    reopened=reopened)


def join_or_open(repos: Repositories, record: InboxRecord, *, id_key: Callable[[], bytes]) -> ThreadDecision:
    """The conversation an event with a sender belongs to, opened if need be, without writing a message
    (a phone call writes its one message itself). Decided once, like a message's; safe to repeat."""
    event, inbox_key, received_at = record.event, record.inbox_key, record.received_at
    decision = record.thread or repos.inbox.record_thread_decision(
        inbox_key, decide_thread(repos, inbox_key, event, received_at, id_key=id_key)
    )
    if decision.opens:
        _open_conversation(repos, decision, event, received_at, None)
    _update_customer(repos, decision.customer_id, event)
    return decision


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
) -> Conversation | None:
    """Create the decided conversation: it, as stored, when this call created it (None on a retry)."""
    conversation_id = decision.conversation_id
    public = public_thread_key(event) is not None
    if announced and repos.references.reserve(announced, conversation_id):
        reference = announced
    else:
        reference = allocate_reference(conversation_id, repos.references.reserve)
    conversation = Conversation(
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
        public=public,
        post_id=post_of(event) if public else None,
        permalink=event.metadata.get("permalink") if public else None,
    )
    return conversation if repos.conversations.create(conversation) else None


def _reopen_id(conversation_id: str, message_id: str) -> str:
    from chalicelib.conversations.lifecycle import reopened_by_message_id  # the worker's, not the webhook's import

    return reopened_by_message_id(conversation_id, message_id)


def _reopen_if_resolved(
    repos: Repositories, decision: ThreadDecision, message_id: str, read: Conversation | None = None
) -> None:
    """A reply to a resolved conversation (an email naming it) reopens it, and it becomes the customer's
    open conversation unless they already have another one. The move records an id derived from the
    message, so a redelivery recognises its own reopen (finishing the claim, reporting and counting it
    once) and a conversation support moved meanwhile stands as it is; a duplicate of a message already
    threaded does not reopen the case support resolved since. ``read``: the conversation as the decision
    just read it (consistently), not read again."""
    joined = read if read is not None and read.id == decision.conversation_id else (
        repos.conversations.get(decision.conversation_id, consistent=True))
    if joined is None:
        return
    change = _reopen_id(decision.conversation_id, message_id)
    stored = joined.status is ConversationStatus.RESOLVED and repos.messages.find(joined.id, message_id) is not None
    if joined.status is ConversationStatus.RESOLVED and not stored:  # stored: a late duplicate after a new resolve
        try:
            joined = repos.conversations.set_status(decision.conversation_id, ConversationStatus.OPEN, utc_now(),
                                                    expected=(ConversationStatus.RESOLVED,), event_id=change)
        except Conflict:  # support reopened it (or it moved on) meanwhile: not this message's reopen
            return
        logger.info("resolved conversation reopened by a reply", extra={"conversation_id": decision.conversation_id})
    if joined.status_event_id == change:
        repos.customers.claim_open_conversation(decision.customer_id, decision.conversation_id, None)


def _update_customer(repos: Repositories, customer_id: str, event: InboundEvent) -> None:
    """What the message tells about its customer: a name and language where unset, a STOP or START."""
    repos.customers.fill_profile(customer_id, **_profile(event))
    _apply_consent_keyword(repos, customer_id, event)


def _profile(event: InboundEvent) -> dict[str, str | None]:
    """The name and language a message tells about its sender (kept only where the customer has none)."""
    assert event.sender is not None
    return {"name": event.sender.name,
            "language": event.sender.language
            or language_hint(event.sender.identity.address, event.metadata.get("country"))}


def _apply_consent_keyword(repos: Repositories, customer_id: str, event: InboundEvent) -> None:
    """A STOP or START in the message."""
    keyword = event_consent_keyword(event.channel.value, event.text, event.metadata.get("consent"))
    state = keyword_consent(keyword)
    if state is not None:
        repos.customers.set_consent(customer_id, event.channel, state, event.occurred_at)


def is_threadable(event: InboundEvent) -> bool:
    return event.kind is EventKind.MESSAGE and event.sender is not None
