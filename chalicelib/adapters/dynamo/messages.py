"""Messages, the index of provider message ids, and monotonic delivery statuses."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.broadcast_statuses import advance_broadcast_status
from chalicelib.adapters.dynamo.items import message_attributes, message_expiry, message_from_item
from chalicelib.adapters.dynamo.table import Table, to_item
from chalicelib.core.model import Channel, DeliveryStatus, Direction, Message
from chalicelib.core.records import LastInbound
from chalicelib.core.revisions import reacted, revised
from chalicelib.core.timestamps import utc_now

_REVISION_ATTEMPTS = 3  # two edits of one message racing: the loser reads again


class DynamoMessages:
    def __init__(self, table: Table, *, retention_days: int = 30) -> None:
        self._table = table
        self._retention_seconds = retention_days * 86400

    def put(
        self,
        message: Message,
        *,
        kind: str | None = None,
        delivered_in: str | None = None,
        job: Mapping[str, Any] | None = None,
    ) -> bool:
        written = self._table.put_if_absent(
            {
                **keys.message(message.conversation_id, message.created_at, message.id),
                "type": "message",
                **message_attributes(message),
                **message_expiry(),
                "kind": kind,
                "delivered_in": delivered_in,
                # The outbox: the stream relay queues a job found on a newly stored message.
                "job": json.dumps(dict(job), ensure_ascii=False) if job is not None else None,
            }
        )
        if message.provider and message.provider_message_id:
            self._index_provider_message(message.provider, message.provider_message_id, message)
        return written

    def find(self, conversation_id: str, message_id: str) -> Message | None:
        for item in self._table.query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :m)",
            FilterExpression="id = :id",
            ExpressionAttributeValues=to_item({":pk": keys.conversation_partition(conversation_id),
                                               ":m": keys.Prefix.MESSAGE.value, ":id": message_id}),
        ):
            return message_from_item(item)
        return None

    def last_inbound_on_channel(self, conversation_id: str, channel: Channel) -> LastInbound | None:
        for item in self._table.query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :m)",
            ExpressionAttributeValues=to_item({":pk": keys.conversation_partition(conversation_id),
                                               ":m": keys.Prefix.MESSAGE.value}),
            ScanIndexForward=False,
        ):
            if item.get("direction") == Direction.INBOUND.value and item.get("channel") == channel.value:
                return LastInbound(item["created_at"], item.get("provider"), item.get("inbox_key"))
        return None

    # ----------------------------------------------------------------- delivery statuses
    def apply_delivery_status(
        self, provider: str, provider_message_id: str, status: DeliveryStatus, error_code: str | None
    ) -> bool:
        """False when not newer, or parked: a status for an id the hub does not know yet (the callback
        overtook the sender's answer) waits on the id's pointer item until the answer records the id."""
        pointer_key = keys.provider_message(provider, provider_message_id)
        pointer = self._table.get(pointer_key, consistent=True)
        if pointer is None or not pointer.get("conversation_id"):
            self._park_status(pointer_key, status, error_code)
            return False
        key: keys.Key = {"pk": keys.conversation_partition(pointer["conversation_id"]), "sk": pointer["message_sk"]}
        return self._advance(key, status, error_code, broadcast=bool(pointer.get("broadcast")))

    def _advance(self, key: keys.Key, status: DeliveryStatus, error_code: str | None, *, broadcast: bool) -> bool:
        """One conditional UpdateItem; a broadcast message (its provider id's pointer says so) moves
        with its update's progress counters instead (broadcast_statuses.py)."""
        if broadcast:
            return advance_broadcast_status(self._table, key, status, error_code)
        condition, values = _status_advances(status)
        update = "SET #s = :s, status_rank = :r, status_at = :t"
        if error_code:
            update += ", error_code = :e"
            values[":e"] = error_code
        return self._table.update(
            key,
            UpdateExpression=update,
            ConditionExpression=f"attribute_exists(pk) AND {condition}",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=to_item(values),
        )

    def revise_message(self, provider: str, provider_message_id: str, *, text: str | None, deleted: bool,
                       at: str) -> bool:
        return self._rewrite(provider, provider_message_id,
                             lambda message: revised(message, text=text, deleted=deleted, at=at))

    def record_reaction(self, provider: str, provider_message_id: str, *, emoji: str | None, at: str) -> bool:
        return self._rewrite(provider, provider_message_id, lambda message: reacted(message, emoji=emoji, at=at))

    def _rewrite(self, provider: str, provider_message_id: str, change: Callable[[Message], Message | None]) -> bool:
        """Read, change, write back on the condition that nobody changed it meanwhile (then read again)."""
        pointer = self._table.get(keys.provider_message(provider, provider_message_id), consistent=True)
        if pointer is None or not pointer.get("conversation_id"):
            return False
        key: keys.Key = {"pk": keys.conversation_partition(pointer["conversation_id"]), "sk": pointer["message_sk"]}
        for _ in range(_REVISION_ATTEMPTS):
            item = self._table.get(key, consistent=True)
            if item is None:
                return False
            changed = change(message_from_item(item))
            if changed is None:
                return False
            attributes = message_attributes(changed)
            values: dict[str, Any] = {":m": attributes["message_metadata"]}
            update = "SET message_metadata = :m"
            removed = [name for name in ("#text", "attachments") if attributes[name.lstrip("#")] is None]
            if attributes["text"] is not None:
                update += ", #text = :t"
                values[":t"] = attributes["text"]
            update += f" REMOVE {', '.join(removed)}" if removed else ""
            condition = "attribute_exists(pk) AND "
            if item.get("message_metadata") is None:
                condition += "attribute_not_exists(message_metadata)"
            else:
                condition += "message_metadata = :old"
                values[":old"] = item["message_metadata"]
            if self._table.update(key, UpdateExpression=update, ConditionExpression=condition,
                                  ExpressionAttributeNames={"#text": "text"},
                                  ExpressionAttributeValues=to_item(values)):
                return True
        return False

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
        """The provider's ids are always recorded; the status only moves forward, because a status
        callback may already have overtaken the sender's own answer."""
        key = keys.message(message.conversation_id, message.created_at, message.id)
        facts = {
            name: value
            for name, value in (("provider", provider), ("provider_message_id", provider_message_id),
                                ("error_code", error_code), ("error_reason", error_reason))
            if value
        }
        if facts and not self._table.update(
            key,
            UpdateExpression="SET " + ", ".join(f"{name} = :{name}" for name in facts),
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=to_item({f":{name}": value for name, value in facts.items()}),
        ):
            return  # no such message: nothing to record it on
        if provider and provider_message_id:
            self._index_provider_message(provider, provider_message_id, message)
        self._advance(key, status, None, broadcast=message.broadcast is not None)

    def _index_provider_message(self, provider: str, provider_message_id: str, message: Message) -> None:
        """Record where a provider's message id lives; apply a status that arrived before we knew it."""
        pointer_key = keys.provider_message(provider, provider_message_id)
        message_sk = keys.message_sort_key(message.created_at, message.id)
        # A broadcast's pointer says so: its statuses move its update's counters (no read for other messages).
        broadcast = True if message.broadcast is not None else None
        if self._table.put_if_absent({**pointer_key, "conversation_id": message.conversation_id,
                                      "message_sk": message_sk, "broadcast": broadcast}):
            return
        existing = self._table.get(pointer_key, consistent=True)
        if existing is None or existing.get("conversation_id"):
            return
        # A status callback overtook the sender's answer and was parked here: point, then apply it.
        self._table.call(
            "update_item",
            Key=to_item(pointer_key),
            UpdateExpression="SET conversation_id = :c, message_sk = :m" + (", broadcast = :b" if broadcast else ""),
            ExpressionAttributeValues=to_item({":c": message.conversation_id, ":m": message_sk, ":b": broadcast}),
        )
        parked = existing.get("parked_status")
        if parked:
            self.apply_delivery_status(provider, provider_message_id, DeliveryStatus(parked),
                                       existing.get("parked_error_code"))

    def _park_status(self, pointer_key: keys.Key, status: DeliveryStatus, error_code: str | None) -> None:
        values: dict[str, Any] = {":s": status.value, ":r": status.rank,
                                  ":x": int(time.time()) + self._retention_seconds}
        update = "SET parked_status = :s, parked_rank = :r, expires_at = :x"
        if error_code:
            update += ", parked_error_code = :e"
            values[":e"] = error_code
        self._table.update(
            pointer_key,
            UpdateExpression=update,
            ConditionExpression="attribute_not_exists(conversation_id) AND "
            "(attribute_not_exists(parked_rank) OR parked_rank < :r)",
            ExpressionAttributeValues=to_item(values),
        )


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
