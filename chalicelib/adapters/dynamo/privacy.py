"""Every copy of a customer on the single table, reached through keys and per-partition queries (never a
scan), and erased: the :class:`~chalicelib.privacy.ports.PrivacyStore` of DynamoDB.

Queries read :data:`PAGE` items per request, so an export or an erasure holds one page of a long
conversation at a time. An erased inbox item keeps only what dedupes a provider's redelivery; its
``erased_at`` tells the stream relay that the MODIFY is no new event (chalicelib/adapters/dynamo/stream.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.customers import customer_from_item
from chalicelib.adapters.dynamo.items import conversation_from_item, message_from_item
from chalicelib.adapters.dynamo.stream import ERASED_AT  # the stream relay ignores such a MODIFY
from chalicelib.adapters.dynamo.table import Table, to_item
from chalicelib.core.ids import acknowledgment_claim_key
from chalicelib.core.model import Conversation, Customer, Direction, Message
from chalicelib.privacy.ports import ErasureRecord, InboxCopy

PAGE = 100  # items per query request
SENDER_INDEX = "gsi_sender"  # resources.TABLE: inbox items by ordering key (keys only)
# What an erased inbox item keeps: its key, what it was and when, its TTL (the dedupe window).
_INBOX_KEPT = frozenset({"pk", "sk", "type", "provider", "kind", "endpoint", "received_at", "expires_at",
                         "confirmed_at", ERASED_AT})
_FEEDBACK_SHOWN = ("kind", "channel", "route", "asked_at", "language", "sent", "score", "comment", "answered_at")


class DynamoPrivacyStore:
    def __init__(self, table: Table) -> None:
        self._table = table

    # ------------------------------------------------------------ reads
    def customer(self, customer_id: str) -> Customer | None:
        item = self._table.get(keys.customer(customer_id), consistent=True)
        return None if item is None else customer_from_item(item)

    def conversation_ids(self, customer_id: str) -> Iterator[str]:
        for item in self._table.query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)", Limit=PAGE, ConsistentRead=True,
            ExpressionAttributeValues=to_item({":pk": keys.customer_partition(customer_id),
                                               ":prefix": keys.conversation_sort_key_range()}),
            ProjectionExpression="conversation_id",
        ):
            yield str(item["conversation_id"])

    def conversation(self, conversation_id: str) -> Conversation | None:
        item = self._table.get(keys.conversation(conversation_id), consistent=True)
        return None if item is None else conversation_from_item(item)

    def messages(self, conversation_id: str) -> Iterator[Message]:
        for item in self._table.query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)", Limit=PAGE, ConsistentRead=True,
            ExpressionAttributeValues=to_item({":pk": keys.conversation_partition(conversation_id),
                                               ":prefix": keys.message_sort_key_prefix()}),
        ):
            yield message_from_item(item)

    def call_inbox_keys(self, provider: str, call_id: str) -> tuple[str, ...]:
        item = self._table.get(keys.call(provider, call_id), consistent=True)
        return tuple(sorted(item.get("inbox_keys") or ())) if item else ()

    def inbox_copy(self, inbox_key: str) -> InboxCopy | None:
        item = self._table.get(keys.inbox(inbox_key), consistent=True)
        if item is None:
            return None
        event = json.loads(item["event"]) if item.get("event") else None
        return InboxCopy(
            inbox_key=inbox_key, provider=str(item.get("provider", "")), kind=str(item.get("kind", "")),
            received_at=str(item.get("received_at", "")), event=event if isinstance(event, dict) else None,
            raw=bytes(item["raw"]) if "raw" in item else None, raw_pointer=item.get("raw_pointer"),
            content_type=item.get("content_type"), erased=ERASED_AT in item,
        )

    def inbox_keys_of(self, ordering_key: str) -> Iterator[str]:
        for item in self._table.query(
            IndexName=SENDER_INDEX, KeyConditionExpression="sender_pk = :pk", Limit=PAGE,
            ExpressionAttributeValues=to_item({":pk": keys.sender_partition(ordering_key)}),
        ):
            yield keys.inbox_key_of(str(item["pk"]))

    def feedback(self, conversation_id: str) -> Mapping[str, Any] | None:
        item = self._table.get(keys.feedback(conversation_id), consistent=True)
        if item is None:
            return None
        shown = {name: item.get(name) for name in _FEEDBACK_SHOWN}
        if shown["score"] is not None:
            shown["score"] = int(shown["score"])
        return {"conversation_id": conversation_id, **shown}

    def crisis_records(self, customer_id: str) -> Iterator[Mapping[str, Any]]:
        for incident_id in self._incident_ids():
            contact = self._table.get(keys.incident_contact(incident_id, customer_id), consistent=True)
            if contact is not None:
                yield {"record": "keyword_contact", "incident_id": incident_id, "created_at": contact.get("created_at")}
            for update_id in self._update_ids(incident_id):
                recipient = self._table.get(keys.broadcast_recipient(incident_id, update_id, customer_id))
                if recipient is not None:
                    yield {"record": "broadcast_recipient", "incident_id": incident_id, "update_id": update_id,
                           **{name: recipient.get(name) for name in ("state", "channel", "reason", "outbound_id",
                                                                     "created_at")}}

    def _incident_ids(self) -> Iterator[str]:
        """A handful a year, all in one partition."""
        for item in self._table.query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)", Limit=PAGE, ProjectionExpression="sk",
            ExpressionAttributeValues=to_item({":pk": keys.INCIDENTS_PARTITION,
                                               ":prefix": keys.incident_sort_key_prefix()}),
        ):
            yield keys.incident_id_of(str(item["sk"]))

    def _update_ids(self, incident_id: str) -> Iterator[str]:
        for item in self._table.query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)", Limit=PAGE, ProjectionExpression="sk",
            ExpressionAttributeValues=to_item({":pk": keys.incident_partition(incident_id),
                                               ":prefix": keys.update_sort_key_prefix()}),
        ):
            yield keys.update_id_of(str(item["sk"]))

    # ------------------------------------------------------------ the audit
    def erasure(self, customer_id: str) -> ErasureRecord | None:
        item = self._table.get(keys.erasure(customer_id), consistent=True)
        if item is None:
            return None
        return ErasureRecord(
            customer_id=customer_id, requested_by=str(item["requested_by"]), started_at=str(item["started_at"]),
            finished_at=item.get("finished_at"),
            counts={str(k): int(v) for k, v in (item.get("counts") or {}).items()},
            conversation_ids=tuple(json.loads(item.get("conversation_ids") or "[]")),
        )

    def start_erasure(self, record: ErasureRecord) -> ErasureRecord:
        if self._table.put_if_absent({**keys.erasure(record.customer_id), "type": "erasure",
                                      "customer_id": record.customer_id, "requested_by": record.requested_by,
                                      "started_at": record.started_at,
                                      "conversation_ids": json.dumps(list(record.conversation_ids))}):
            return record
        return self.erasure(record.customer_id) or record

    def finish_erasure(self, record: ErasureRecord) -> None:
        self._table.update(
            keys.erasure(record.customer_id),
            UpdateExpression="SET finished_at = :f, counts = :c, conversation_ids = :i",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(finished_at)",
            ExpressionAttributeValues=to_item({":f": record.finished_at, ":c": dict(record.counts),
                                               ":i": json.dumps(list(record.conversation_ids))}),
        )

    # ------------------------------------------------------------ erasure
    def erase_inbox_copy(self, inbox_key: str, at: str) -> bool:
        item = self._table.get(keys.inbox(inbox_key), consistent=True)
        if item is None or ERASED_AT in item:
            return False
        removed = sorted(name for name in item if name not in _INBOX_KEPT)
        names = {f"#r{i}": name for i, name in enumerate(removed)}
        update = "SET #erased = :at" + (f" REMOVE {', '.join(names)}" if names else "")
        return self._table.update(
            keys.inbox(inbox_key), UpdateExpression=update,
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(#erased)",
            ExpressionAttributeNames={"#erased": ERASED_AT, **names},
            ExpressionAttributeValues=to_item({":at": at}),
        )

    def erase_message(self, message: Message) -> None:
        if message.provider and message.provider_message_id:
            self._delete(keys.provider_message(message.provider, message.provider_message_id))
            if message.call:
                self._delete(keys.call(message.provider, message.provider_message_id))
        if message.direction is Direction.OUTBOUND:
            # Its delivery claim stays (the send remains at most once) without the detail a provider's
            # error may have echoed (an address); an outbound message's id is its outbound id.
            self._table.update(keys.outbox_claim(message.id), UpdateExpression="REMOVE detail",
                               ConditionExpression="attribute_exists(pk)")
        self._delete(keys.message(message.conversation_id, message.created_at, message.id))

    def erase_conversation(self, customer_id: str, conversation: Conversation | None, conversation_id: str) -> None:
        feedback = self._table.get(keys.feedback(conversation_id), consistent=True)
        if feedback is not None and feedback.get("asked_at"):
            self._delete(keys.survey_due(str(feedback["asked_at"]), conversation_id))
        self._delete(keys.feedback(conversation_id))
        if conversation is not None:
            self._delete(keys.customer_conversation(customer_id, conversation.created_at, conversation_id))
        self._delete(keys.conversation(conversation_id))

    def erase_crisis_contacts(self, customer_id: str) -> int:
        deleted = 0
        for incident_id in list(self._incident_ids()):
            key = keys.incident_contact(incident_id, customer_id)
            if self._table.get(key, consistent=True) is not None:
                self._delete(key)
                deleted += 1
        return deleted

    def erase_identity(self, identity_key: str) -> None:
        self._delete(keys.expiring_claim(acknowledgment_claim_key(identity_key)))
        self._delete(keys.identity(identity_key))

    def erase_customer(self, customer_id: str) -> None:
        self._delete(keys.customer_survey(customer_id))
        for item in list(self._table.query(
            KeyConditionExpression="pk = :pk", Limit=PAGE, ProjectionExpression="pk, sk", ConsistentRead=True,
            ExpressionAttributeValues=to_item({":pk": keys.customer_partition(customer_id)}),
        )):
            self._delete({"pk": str(item["pk"]), "sk": str(item["sk"])})
        self._delete(keys.customer(customer_id))

    def _delete(self, key: keys.Key) -> None:
        self._table.call("delete_item", Key=to_item(key))
