"""Identity resolution: one customer per identity, and one per phone number across phone channels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.core.ids import customer_id_for
from chalicelib.core.model import PHONE_CHANNELS, Customer, Identity, Sender
from chalicelib.core.ports import CustomerRepository


def linked_identities(identity: Identity) -> list[Identity]:
    """The same phone number on the other phone channels: one customer across SMS, WhatsApp and voice."""
    if identity.channel not in PHONE_CHANNELS or not identity.address.startswith("+"):
        return []
    return [Identity(channel, identity.address) for channel in PHONE_CHANNELS if channel != identity.channel]


def owner_of(customers: CustomerRepository, identity: Identity) -> tuple[str | None, str | None]:
    """(the identity's owner, else the owner of the same phone on another channel) in one read."""
    siblings = linked_identities(identity)
    if not siblings:
        return customers.identity_owner(identity), None
    owners = customers.identity_owners([identity, *siblings])
    return owners.get(identity), next((owners[s] for s in siblings if s in owners), None)


@dataclass(frozen=True, slots=True)
class SenderReads:
    """What the worker read of a message's sender once, for the survey check and threading to share
    (an identity's owner never changes once claimed; the profile is a consistent read whose later
    use is guarded by conditional writes, as a fresh read's would be)."""

    owner: str | None
    sibling_owner: str | None
    customer: Customer | None  # the owner's profile, None without an owner


def read_sender(customers: CustomerRepository, identity: Identity) -> SenderReads:
    owner, sibling_owner = owner_of(customers, identity)
    return SenderReads(owner, sibling_owner, customers.get(owner, consistent=True) if owner else None)


def resolve_customer(
    customers: CustomerRepository, sender: Sender, at: str, *, key: Callable[[], bytes],
    known: SenderReads | None = None,
) -> str:
    """The customer behind an identity, created once whatever the races (claims are conditional).

    The id key is read only to name a new customer (a keyed id: it cannot be traced back to a phone).
    """
    return resolve_or_create(customers, sender, at, key=key, known=known)[0]


def resolve_or_create(
    customers: CustomerRepository, sender: Sender, at: str, *, key: Callable[[], bytes],
    known: SenderReads | None = None,
) -> tuple[str, Customer | None]:
    """``resolve_customer``, and the profile as this call created it (None when it created none): the
    worker need not read back what it has just written."""
    identity = sender.identity
    owner, sibling_owner = (known.owner, known.sibling_owner) if known else owner_of(customers, identity)
    if owner is not None:
        return owner, None
    candidate = sibling_owner or customer_id_for(identity, key())
    customer = Customer(
        id=candidate,
        name=sender.name,
        language=sender.language,
        tier="standard",
        identities=(identity,),
        created_at=at,
    )
    created = customers.create(customer)
    owner = customers.claim_identity(identity, candidate)
    if created and owner == candidate:  # a profile this call created lists its identity already
        return owner, customer
    customers.add_identity(owner, identity)
    return owner, None
