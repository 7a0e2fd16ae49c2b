"""Customers and the identities they own, on the single table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.table import Table, from_item, to_item
from chalicelib.core.errors import NotFound, StoreUnavailable
from chalicelib.core.model import Channel, Customer, Identity
from chalicelib.core.timestamps import utc_now

# Attribute names on the profile item: one per channel, e.g. consent_sms and consent_at_sms.
_STATE_ATTRIBUTE = "consent_"
_DECIDED_AT_ATTRIBUTE = "consent_at_"


class DynamoCustomers:
    def __init__(self, table: Table) -> None:
        self._table = table

    # ----------------------------------------------------------------- identities
    def identity_owner(self, identity: Identity) -> str | None:
        item = self._table.get(keys.identity(identity.key), consistent=True)
        return None if item is None else str(item["customer_id"])

    def identity_owners(self, identities: Sequence[Identity]) -> dict[Identity, str]:
        """Owners of several identities in one BatchGetItem (a phone on SMS, WhatsApp and voice)."""
        by_pk = {keys.identity(i.key)["pk"]: i for i in identities}
        items = self._table.batch_get([keys.identity(i.key) for i in identities])
        return {by_pk[item["pk"]]: str(item["customer_id"]) for item in items}

    def claim_identity(self, identity: Identity, customer_id: str) -> str:
        written = self._table.put_if_absent(
            {
                **keys.identity(identity.key),
                "type": "identity",
                "channel": identity.channel.value,
                "address": identity.address,
                "customer_id": customer_id,
                "created_at": utc_now(),
            }
        )
        if written:
            return customer_id
        owner = self.identity_owner(identity)
        if owner is None:
            raise StoreUnavailable("identity claim lost and owner unreadable")
        return owner

    # ----------------------------------------------------------------- the profile
    def create(self, customer: Customer) -> bool:
        return self._table.put_if_absent(
            {
                **keys.customer(customer.id),
                **keys.customers_index(customer.created_at, customer.id),
                "type": "customer",
                "id": customer.id,
                "name": customer.name,
                "language": customer.language,
                "tier": customer.tier,
                "tags": list(customer.tags) or None,
                "identities": [i.key for i in customer.identities],
                "created_at": customer.created_at,
            }
        )

    def add_identity(self, customer_id: str, identity: Identity) -> None:
        """Only on an existing profile: an unconditional ADD would create an item without one."""
        self._table.update(
            keys.customer(customer_id),
            UpdateExpression="ADD identity_set :i",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":i": {"SS": [identity.key]}},
        )

    def fill_profile(self, customer_id: str, *, name: str | None, language: str | None) -> None:
        """Set name and language only where unset: the provider's display name never overwrites an agent's edit."""
        for attribute, value in (("name", name), ("language", language)):
            if value:
                self._table.update(
                    keys.customer(customer_id),
                    UpdateExpression="SET #a = :v",
                    ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#a)",
                    ExpressionAttributeNames={"#a": attribute},
                    ExpressionAttributeValues={":v": {"S": value}},
                )

    def set_consent(self, customer_id: str, channel: Channel, state: str, at: str) -> None:
        """Consent per channel (``consent_sms``); an older event never overrides a newer decision."""
        self._table.update(
            keys.customer(customer_id),
            UpdateExpression="SET #c = :s, #t = :t",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(#t) OR #t < :t)",
            ExpressionAttributeNames={
                "#c": f"{_STATE_ATTRIBUTE}{channel.value}",
                "#t": f"{_DECIDED_AT_ATTRIBUTE}{channel.value}",
            },
            ExpressionAttributeValues=to_item({":s": state, ":t": at}),
        )

    def update_profile(self, customer_id: str, changes: Mapping[str, Any], *, expected_version: int) -> Customer | None:
        """One conditional update on the profile's version; cleared fields are removed."""
        names = {f"#f{i}": field for i, field in enumerate(changes)}
        values: dict[str, Any] = {":next": expected_version + 1, ":expected": expected_version}
        sets, removes = ["profile_version = :next"], []
        for placeholder, field in names.items():
            value = changes[field]
            if value is None or value == ():
                removes.append(placeholder)
            else:
                values[f":v{placeholder[2:]}"] = list(value) if isinstance(value, tuple) else value
                sets.append(f"{placeholder} = :v{placeholder[2:]}")
        update = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        unchanged = "profile_version = :expected"
        if expected_version == 0:
            unchanged = f"(attribute_not_exists(profile_version) OR {unchanged})"
        try:
            response = self._table.call(
                "update_item",
                Key=to_item(keys.customer(customer_id)),
                UpdateExpression=update,
                ConditionExpression=f"attribute_exists(pk) AND {unchanged}",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as err:  # only a failed condition gets here: the table re-raises nothing else
            if self.get(customer_id, consistent=True) is None:
                raise NotFound(f"no customer {customer_id}") from err
            return None
        return customer_from_item(from_item(response["Attributes"]))
    def record_last_inbound(self, customer_id: str, channel: Channel, at: str) -> None:
        """Where and when the customer last wrote; an older message never overrides a newer one."""
        self._table.update(
            keys.customer(customer_id),
            UpdateExpression="SET last_inbound_channel = :c, last_inbound_at = :t",
            ConditionExpression="attribute_exists(pk) AND "
            "(attribute_not_exists(last_inbound_at) OR last_inbound_at < :t)",
            ExpressionAttributeValues=to_item({":c": channel.value, ":t": at}),
        )

    def record_inbound(
        self, customer_id: str, channel: Channel, at: str, *, name: str | None, language: str | None
    ) -> Customer | None:
        """One UpdateItem for what a message tells (name and language where unset, where and when the
        customer last wrote), answering the new image: the worker need not read the customer again."""
        profile = {attribute: value for attribute, value in (("name", name), ("language", language)) if value}
        names = {f"#p{i}": attribute for i, attribute in enumerate(profile)}
        values = {f":p{i}": value for i, value in enumerate(profile.values())}
        sets = [f"#p{i} = if_not_exists(#p{i}, :p{i})" for i in range(len(profile))]
        try:
            response = self._table.call(
                "update_item",
                Key=to_item(keys.customer(customer_id)),
                UpdateExpression="SET " + ", ".join([*sets, "last_inbound_channel = :c", "last_inbound_at = :t"]),
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(last_inbound_at) OR last_inbound_at < :t)",
                ExpressionAttributeValues=to_item({**values, ":c": channel.value, ":t": at}),
                **({"ExpressionAttributeNames": names} if names else {}),
                ReturnValues="ALL_NEW",
            )
        except ClientError:  # only a failed condition gets here: an older message (or no such customer)
            self.fill_profile(customer_id, name=name, language=language)
            return None
        return customer_from_item(from_item(response["Attributes"]))

    def get(self, customer_id: str, *, consistent: bool = False) -> Customer | None:
        item = self._table.get(keys.customer(customer_id), consistent=consistent)
        return None if item is None else customer_from_item(item)

    # ----------------------------------------------------------------- the open-conversation pointer
    def claim_open_conversation(self, customer_id: str, conversation_id: str, expected: str | None) -> bool:
        """Point the customer at a new open conversation if the pointer is still ``expected``.

        The claim's time is kept: a claim whose conversation never appeared (its message died) can be
        taken over once it is older than any retry of that message (see conversations/threading.py).
        """
        if expected is None:
            condition = "attribute_not_exists(open_conversation_id) OR open_conversation_id = :new"
            values = {":new": conversation_id}
        else:
            condition = "open_conversation_id = :old OR open_conversation_id = :new"
            values = {":old": expected, ":new": conversation_id}
        return self._table.update(
            keys.customer(customer_id),
            UpdateExpression="SET open_conversation_id = :new, open_claimed_at = :at",
            ConditionExpression=f"attribute_exists(pk) AND ({condition})",
            ExpressionAttributeValues=to_item({**values, ":at": utc_now()}),
        )

    def release_open_conversation(self, customer_id: str, conversation_id: str) -> None:
        """Clear the customer's open pointer if it still points at ``conversation_id``."""
        self._table.update(
            keys.customer(customer_id),
            UpdateExpression="REMOVE open_conversation_id",
            ConditionExpression="open_conversation_id = :c",
            ExpressionAttributeValues=to_item({":c": conversation_id}),
        )


def customer_from_item(item: dict[str, Any]) -> Customer:
    first = list(item.get("identities", []))
    identity_keys = first + sorted(set(item.get("identity_set", set())) - set(first))
    identities = []
    for key in identity_keys:
        channel, _, address = key.partition("#")
        identities.append(Identity(Channel(channel), address))
    return Customer(
        id=item["id"],
        name=item.get("name"),
        language=item.get("language"),
        tier=item.get("tier", "standard"),
        tags=tuple(item.get("tags") or ()),
        identities=tuple(identities),
        created_at=item["created_at"],
        open_conversation_id=item.get("open_conversation_id"),
        open_claimed_at=item.get("open_claimed_at"),
        profile_version=int(item.get("profile_version", 0)),
        consent={
            key.removeprefix(_STATE_ATTRIBUTE): str(value)
            for key, value in item.items()
            if key.startswith(_STATE_ATTRIBUTE) and not key.startswith(_DECIDED_AT_ATTRIBUTE)
        },
        last_inbound_channel=Channel(item["last_inbound_channel"]) if item.get("last_inbound_channel") else None,
        last_inbound_at=item.get("last_inbound_at"),
    )
