"""DynamoDB single table: keys, conditional writes, queries. Domain errors out, never botocore's.

Item layout (pk / sk):
  INBOX#{provider}#{event id} / INBOX          one per provider event: the dedupe record and the outbox
  IDENTITY#{channel}#{address} / IDENTITY      owner customer of an address (claimed once, race-free)
  CUSTOMER#{id} / PROFILE                      the customer; open_conversation_id points at the open case
  CUSTOMER#{id} / CONV#{created_at}#{id}       the customer's conversations, oldest first
  CONV#{id} / META                             the conversation (gsi1: CONVSTATUS#{status} / {updated}#{id})
  CONV#{id} / MSG#{created_at}#{message id}    its messages, in order
  REF#{reference} / REF                        a reference number, reserved once
  PMSG#{provider}#{provider message id} / PMSG where a provider's message id lives (delivery statuses)

Every write that could be repeated by a retry is conditional, so replays change nothing.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws_errors import aws_error_code, aws_error_message, log_aws_failure
from chalicelib.core.errors import BadRequest, NotFound, PayloadTooLarge, StoreUnavailable
from chalicelib.core.model import (
    Attachment,
    Channel,
    Conversation,
    ConversationStatus,
    Customer,
    DeliveryStatus,
    Direction,
    Identity,
    InboundEvent,
    Message,
    Priority,
    utc_now,
)

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()
_MAX_PAGE = 200


def _to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _SERIALIZER.serialize(v) for k, v in values.items() if v is not None}


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    data = {k: _DESERIALIZER.deserialize(v) for k, v in item.items()}
    for key, value in data.items():
        if isinstance(value, Binary):
            data[key] = bytes(value)
    return data


def _conditional_failed(err: ClientError) -> bool:
    return err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def inbox_pk(inbox_key: str) -> str:
    return f"INBOX#{inbox_key}"


@dataclass(frozen=True, slots=True)
class InboxRecord:
    """What the inbox holds for one event, as the worker reads it back."""

    inbox_key: str
    event: InboundEvent
    received_at: str
    endpoint: str
    thread: dict[str, Any] | None  # the threading decision once taken (see conversations.py)
    acknowledgment: dict[str, Any] | None = None  # decided on the webhook path and sent in its response


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


class DynamoStore:
    """The table, behind domain methods. ``client`` is a boto3 DynamoDB client."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        *,
        payloads: Any | None = None,  # a PayloadArchive for raw bodies too big for an item
        inline_payload_limit: int = 256 * 1024,
        retention_days: int = 30,
    ) -> None:
        self._client = client
        self._table = table_name
        self._payloads = payloads
        self._inline_limit = inline_payload_limit
        self._retention_seconds = retention_days * 86400

    # ----------------------------------------------------------------- low level
    def _call(self, operation: str, **kwargs: Any) -> dict[str, Any]:
        try:
            return getattr(self._client, operation)(TableName=self._table, **kwargs)
        except ClientError as err:
            if _conditional_failed(err):
                raise
            # What DynamoDB said goes to the log; the error (and any body) says it in our words.
            if aws_error_code(err) == "ValidationException":
                log_aws_failure("DynamoDB", operation, err, severity="warning")
                # DynamoDB names the limit only in its message: an item over 400 KB, a key too long.
                if "size" in aws_error_message(err).lower():
                    raise PayloadTooLarge("the item is too large to store") from err
                raise BadRequest("the store refused the request's values") from err
            log_aws_failure("DynamoDB", operation, err)
            raise StoreUnavailable(f"DynamoDB {operation} failed") from err
        except BotoCoreError as err:
            log_aws_failure("DynamoDB", operation, err)
            raise StoreUnavailable(f"DynamoDB {operation} failed") from err

    def _conditionally(self, operation: str, **kwargs: Any) -> bool:
        """Run a conditional write: False when its condition did not hold (nothing written)."""
        try:
            self._call(operation, **kwargs)
        except ClientError as err:
            if _conditional_failed(err):
                return False
            raise
        return True

    def _put_if_absent(self, item: dict[str, Any]) -> bool:
        """True when written, False when an item with that key already existed."""
        return self._conditionally("put_item", Item=_to_item(item), ConditionExpression="attribute_not_exists(pk)")

    def _get(self, pk: str, sk: str, *, consistent: bool = False) -> dict[str, Any] | None:
        response = self._call(
            "get_item", Key=_to_item({"pk": pk, "sk": sk}), ConsistentRead=consistent
        )
        item = response.get("Item")
        return _from_item(item) if item else None

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        while True:
            response = self._call("query", **kwargs)
            for item in response.get("Items", []):
                yield _from_item(item)
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    # ----------------------------------------------------------------- inbox
    def put_inbox_event(
        self,
        event: InboundEvent,
        *,
        endpoint: str,
        received_at: str,
        raw_body: bytes,
        content_type: str | None,
        raw_pointer: str | None = None,
        now: float | None = None,
        acknowledgment: dict[str, Any] | None = None,
    ) -> bool:
        """One conditional PutItem: True for a new event, False for a duplicate (nothing written).

        An item past its TTL that DynamoDB has not deleted yet does not count as a duplicate.
        """
        moment = time.time() if now is None else now
        item: dict[str, Any] = {
            "pk": inbox_pk(event.inbox_key),
            "sk": "INBOX",
            "type": "inbox",
            "endpoint": endpoint,
            "provider": event.provider,
            "kind": event.kind.value,
            "ordering_key": event.ordering_key,
            "received_at": received_at,
            "event": json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False),
            "content_type": content_type,
            "expires_at": int(moment) + self._retention_seconds,
        }
        if acknowledgment:
            item["acknowledgment"] = json.dumps(acknowledgment, ensure_ascii=False, sort_keys=True)
        if raw_pointer:
            item["raw_pointer"] = raw_pointer
        else:
            item["raw"] = raw_body
        return self._conditionally(
            "put_item",
            Item=_to_item(item),
            ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
            ExpressionAttributeValues={":now": {"N": str(int(moment))}},
        )

    def needs_payload_pointer(self, raw_body: bytes, events: list[InboundEvent]) -> bool:
        """An item holds the raw body and its event's JSON: both must fit under the inline limit."""
        largest_event = max((len(json.dumps(e.to_dict(), ensure_ascii=False).encode()) for e in events), default=0)
        return len(raw_body) + largest_event > self._inline_limit

    def archive_payload(self, provider: str, received_at: str, raw_body: bytes) -> str:
        if self._payloads is None:
            raise StoreUnavailable("no payload archive configured for a large body")
        digest = hashlib.sha256(raw_body).hexdigest()
        return self._payloads.put(f"raw/{provider}/{received_at[:10]}/{digest}", raw_body)

    def get_inbox(self, inbox_key: str) -> InboxRecord | None:
        item = self._get(inbox_pk(inbox_key), "INBOX", consistent=True)
        if item is None:
            return None
        return InboxRecord(
            inbox_key=inbox_key,
            event=InboundEvent.from_dict(json.loads(item["event"])),
            received_at=item["received_at"],
            endpoint=item.get("endpoint", ""),
            thread=json.loads(item["thread"]) if item.get("thread") else None,
            acknowledgment=json.loads(item["acknowledgment"]) if item.get("acknowledgment") else None,
        )

    def get_raw_payload(self, inbox_key: str) -> bytes | None:
        item = self._get(inbox_pk(inbox_key), "INBOX")
        if item is None:
            return None
        if "raw" in item:
            return bytes(item["raw"])
        if self._payloads is not None and item.get("raw_pointer"):
            return self._payloads.get(item["raw_pointer"])
        return None

    def record_thread_decision(self, inbox_key: str, decision: dict[str, Any]) -> dict[str, Any]:
        """Record how an event is threaded, once; returns the decision that stands (ours or an earlier one)."""
        if self._conditionally(
            "update_item",
            Key=_to_item({"pk": inbox_pk(inbox_key), "sk": "INBOX"}),
            UpdateExpression="SET thread = :t",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(thread)",
            ExpressionAttributeValues={":t": {"S": json.dumps(decision, sort_keys=True)}},
        ):
            return decision
        record = self.get_inbox(inbox_key)
        if record is None or record.thread is None:
            raise StoreUnavailable(f"inbox item {inbox_key} vanished")
        return record.thread

    # ----------------------------------------------------------------- identities and customers
    def identity_owner(self, identity: Identity) -> str | None:
        item = self._get(f"IDENTITY#{identity.key}", "IDENTITY", consistent=True)
        return None if item is None else str(item["customer_id"])

    def identity_owners(self, identities: list[Identity]) -> dict[Identity, str]:
        """Owners of several identities in one BatchGetItem (a phone on SMS, WhatsApp and voice)."""
        keys = [_to_item({"pk": f"IDENTITY#{i.key}", "sk": "IDENTITY"}) for i in identities]
        by_key = {f"IDENTITY#{i.key}": i for i in identities}
        owners: dict[Identity, str] = {}
        request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
        for _ in range(5):  # unprocessed keys come back under throttling: ask again a few times
            try:
                response = self._client.batch_get_item(RequestItems=request)
            except (ClientError, BotoCoreError) as err:
                raise StoreUnavailable(f"DynamoDB batch_get_item failed: {err}") from err
            for item in response.get("Responses", {}).get(self._table, []):
                data = _from_item(item)
                owners[by_key[data["pk"]]] = str(data["customer_id"])
            request = response.get("UnprocessedKeys") or {}
            if not request:
                return owners
        raise StoreUnavailable("DynamoDB left identity reads unprocessed")

    def claim_identity(self, identity: Identity, customer_id: str) -> str:
        """Give ``identity`` to ``customer_id`` unless someone holds it; returns the owner that stands."""
        written = self._put_if_absent(
            {
                "pk": f"IDENTITY#{identity.key}",
                "sk": "IDENTITY",
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

    def create_customer(self, customer: Customer) -> bool:
        return self._put_if_absent(
            {
                "pk": f"CUSTOMER#{customer.id}",
                "sk": "PROFILE",
                "type": "customer",
                "id": customer.id,
                "name": customer.name,
                "language": customer.language,
                "tier": customer.tier,
                "identities": [i.key for i in customer.identities],
                "created_at": customer.created_at,
            }
        )

    def add_customer_identity(self, customer_id: str, identity: Identity) -> None:
        self._call(
            "update_item",
            Key=_to_item({"pk": f"CUSTOMER#{customer_id}", "sk": "PROFILE"}),
            UpdateExpression="ADD identity_set :i",
            ExpressionAttributeValues={":i": {"SS": [identity.key]}},
        )

    def fill_customer_profile(self, customer_id: str, *, name: str | None, language: str | None) -> None:
        """Set name and language only where unset: the provider's display name never overwrites an agent's edit."""
        for attribute, value in (("name", name), ("language", language)):
            if not value:
                continue
            self._conditionally(
                "update_item",
                Key=_to_item({"pk": f"CUSTOMER#{customer_id}", "sk": "PROFILE"}),
                UpdateExpression="SET #a = :v",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#a)",
                ExpressionAttributeNames={"#a": attribute},
                ExpressionAttributeValues={":v": {"S": value}},
            )

    def set_consent(self, customer_id: str, channel: Channel, state: str, at: str) -> None:
        """Consent per channel (``consent_sms``); an older event never overrides a newer decision."""
        self._conditionally(
            "update_item",
            Key=_to_item({"pk": f"CUSTOMER#{customer_id}", "sk": "PROFILE"}),
            UpdateExpression="SET #c = :s, #t = :t",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(#t) OR #t < :t)",
            ExpressionAttributeNames={"#c": f"consent_{channel.value}", "#t": f"consent_at_{channel.value}"},
            ExpressionAttributeValues=_to_item({":s": state, ":t": at}),
        )

    def get_customer(self, customer_id: str, *, consistent: bool = False) -> Customer | None:
        item = self._get(f"CUSTOMER#{customer_id}", "PROFILE", consistent=consistent)
        if item is None:
            return None
        first = list(item.get("identities", []))
        keys = first + sorted(set(item.get("identity_set", set())) - set(first))
        identities = []
        for key in keys:
            channel, _, address = key.partition("#")
            identities.append(Identity(Channel(channel), address))
        return Customer(
            id=item["id"],
            name=item.get("name"),
            language=item.get("language"),
            tier=item.get("tier", "standard"),
            identities=tuple(identities),
            created_at=item["created_at"],
            open_conversation_id=item.get("open_conversation_id"),
            open_claimed_at=item.get("open_claimed_at"),
            consent={
                key.removeprefix("consent_"): str(value)
                for key, value in item.items()
                if key.startswith("consent_") and not key.startswith("consent_at_")
            },
        )

    def claim_open_conversation(self, customer_id: str, conversation_id: str, expected: str | None) -> bool:
        """Point the customer at a new open conversation if the pointer is still ``expected``.

        The claim's time is kept: a claim whose conversation never appeared (its message died) can be
        taken over once it is older than any retry of that message (see conversations.py).
        """
        if expected is None:
            condition = "attribute_not_exists(open_conversation_id) OR open_conversation_id = :new"
            values = {":new": conversation_id}
        else:
            condition = "open_conversation_id = :old OR open_conversation_id = :new"
            values = {":old": expected, ":new": conversation_id}
        return self._conditionally(
            "update_item",
            Key=_to_item({"pk": f"CUSTOMER#{customer_id}", "sk": "PROFILE"}),
            UpdateExpression="SET open_conversation_id = :new, open_claimed_at = :at",
            ConditionExpression=f"attribute_exists(pk) AND ({condition})",
            ExpressionAttributeValues=_to_item({**values, ":at": utc_now()}),
        )

    def list_customer_conversation_ids(self, customer_id: str) -> list[str]:
        items = self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=_to_item({":pk": f"CUSTOMER#{customer_id}", ":prefix": "CONV#"}),
            ProjectionExpression="conversation_id",
        )
        return [item["conversation_id"] for item in items]

    # ----------------------------------------------------------------- conversations
    def reserve_reference(self, reference: str, conversation_id: str) -> bool:
        """True when ``reference`` is now (or already was) this conversation's."""
        if self._put_if_absent({"pk": f"REF#{reference}", "sk": "REF", "conversation_id": conversation_id}):
            return True
        item = self._get(f"REF#{reference}", "REF", consistent=True)
        return item is not None and item.get("conversation_id") == conversation_id

    def move_reference(self, reference: str, from_conversation: str, to_conversation: str) -> None:
        """A reference announced for a conversation that was never opened now names the one that was."""
        self._conditionally(
            "update_item",
            Key=_to_item({"pk": f"REF#{reference}", "sk": "REF"}),
            UpdateExpression="SET conversation_id = :to",
            ConditionExpression="conversation_id = :from",
            ExpressionAttributeValues=_to_item({":to": to_conversation, ":from": from_conversation}),
        )

    def conversation_for_reference(self, reference: str) -> str | None:
        item = self._get(f"REF#{reference.upper()}", "REF")
        return None if item is None else str(item["conversation_id"])

    def create_conversation(self, conversation: Conversation) -> bool:
        created = self._put_if_absent(
            {
                "pk": f"CONV#{conversation.id}",
                "sk": "META",
                "type": "conversation",
                **_conversation_attributes(conversation),
            }
        )
        self._put_if_absent(
            {
                "pk": f"CUSTOMER#{conversation.customer_id}",
                "sk": f"CONV#{conversation.created_at}#{conversation.id}",
                "type": "customer_conversation",
                "conversation_id": conversation.id,
            }
        )
        return created

    def get_conversation(self, conversation_id: str, *, consistent: bool = False) -> Conversation | None:
        item = self._get(f"CONV#{conversation_id}", "META", consistent=consistent)
        return None if item is None else _conversation_from_item(item)

    def get_conversation_with_messages(self, conversation_id: str) -> tuple[Conversation, list[Message]] | None:
        conversation: Conversation | None = None
        messages: list[Message] = []
        for item in self._query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=_to_item({":pk": f"CONV#{conversation_id}"}),
        ):
            if item["sk"] == "META":
                conversation = _conversation_from_item(item)
            elif item["sk"].startswith("MSG#"):
                messages.append(_message_from_item(item))
        return None if conversation is None else (conversation, messages)

    def record_inbound_activity(self, conversation_id: str, at: str) -> None:
        """Move ``last_inbound_at``/``updated_at`` forward, never back (a late retry changes nothing)."""
        self._conditionally(
            "update_item",
            Key=_to_item({"pk": f"CONV#{conversation_id}", "sk": "META"}),
            UpdateExpression="SET last_inbound_at = :t, updated_at = :t, gsi1sk = :g",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(last_inbound_at) "
            "OR last_inbound_at < :t)",
            ExpressionAttributeValues=_to_item({":t": at, ":g": f"{at}#{conversation_id}"}),
        )

    def list_conversations(
        self,
        *,
        status: ConversationStatus | None,
        route: str | None,
        customer_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page:
        limit = max(1, min(limit, _MAX_PAGE))
        if customer_id:
            ids = self.list_customer_conversation_ids(customer_id)
            start = int(_decode_cursor(cursor).get("offset", 0)) if cursor else 0
            found: list[dict[str, Any]] = []
            position = start
            for position, conversation_id in enumerate(ids[start:], start):  # noqa: B007
                conversation = self.get_conversation(conversation_id)
                if conversation is None:
                    continue
                if status and conversation.status is not status:
                    continue
                if route and conversation.route != route:
                    continue
                found.append(conversation.to_api())
                if len(found) == limit:
                    break
            more = position + 1 < len(ids) and len(found) == limit
            return Page(found, _encode_cursor({"offset": position + 1}) if more else None)
        statuses = [status] if status else list(ConversationStatus)
        state = _decode_cursor(cursor) if cursor else {"s": 0}
        index = int(state.get("s", 0))
        exclusive = state.get("k")
        found = []
        while index < len(statuses) and len(found) < limit:
            kwargs: dict[str, Any] = {
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :pk",
                "ExpressionAttributeValues": _to_item({":pk": f"CONVSTATUS#{statuses[index].value}"}),
                "ScanIndexForward": False,
                "Limit": limit - len(found),
            }
            if route:
                kwargs["FilterExpression"] = "#r = :route"
                kwargs["ExpressionAttributeNames"] = {"#r": "route"}
                kwargs["ExpressionAttributeValues"].update(_to_item({":route": route}))
            if exclusive:
                kwargs["ExclusiveStartKey"] = exclusive
            response = self._call("query", **kwargs)
            found.extend(_conversation_from_item(_from_item(i)).to_api() for i in response.get("Items", []))
            exclusive = response.get("LastEvaluatedKey")
            if not exclusive:
                index += 1
        more = index < len(statuses)
        return Page(found, _encode_cursor({"s": index, "k": exclusive}) if more else None)

    # ----------------------------------------------------------------- messages
    def put_message(self, message: Message, *, extra: dict[str, Any] | None = None) -> bool:
        written = self._put_if_absent(
            {
                "pk": f"CONV#{message.conversation_id}",
                "sk": f"MSG#{message.created_at}#{message.id}",
                "type": "message",
                **_message_attributes(message),
                **(extra or {}),
            }
        )
        if message.provider and message.provider_message_id:
            self.index_provider_message(message.provider, message.provider_message_id, message)
        return written

    def index_provider_message(self, provider: str, provider_message_id: str, message: Message) -> None:
        """Record where a provider's message id lives; apply a status that arrived before we knew it."""
        key = f"PMSG#{provider}#{provider_message_id}"
        message_sk = f"MSG#{message.created_at}#{message.id}"
        if self._put_if_absent({"pk": key, "sk": "PMSG", "conversation_id": message.conversation_id,
                                "message_sk": message_sk}):
            return
        existing = self._get(key, "PMSG", consistent=True)
        if existing is None or existing.get("conversation_id"):
            return
        # A status callback overtook the sender's answer and was parked here: point, then apply it.
        self._call(
            "update_item",
            Key=_to_item({"pk": key, "sk": "PMSG"}),
            UpdateExpression="SET conversation_id = :c, message_sk = :m",
            ExpressionAttributeValues=_to_item({":c": message.conversation_id, ":m": message_sk}),
        )
        parked = existing.get("parked_status")
        if parked:
            self.apply_delivery_status(provider, provider_message_id, DeliveryStatus(parked),
                                       existing.get("parked_error_code"))

    def apply_delivery_status(
        self, provider: str, provider_message_id: str, status: DeliveryStatus, error_code: str | None
    ) -> bool:
        """Monotonic: sent < delivered < read, failed terminal. False when not newer, or parked.

        A status for an id the hub does not know yet (the callback overtook the sender's answer)
        is parked on the id's pointer item and applied when the sender's answer records the id.
        """
        key = f"PMSG#{provider}#{provider_message_id}"
        pointer = self._get(key, "PMSG", consistent=True)
        if pointer is None or not pointer.get("conversation_id"):
            self._park_status(key, status, error_code)
            return False
        condition, values = _status_advances(status)
        update = "SET #s = :s, status_rank = :r, status_at = :t"
        if error_code:
            update += ", error_code = :e"
            values[":e"] = error_code
        return self._conditionally(
            "update_item",
            Key=_to_item({"pk": f"CONV#{pointer['conversation_id']}", "sk": pointer["message_sk"]}),
            UpdateExpression=update,
            ConditionExpression=f"attribute_exists(pk) AND {condition}",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=_to_item(values),
        )

    def _park_status(self, key: str, status: DeliveryStatus, error_code: str | None) -> None:
        values: dict[str, Any] = {":s": status.value, ":r": status.rank,
                                  ":x": int(time.time()) + self._retention_seconds}
        update = "SET parked_status = :s, parked_rank = :r, expires_at = :x"
        if error_code:
            update += ", parked_error_code = :e"
            values[":e"] = error_code
        self._conditionally(
            "update_item",
            Key=_to_item({"pk": key, "sk": "PMSG"}),
            UpdateExpression=update,
            ConditionExpression="attribute_not_exists(conversation_id) AND "
            "(attribute_not_exists(parked_rank) OR parked_rank < :r)",
            ExpressionAttributeValues=_to_item(values),
        )

    def record_outbound_result(
        self,
        message: Message,
        *,
        status: DeliveryStatus,
        provider: str | None,
        provider_message_id: str | None,
        error_code: str | None = None,
        error_reason: str | None = None,
    ) -> None:
        """The sender's answer on an outbound message.

        The provider's ids are always recorded; the status only moves forward, because a status
        callback may already have overtaken the sender's own answer.
        """
        key = _to_item({"pk": f"CONV#{message.conversation_id}", "sk": f"MSG#{message.created_at}#{message.id}"})
        facts = {
            name: value
            for name, value in (("provider", provider), ("provider_message_id", provider_message_id),
                                ("error_code", error_code), ("error_reason", error_reason))
            if value
        }
        if facts and not self._conditionally(
            "update_item",
            Key=key,
            UpdateExpression="SET " + ", ".join(f"{name} = :{name}" for name in facts),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=_to_item({f":{name}": value for name, value in facts.items()}),
        ):
            return  # no such message: nothing to record it on
        if provider and provider_message_id:
            self.index_provider_message(provider, provider_message_id, message)
        condition, values = _status_advances(status)
        self._conditionally(
            "update_item",
            Key=key,
            UpdateExpression="SET #s = :s, status_rank = :r, status_at = :t",
            ConditionExpression=f"attribute_exists(pk) AND {condition}",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=_to_item(values),
        )

    def set_conversation_status(self, conversation_id: str, status: ConversationStatus, at: str) -> Conversation:
        values = {":s": status.value, ":t": at, ":g": f"CONVSTATUS#{status.value}", ":k": f"{at}#{conversation_id}"}
        update = "SET #s = :s, updated_at = :t, gsi1pk = :g, gsi1sk = :k"
        if status is ConversationStatus.RESOLVED:
            update += ", resolved_at = :t"
        else:
            update += " REMOVE resolved_at"
        try:
            response = self._call(
                "update_item",
                Key=_to_item({"pk": f"CONV#{conversation_id}", "sk": "META"}),
                UpdateExpression=update,
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=_to_item(values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as err:
            if _conditional_failed(err):
                raise NotFound(f"no conversation {conversation_id}") from err
            raise
        return _conversation_from_item(_from_item(response["Attributes"]))

    def release_open_conversation(self, customer_id: str, conversation_id: str) -> None:
        """Clear the customer's open pointer if it still points at ``conversation_id``."""
        self._conditionally(
            "update_item",
            Key=_to_item({"pk": f"CUSTOMER#{customer_id}", "sk": "PROFILE"}),
            UpdateExpression="REMOVE open_conversation_id",
            ConditionExpression="open_conversation_id = :c",
            ExpressionAttributeValues=_to_item({":c": conversation_id}),
        )

    def last_inbound_on_channel(
        self, conversation_id: str, channel: Channel
    ) -> tuple[str | None, str | None, str | None]:
        """(created_at, provider, inbox key) of the conversation's newest inbound message on ``channel``."""
        for item in self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :m)",
            ExpressionAttributeValues=_to_item({":pk": f"CONV#{conversation_id}", ":m": "MSG#"}),
            ScanIndexForward=False,
        ):
            if item.get("direction") == Direction.INBOUND.value and item.get("channel") == channel.value:
                return item["created_at"], item.get("provider"), item.get("inbox_key")
        return None, None, None

    def remember_idempotency_key(self, scope: str, key: str, created_at: str) -> str:
        """The creation time first recorded for (scope, key): ours if new, the original one on a retry."""
        if self._put_if_absent({"pk": f"IDEMPOTENCY#{scope}#{key}", "sk": "IDEMPOTENCY", "created_at": created_at,
                                "expires_at": int(time.time()) + self._retention_seconds}):
            return created_at
        item = self._get(f"IDEMPOTENCY#{scope}#{key}", "IDEMPOTENCY", consistent=True)
        return str(item["created_at"]) if item else created_at

    def find_message(self, conversation_id: str, message_id: str) -> Message | None:
        for item in self._query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :m)",
            FilterExpression="id = :id",
            ExpressionAttributeValues=_to_item({":pk": f"CONV#{conversation_id}", ":m": "MSG#", ":id": message_id}),
        ):
            return _message_from_item(item)
        return None

    # ----------------------------------------------------------------- outbound delivery ledger
    def claim_delivery(self, outbound_id: str, lease_seconds: int, now: float | None = None) -> bool:
        """Claim the right to send ``outbound_id``; a claim whose lease ran out (a crash) may be taken over."""
        moment = int(time.time() if now is None else now)
        return self._conditionally(
            "put_item",
            Item=_to_item({
                "pk": f"OUTBOX#{outbound_id}", "sk": "OUTBOX", "state": "sending",
                "lease_until": moment + lease_seconds, "expires_at": moment + self._retention_seconds,
            }),
            ConditionExpression="attribute_not_exists(pk) OR (#st = :sending AND lease_until < :now)",
            ExpressionAttributeNames={"#st": "state"},
            ExpressionAttributeValues=_to_item({":sending": "sending", ":now": moment}),
        )

    def finish_delivery(self, outbound_id: str, state: str, detail: dict[str, Any]) -> None:
        self._call(
            "update_item",
            Key=_to_item({"pk": f"OUTBOX#{outbound_id}", "sk": "OUTBOX"}),
            UpdateExpression="SET #st = :s, detail = :d REMOVE lease_until",
            ExpressionAttributeNames={"#st": "state"},
            ExpressionAttributeValues=_to_item({":s": state, ":d": json.dumps(detail, sort_keys=True)}),
        )

    def release_delivery(self, outbound_id: str) -> None:
        self._conditionally(
            "delete_item",
            Key=_to_item({"pk": f"OUTBOX#{outbound_id}", "sk": "OUTBOX"}),
            ConditionExpression="#st = :sending",
            ExpressionAttributeNames={"#st": "state"},
            ExpressionAttributeValues=_to_item({":sending": "sending"}),
        )

    # ----------------------------------------------------------------- maintenance (tests, local stack)
    def scan_all(self) -> Iterable[dict[str, Any]]:
        kwargs: dict[str, Any] = {}
        while True:
            response = self._call("scan", **kwargs)
            for item in response.get("Items", []):
                yield _from_item(item)
            if not response.get("LastEvaluatedKey"):
                return
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _status_advances(status: DeliveryStatus) -> tuple[str, dict[str, Any]]:
    """The condition (and its values) under which a message's status may become ``status``:
    DeliveryStatus.can_become, the one ordering rule for the sender's answers and the callbacks."""
    allowed = [s.value for s in DeliveryStatus if s.can_become(status)]
    values: dict[str, Any] = {":s": status.value, ":r": status.rank, ":t": utc_now()}
    if not allowed:
        return "attribute_not_exists(#s)", values
    for index, value in enumerate(allowed):
        values[f":a{index}"] = value
    return f"(attribute_not_exists(#s) OR #s IN ({', '.join(f':a{i}' for i in range(len(allowed)))}))", values


def _conversation_attributes(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "reference": conversation.reference,
        "status": conversation.status.value,
        "priority": conversation.priority.value,
        "route": conversation.route,
        "customer_id": conversation.customer_id,
        "channel": conversation.channel.value,
        "tags": list(conversation.tags) or None,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
        "last_inbound_at": conversation.last_inbound_at,
        "resolved_at": conversation.resolved_at,
        "gsi1pk": f"CONVSTATUS#{conversation.status.value}",
        "gsi1sk": f"{conversation.updated_at}#{conversation.id}",
    }


def _conversation_from_item(item: dict[str, Any]) -> Conversation:
    return Conversation(
        id=item["id"],
        reference=item["reference"],
        status=ConversationStatus(item["status"]),
        priority=Priority(item.get("priority", "normal")),
        route=item.get("route", "default"),
        customer_id=item["customer_id"],
        channel=Channel(item["channel"]),
        created_at=item["created_at"],
        updated_at=item.get("updated_at", item["created_at"]),
        tags=tuple(item.get("tags") or ()),
        last_inbound_at=item.get("last_inbound_at"),
        resolved_at=item.get("resolved_at"),
    )


def _message_attributes(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "direction": message.direction.value,
        "channel": message.channel.value,
        "created_at": message.created_at,
        "text": message.text,
        "attachments": json.dumps([a.to_dict() for a in message.attachments]) if message.attachments else None,
        "status": message.status.value,
        "status_rank": message.status.rank,
        "provider": message.provider,
        "provider_message_id": message.provider_message_id,
        "inbox_key": message.inbox_key,
        "error_code": message.error_code,
    }


def _message_from_item(item: dict[str, Any]) -> Message:
    return Message(
        id=item["id"],
        conversation_id=item["conversation_id"],
        direction=Direction(item["direction"]),
        channel=Channel(item["channel"]),
        created_at=item["created_at"],
        text=item.get("text"),
        attachments=tuple(Attachment.from_dict(a) for a in json.loads(item["attachments"]))
        if item.get("attachments")
        else (),
        status=DeliveryStatus(item.get("status", "received")),
        provider=item.get("provider"),
        provider_message_id=item.get("provider_message_id"),
        inbox_key=item.get("inbox_key"),
        error_code=item.get("error_code"),
    )


def _encode_cursor(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, json.JSONDecodeError) as err:
        raise BadRequest("cursor is not one this API returned") from err
    if not isinstance(state, dict):
        raise BadRequest("cursor is not one this API returned")
    return state


class S3PayloadArchive:
    """Raw payloads too large for an item, as S3 objects; the item keeps ``s3://bucket/key``."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def put(self, key: str, body: bytes) -> str:
        try:
            self._client.put_object(Bucket=self._bucket, Key=key, Body=body, ServerSideEncryption="AES256")
        except (ClientError, BotoCoreError) as err:
            raise StoreUnavailable(f"S3 put_object failed: {err}") from err
        return f"s3://{self._bucket}/{key}"

    def get(self, pointer: str) -> bytes:
        bucket, _, key = pointer.removeprefix("s3://").partition("/")
        return self._client.get_object(Bucket=bucket, Key=key)["Body"].read()
