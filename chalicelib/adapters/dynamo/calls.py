"""Phone calls on the single table: the call's log item and its one message, every write conditional.

The log (``keys.call``) holds the inbox keys of the call's callbacks in a string set (ADD is
idempotent, so a redelivered callback adds nothing) and, set once, where the call's message lives.
The message is replaced only by a fold of more callbacks (``call_version``), so a worker that read
fewer callbacks can never overwrite what one that read more has written.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.items import message_attributes, message_expiry
from chalicelib.adapters.dynamo.table import Table, from_item, to_item
from chalicelib.core.calls import CallLog
from chalicelib.core.model import Message

MAX_CALLBACKS = 200  # a call's log stops growing here: a fold reads every callback it lists


def _log(item: dict[str, Any] | None) -> CallLog:
    item = item or {}
    return CallLog(inbox_keys=frozenset(item.get("inbox_keys") or ()), conversation_id=item.get("conversation_id"),
                   message_created_at=item.get("message_created_at"))


class DynamoCalls:
    def __init__(self, table: Table, *, retention_days: int = 30) -> None:
        self._table = table
        self._retention_seconds = retention_days * 86400

    def record_event(self, provider: str, call_id: str, inbox_key: str) -> CallLog:
        key = keys.call(provider, call_id)
        try:
            response = self._table.call(
                # Expires with the callbacks it lists (the inbox's retention), counted from the last one.
                "update_item", Key=to_item(key),
                UpdateExpression="ADD inbox_keys :key SET #type = :type, expires_at = :expires",
                ConditionExpression="attribute_not_exists(inbox_keys) OR size(inbox_keys) < :max "
                                    "OR contains(inbox_keys, :one)",
                ExpressionAttributeNames={"#type": "type"},
                ExpressionAttributeValues={":key": {"SS": [inbox_key]}, ":one": {"S": inbox_key},
                                           ":type": {"S": "call"}, ":max": {"N": str(MAX_CALLBACKS)},
                                           ":expires": {"N": str(int(time.time()) + self._retention_seconds)}},
                ReturnValues="ALL_NEW",
            )
        except ClientError:  # the log is full: the fold goes on with what it lists
            return _log(self._table.get(key, consistent=True))
        return _log(from_item(response["Attributes"]))

    def place(self, provider: str, call_id: str, conversation_id: str, message_created_at: str) -> CallLog:
        key = keys.call(provider, call_id)
        self._table.update(
            key, UpdateExpression="SET conversation_id = :c, message_created_at = :t",
            ConditionExpression="attribute_not_exists(conversation_id)",
            ExpressionAttributeValues=to_item({":c": conversation_id, ":t": message_created_at}),
        )
        return _log(self._table.get(key, consistent=True))

    def write_message(self, message: Message, version: int) -> bool:
        attributes = {name: value for name, value in message_attributes(message).items() if value is not None}
        attributes.update({"type": "message", "kind": "call", "call_version": version, **message_expiry()})
        names = {f"#a{i}": name for i, name in enumerate(attributes)}
        values = {f":v{i}": value for i, value in enumerate(attributes.values())}
        return self._table.update(
            keys.message(message.conversation_id, message.created_at, message.id),
            UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(attributes))),
            ConditionExpression="attribute_not_exists(call_version) OR call_version <= :version",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item({**values, ":version": version}),
        )

    def tag_conversation(self, conversation_id: str, tag: str) -> None:
        self._table.update(
            keys.conversation(conversation_id),
            UpdateExpression="SET #tags = list_append(if_not_exists(#tags, :none), :tag)",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(#tags) OR NOT contains(#tags, :one))",
            ExpressionAttributeNames={"#tags": "tags"},
            ExpressionAttributeValues=to_item({":none": [], ":tag": [tag], ":one": tag}),
        )
