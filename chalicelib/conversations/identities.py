"""Identity resolution: one customer per identity, and one per phone number across phone channels."""

from __future__ import annotations

from collections.abc import Callable

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


def resolve_customer(
    customers: CustomerRepository, sender: Sender, at: str, *, key: Callable[[], bytes]
) -> str:
    """The customer behind an identity, created once whatever the races (claims are conditional).

    The id key is read only to name a new customer (a keyed id: it cannot be traced back to a phone).
    """
    identity = sender.identity
    owner, sibling_owner = owner_of(customers, identity)
    if owner is not None:
        return owner
    candidate = sibling_owner or customer_id_for(identity, key())
    customers.create(
        Customer(
            id=candidate,
            name=sender.name,
            language=sender.language,
            tier="standard",
            identities=(identity,),
            created_at=at,
        )
    )
    owner = customers.claim_identity(identity, candidate)
    customers.add_identity(owner, identity)
    return owner
