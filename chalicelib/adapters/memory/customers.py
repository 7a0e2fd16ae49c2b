"""Customers and the identities they own, in memory; every conditional write of the table kept."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from chalicelib.adapters.memory.store import CustomerEntry, IdentityEntry, MemoryStore
from chalicelib.core.errors import NotFound
from chalicelib.core.model import Channel, Customer, Identity
from chalicelib.core.timestamps import utc_now


class MemoryCustomers:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    # ----------------------------------------------------------------- identities
    def identity_owner(self, identity: Identity) -> str | None:
        with self.store.lock:
            entry = self.store.identities.get(identity.key)
        return None if entry is None else entry.customer_id

    def identity_owners(self, identities: Sequence[Identity]) -> dict[Identity, str]:
        with self.store.lock:
            found = {i: self.store.identities.get(i.key) for i in identities}
        return {identity: entry.customer_id for identity, entry in found.items() if entry is not None}

    def claim_identity(self, identity: Identity, customer_id: str) -> str:
        """The first claim wins; every later one learns the owner (check and write under one lock)."""
        with self.store.lock:
            entry = self.store.identities.setdefault(identity.key, IdentityEntry(customer_id, utc_now()))
            return entry.customer_id

    # ----------------------------------------------------------------- the profile
    def create(self, customer: Customer) -> bool:
        """Only what a new profile holds: the pointer, consent and later identities start empty."""
        with self.store.lock:
            if customer.id in self.store.customers:
                return False
            self.store.customers[customer.id] = CustomerEntry(
                id=customer.id,
                name=customer.name,
                language=customer.language,
                tier=customer.tier,
                tags=customer.tags,
                identities=tuple(i.key for i in customer.identities),
                created_at=customer.created_at,
            )
            return True

    def add_identity(self, customer_id: str, identity: Identity) -> None:
        with self.store.lock:
            entry = self.store.customers.get(customer_id)
            if entry is not None:
                self.store.customers[customer_id] = replace(entry, identity_set=entry.identity_set | {identity.key})

    def fill_profile(self, customer_id: str, *, name: str | None, language: str | None) -> None:
        """Name and language only where unset: the provider's display name never overwrites an agent's edit."""
        with self.store.lock:
            entry = self.store.customers.get(customer_id)
            if entry is None:
                return
            if name and entry.name is None:
                entry = replace(entry, name=name)
            if language and entry.language is None:
                entry = replace(entry, language=language)
            self.store.customers[customer_id] = entry

    def set_consent(self, customer_id: str, channel: Channel, state: str, at: str) -> None:
        """An older event never overrides a newer decision (nor one of the same instant)."""
        with self.store.lock:
            entry = self.store.customers.get(customer_id)
            if entry is None:
                return
            decided = {c: (s, t) for c, s, t in entry.consent}
            previous = decided.get(channel.value)
            if previous is not None and not previous[1] < at:
                return
            decided[channel.value] = (state, at)
            consent = tuple(sorted((c, s, t) for c, (s, t) in decided.items()))
            self.store.customers[customer_id] = replace(entry, consent=consent)

    def update_profile(self, customer_id: str, changes: Mapping[str, Any], *, expected_version: int) -> Customer | None:
        """The table's conditional update: only on the version read; cleared fields become unset."""
        with self.store.lock:
            entry = self.store.customers.get(customer_id)
            if entry is None:
                raise NotFound(f"no customer {customer_id}")
            if entry.profile_version != expected_version:
                return None
            values: dict[str, Any] = {
                field: (() if field == "tags" and value is None else value) for field, value in changes.items()
            }
            entry = replace(entry, **values, profile_version=expected_version + 1)
            self.store.customers[customer_id] = entry
        return _customer(entry)
    def record_last_inbound(self, customer_id: str, channel: Channel, at: str) -> None:
        """Where and when the customer last wrote; an older message never overrides a newer one."""
        with self.store.lock:
            entry = self.store.customers.get(customer_id)
            if entry is not None and (entry.last_inbound_at is None or entry.last_inbound_at < at):
                self.store.customers[customer_id] = replace(
                    entry, last_inbound_channel=channel.value, last_inbound_at=at)

    def record_inbound(
        self, customer_id: str, channel: Channel, at: str, *, name: str | None, language: str | None
    ) -> Customer | None:
        with self.store.lock:
            self.fill_profile(customer_id, name=name, language=language)
            entry = self.store.customers.get(customer_id)
            if entry is None or not (entry.last_inbound_at is None or entry.last_inbound_at < at):
                return None
            self.record_last_inbound(customer_id, channel, at)
            return self.get(customer_id)

    def get(self, customer_id: str, *, consistent: bool = False) -> Customer | None:
        with self.store.lock:
            entry = self.store.customers.get(customer_id)
        return None if entry is None else _customer(entry)

    # ----------------------------------------------------------------- the open-conversation pointer
    def claim_open_conversation(self, customer_id: str, conversation_id: str, expected: str | None) -> bool:
        """Point at a new open conversation if the pointer is still ``expected`` (or already this one)."""
        with self.store.lock:
            entry = self.store.customers.get(customer_id)
            if entry is None or entry.open_conversation_id not in (expected, conversation_id):
                return False
            self.store.customers[customer_id] = replace(
                entry, open_conversation_id=conversation_id, open_claimed_at=utc_now()
            )
            return True

    def release_open_conversation(self, customer_id: str, conversation_id: str) -> None:
        """Clear the pointer if it still names ``conversation_id``; when it was claimed stays recorded."""
        with self.store.lock:
            entry = self.store.customers.get(customer_id)
            if entry is not None and entry.open_conversation_id == conversation_id:
                self.store.customers[customer_id] = replace(entry, open_conversation_id=None)


def _customer(entry: CustomerEntry) -> Customer:
    keys = list(entry.identities) + sorted(entry.identity_set - set(entry.identities))
    identities = []
    for key in keys:
        channel, _, address = key.partition("#")
        identities.append(Identity(Channel(channel), address))
    return Customer(
        id=entry.id,
        name=entry.name,
        language=entry.language,
        tier=entry.tier,
        tags=entry.tags,
        identities=tuple(identities),
        created_at=entry.created_at,
        open_conversation_id=entry.open_conversation_id,
        open_claimed_at=entry.open_claimed_at,
        profile_version=entry.profile_version,
        consent={channel: state for channel, state, _ in entry.consent},
        last_inbound_channel=Channel(entry.last_inbound_channel) if entry.last_inbound_channel else None,
        last_inbound_at=entry.last_inbound_at,
    )
