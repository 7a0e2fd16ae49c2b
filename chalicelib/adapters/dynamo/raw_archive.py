"""The raw archive on the single table: the inbox items' raw bodies, read back for ``./hub renormalize``.

An operator's batch job, not a request path: it reads the inbox items with a filtered Scan (one pass
over the table; the hub's request paths never scan) and rewrites with conditional updates only, so
that a second run, or a run beside the live worker, changes nothing twice and creates nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.table import Table, to_item
from chalicelib.core.archive_ports import StoredWebhook
from chalicelib.core.model import InboundEvent
from chalicelib.core.ports import PayloadArchive
from chalicelib.core.records import ThreadDecision


class DynamoRawArchive:
    def __init__(self, table: Table, *, payloads: PayloadArchive | None = None) -> None:
        self._table = table
        self._payloads = payloads

    def stored_since(self, provider: str, since: str) -> Iterator[StoredWebhook]:
        for item in self._table.scan(
            FilterExpression="#type = :inbox AND provider = :provider AND received_at >= :since",
            ExpressionAttributeNames={"#type": "type"},
            ExpressionAttributeValues=to_item({":inbox": "inbox", ":provider": provider, ":since": since}),
        ):
            yield self._stored(item)

    def _stored(self, item: dict[str, Any]) -> StoredWebhook:
        raw = bytes(item["raw"]) if item.get("raw") is not None else None
        if raw is None and item.get("raw_pointer") and self._payloads is not None:
            raw = self._payloads.get(item["raw_pointer"])
        return StoredWebhook(
            inbox_key=keys.inbox_key_of(item["pk"]),
            endpoint=item.get("endpoint", ""),
            path=item.get("path"),
            content_type=item.get("content_type"),
            received_at=item["received_at"],
            raw=raw,
            event=InboundEvent.from_dict(json.loads(item["event"])),
            event_json=item["event"],
            thread=ThreadDecision.from_dict(json.loads(item["thread"])) if item.get("thread") else None,
        )

    def replace_event(self, inbox_key: str, expected_json: str, event: InboundEvent) -> bool:
        return self._table.update(
            keys.inbox(inbox_key),
            UpdateExpression="SET #event = :new",
            ConditionExpression="attribute_exists(pk) AND #event = :old",
            ExpressionAttributeNames={"#event": "event"},
            ExpressionAttributeValues=to_item({
                ":new": json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False),
                ":old": expected_json,
            }),
        )

    def revise_inbound_message(self, conversation_id: str, created_at: str, message_id: str, *,
                               text: str | None, metadata: Mapping[str, str]) -> bool:
        values: dict[str, Any] = {":id": message_id}
        sets, removes = [], []
        for name, value in (("#text", text), ("message_metadata", json.dumps(dict(metadata), ensure_ascii=False)
                                                 if metadata else None)):
            if value is None:
                removes.append(name)
            else:
                placeholder = ":t" if name == "#text" else ":m"
                sets.append(f"{name} = {placeholder}")
                values[placeholder] = value
        update = (f"SET {', '.join(sets)}" if sets else "") + (f" REMOVE {', '.join(removes)}" if removes else "")
        return self._table.update(
            keys.message(conversation_id, created_at, message_id),
            UpdateExpression=update.strip(),
            ConditionExpression="attribute_exists(pk) AND id = :id",
            ExpressionAttributeNames={"#text": "text"},
            ExpressionAttributeValues=to_item(values),
        )
