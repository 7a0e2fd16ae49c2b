"""Conversation references (``OH-7K3Q9``): each reserved once, for one conversation."""

from __future__ import annotations

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.table import Table, to_item


class DynamoReferences:
    def __init__(self, table: Table) -> None:
        self._table = table

    def reserve(self, reference: str, conversation_id: str) -> bool:
        if self._table.put_if_absent({**keys.reference(reference), "conversation_id": conversation_id}):
            return True
        item = self._table.get(keys.reference(reference), consistent=True)
        return item is not None and item.get("conversation_id") == conversation_id

    def move(self, reference: str, from_conversation: str, to_conversation: str) -> None:
        """A reference announced for a conversation that was never opened now names the one that was."""
        self._table.update(
            keys.reference(reference),
            UpdateExpression="SET conversation_id = :to",
            ConditionExpression="conversation_id = :from",
            ExpressionAttributeValues=to_item({":to": to_conversation, ":from": from_conversation}),
        )

    def conversation_for(self, reference: str) -> str | None:
        item = self._table.get(keys.reference(reference.upper()))
        return None if item is None else str(item["conversation_id"])
