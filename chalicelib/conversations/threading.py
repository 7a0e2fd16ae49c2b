"""Identity resolution, threading and status updates: the conversation worker's use case.

Every step is replay-safe. Ids are derived from the inbox key (the message id, the id of a
conversation the message opens) or from the identity (the customer id), so a redelivered queue
message computes the same names and every write is conditional. The threading decision is
recorded once on the inbox item before it is applied: a crash half-way through is finished, the
same way, by the redelivery.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.adapters import resources
from chalicelib.adapters.dynamo.store import InboxRecord
from chalicelib.adapters.observability import logger
from chalicelib.core.consent import ConsentKeyword, ConsentState, event_consent_keyword
from chalicelib.core.errors import RetryableError
from chalicelib.core.language import language_hint
from chalicelib.core.model import (
    PHONE_CHANNELS,
    Channel,
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
    Sender,
    parse_timestamp,
    utc_now,
)

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_PREFIX = "OH-"
# Longer than a message can be retried on inbound.fifo before it goes to the DLQ.
ABANDONED_CLAIM_SECONDS = resources.INBOUND_QUEUE.visibility_timeout_seconds * resources.INBOUND_QUEUE.max_receive_count
DEFAULT_ROUTE = "default"


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


def _base32(data: bytes, length: int) -> str:
    number = int.from_bytes(data, "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, 32)
        chars.append(_CROCKFORD[index])
    return "".join(chars)


def customer_id_for(identity: Identity) -> str:
    return "cus_" + _base32(_digest("customer", identity.key), 16).lower()


def conversation_id_for(inbox_key: str) -> str:
    return "cnv_" + _base32(_digest("conversation", inbox_key), 16).lower()


def message_id_for(inbox_key: str) -> str:
    return "msg_" + _base32(_digest("message", inbox_key), 20).lower()


def reference_for(conversation_id: str, attempt: int = 0) -> str:
    """A short human reference (``OH-7K3Q9``): Crockford base32, no I/L/O/U to misread."""
    return REFERENCE_PREFIX + _base32(_digest("reference", conversation_id, str(attempt)), 5)


def linked_identities(identity: Identity) -> list[Identity]:
    """The same phone number on the other phone channels: one customer across SMS, WhatsApp and voice."""
    if identity.channel not in PHONE_CHANNELS or not identity.address.startswith("+"):
        return []
    return [Identity(channel, identity.address) for channel in PHONE_CHANNELS if channel != identity.channel]


class IdentityReader(Protocol):
    def identity_owner(self, identity: Identity) -> str | None: ...
    def identity_owners(self, identities: list[Identity]) -> dict[Identity, str]: ...


class ConversationStore(Protocol):
    def record_thread_decision(self, inbox_key: str, decision: dict[str, Any]) -> dict[str, Any]: ...
    def identity_owner(self, identity: Identity) -> str | None: ...
    def identity_owners(self, identities: list[Identity]) -> dict[Identity, str]: ...
    def claim_identity(self, identity: Identity, customer_id: str) -> str: ...
    def create_customer(self, customer: Customer) -> bool: ...
    def add_customer_identity(self, customer_id: str, identity: Identity) -> None: ...
    def fill_customer_profile(self, customer_id: str, *, name: str | None, language: str | None) -> None: ...
    def set_consent(self, customer_id: str, channel: Channel, state: str, at: str) -> None: ...
    def get_customer(self, customer_id: str, *, consistent: bool = False) -> Customer | None: ...
    def claim_open_conversation(self, customer_id: str, conversation_id: str, expected: str | None) -> bool: ...
    def reserve_reference(self, reference: str, conversation_id: str) -> bool: ...
    def move_reference(self, reference: str, from_conversation: str, to_conversation: str) -> None: ...
    def create_conversation(self, conversation: Conversation) -> bool: ...
    def get_conversation(self, conversation_id: str, *, consistent: bool = False) -> Conversation | None: ...
    def record_inbound_activity(self, conversation_id: str, at: str) -> None: ...
    def put_message(self, message: Message, *, extra: dict[str, Any] | None = None) -> bool: ...
    def apply_delivery_status(
        self, provider: str, provider_message_id: str, status: DeliveryStatus, error_code: str | None
    ) -> bool: ...


@dataclass(frozen=True, slots=True)
class Threaded:
    """What handling one inbound message produced: enough for routing and acknowledgment."""

    event: InboundEvent
    customer: Customer
    conversation: Conversation
    message: Message
    opened: bool  # this message opened the conversation
    previous_inbound_at: str | None  # the conversation's last inbound before this message


def resolve_customer(store: ConversationStore, sender: Sender, at: str) -> str:
    """The customer behind an identity, created once whatever the races (claims are conditional)."""
    identity = sender.identity
    owner, sibling_owner = owner_of(store, identity)
    if owner is not None:
        return owner
    candidate = sibling_owner or customer_id_for(identity)
    store.create_customer(
        Customer(
            id=candidate,
            name=sender.name,
            language=sender.language,
            tier="standard",
            identities=(identity,),
            created_at=at,
        )
    )
    owner = store.claim_identity(identity, candidate)
    store.add_customer_identity(owner, identity)
    return owner


def owner_of(store: IdentityReader, identity: Identity) -> tuple[str | None, str | None]:
    """(the identity's owner, else the owner of the same phone on another channel) in one read."""
    siblings = linked_identities(identity)
    if not siblings:
        return store.identity_owner(identity), None
    owners = store.identity_owners([identity, *siblings])
    return owners.get(identity), next((owners[s] for s in siblings if s in owners), None)


def thread_message(store: ConversationStore, record: InboxRecord) -> Threaded:
    """Resolve, decide (once), apply. Safe to call again for the same inbox record."""
    event, inbox_key, received_at = record.event, record.inbox_key, record.received_at
    assert event.sender is not None  # InboundEvent guarantees it for messages
    decision = record.thread
    carried = record.acknowledgment
    if decision is None:
        decision = store.record_thread_decision(inbox_key, _decide(store, inbox_key, event, received_at))
    customer_id = decision["customer_id"]
    conversation_id = decision["conversation_id"]
    announced_for = carried.get("conversation_id") if carried else None
    if decision["opens"]:
        # The webhook response may already have told the customer this conversation's reference.
        announced = carried.get("reference") if carried and announced_for == conversation_id else None
        _open_conversation(store, conversation_id, customer_id, event, received_at, announced)
    if carried and carried.get("reference") and announced_for and announced_for != conversation_id:
        # The webhook announced a new conversation, but the message joined one opened meanwhile:
        # the reference the customer was told must still find their case.
        store.move_reference(carried["reference"], announced_for, conversation_id)
    message = Message(
        id=message_id_for(inbox_key),
        conversation_id=conversation_id,
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
    store.put_message(message)
    if not decision["opens"]:  # an opened conversation was created with this message's time
        store.record_inbound_activity(conversation_id, received_at)
    store.fill_customer_profile(
        customer_id,
        name=event.sender.name,
        language=event.sender.language
        or language_hint(event.sender.identity.address, event.metadata.get("country")),
    )
    keyword = event_consent_keyword(event.channel.value, event.text, event.metadata.get("consent"))
    if keyword in (ConsentKeyword.OPT_OUT, ConsentKeyword.OPT_IN):
        state = ConsentState.WITHDRAWN if keyword is ConsentKeyword.OPT_OUT else ConsentState.GRANTED
        store.set_consent(customer_id, event.channel, state, event.occurred_at)
    customer = store.get_customer(customer_id, consistent=True)
    conversation = store.get_conversation(conversation_id, consistent=True)
    if customer is None or conversation is None:
        raise RetryableError(f"threading of {inbox_key} is not readable yet")
    return Threaded(
        event=event,
        customer=customer,
        conversation=conversation,
        message=message,
        opened=bool(decision["opens"]),
        previous_inbound_at=decision.get("previous_inbound_at"),
    )


def _decide(store: ConversationStore, inbox_key: str, event: InboundEvent, received_at: str) -> dict[str, Any]:
    assert event.sender is not None
    customer_id = resolve_customer(store, event.sender, received_at)
    mine = conversation_id_for(inbox_key)
    while True:
        customer = store.get_customer(customer_id, consistent=True)
        if customer is None:
            raise RetryableError(f"customer {customer_id} not readable yet")
        current_id = customer.open_conversation_id
        if current_id == mine:  # claimed by an earlier attempt that crashed before recording
            return {"customer_id": customer_id, "conversation_id": mine, "opens": True}
        current = store.get_conversation(current_id, consistent=True) if current_id else None
        if current_id and current is None and not _claim_abandoned(customer.open_claimed_at, utc_now()):
            # Another worker (the same customer on a linked identity) claimed it and has not
            # created it yet: wait for it rather than steal the pointer.
            raise RetryableError(f"conversation {current_id} is being opened; retry")
        if current is not None and current.status is not ConversationStatus.RESOLVED:
            return {
                "customer_id": customer_id,
                "conversation_id": current.id,
                "opens": False,
                "previous_inbound_at": current.last_inbound_at,
            }
        if store.claim_open_conversation(customer_id, mine, current_id):
            return {"customer_id": customer_id, "conversation_id": mine, "opens": True}
        logger.info("open conversation changed under us; deciding again", extra={"inbox_key": inbox_key})


def _claim_abandoned(claimed_at: str | None, now: str) -> bool:
    """A claim older than every retry of its message: that message died (DLQ), its conversation never came."""
    if claimed_at is None:
        return True
    age = (parse_timestamp(now) - parse_timestamp(claimed_at)).total_seconds()
    return age > ABANDONED_CLAIM_SECONDS


def _open_conversation(
    store: ConversationStore,
    conversation_id: str,
    customer_id: str,
    event: InboundEvent,
    at: str,
    announced_reference: str | None = None,
) -> None:
    reference = ""
    if announced_reference and store.reserve_reference(announced_reference, conversation_id):
        reference = announced_reference
    for attempt in range(8 if not reference else 0):
        candidate = reference_for(conversation_id, attempt)
        if store.reserve_reference(candidate, conversation_id):
            reference = candidate
            break
    if not reference:
        raise RetryableError("no free reference after 8 attempts")
    store.create_conversation(
        Conversation(
            id=conversation_id,
            reference=reference,
            status=ConversationStatus.OPEN,
            priority=Priority.NORMAL,
            route=DEFAULT_ROUTE,
            customer_id=customer_id,
            channel=event.channel,
            created_at=at,
            updated_at=at,
            last_inbound_at=at,
        )
    )


def apply_status(store: ConversationStore, event: InboundEvent) -> bool:
    """A provider's delivery status on one of our messages; monotonic, unknown ids ignored."""
    assert event.status is not None and event.provider_message_id is not None
    applied = store.apply_delivery_status(event.provider, event.provider_message_id, event.status, event.error_code)
    logger.info(
        "delivery status",
        extra={"inbox_key": event.inbox_key, "status": event.status.value, "applied": applied},
    )
    return applied


def is_threadable(event: InboundEvent) -> bool:
    return event.kind is EventKind.MESSAGE and event.sender is not None
