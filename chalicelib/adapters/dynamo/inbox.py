"""The inbox: one item per provider event, written with one conditional PutItem.

The item is the dedupe record (keyed by the provider's event id), keeps the raw payload (or an S3
pointer when too large) and is the outbox: its stream record is what the relay queues.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Sequence

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.table import Table, to_item
from chalicelib.core.bucket_layout import RAW_PAYLOAD_PREFIX
from chalicelib.core.errors import StoreUnavailable
from chalicelib.core.ids import event_reference
from chalicelib.core.item_limits import event_json_size
from chalicelib.core.model import InboundEvent
from chalicelib.core.ports import PayloadArchive
from chalicelib.core.records import CarriedAcknowledgment, InboxRecord, ThreadDecision


class DynamoInbox:
    def __init__(
        self,
        table: Table,
        *,
        payloads: PayloadArchive | None = None,
        inline_payload_limit: int = 256 * 1024,
        retention_days: int = 30,
    ) -> None:
        self._table = table
        self._payloads = payloads
        self._inline_limit = inline_payload_limit
        self._retention_seconds = retention_days * 86400

    def put(
        self,
        event: InboundEvent,
        *,
        endpoint: str,
        received_at: str,
        raw_body: bytes,
        content_type: str | None,
        raw_pointer: str | None = None,
        now: float | None = None,
        acknowledgment: CarriedAcknowledgment | None = None,
        path: str | None = None,
    ) -> bool:
        """An item past its TTL that DynamoDB has not deleted yet does not count as a duplicate."""
        moment = time.time() if now is None else now
        item = {
            **keys.inbox(event.inbox_key),
            **keys.sender_index(event.ordering_key, received_at, event.inbox_key),
            "type": "inbox",
            "endpoint": endpoint,
            "provider": event.provider,
            "kind": event.kind.value,
            "ordering_key": event.ordering_key,
            "received_at": received_at,
            "event": json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False),
            "content_type": content_type,
            "expires_at": int(moment) + self._retention_seconds,
            "acknowledgment": json.dumps(acknowledgment.to_dict(), ensure_ascii=False, sort_keys=True)
            if acknowledgment
            else None,
            "raw_pointer": raw_pointer,
            "raw": None if raw_pointer else raw_body,
            "path": path,
        }
        return self._table.conditionally(
            "put_item",
            Item=to_item(item),
            ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
            ExpressionAttributeValues={":now": {"N": str(int(moment))}},
        )

    def needs_payload_pointer(self, raw_body: bytes, events: Sequence[InboundEvent]) -> bool:
        """An item holds the raw body and its event's JSON: both must fit under the inline limit."""
        return len(raw_body) + max(map(event_json_size, events), default=0) > self._inline_limit

    def archive_payload(self, provider: str, received_at: str, raw_body: bytes) -> str:
        if self._payloads is None:
            raise StoreUnavailable("no payload archive configured for a large body")
        digest = hashlib.sha256(raw_body).hexdigest()
        # One object per request, so discarding a refused request's copy never touches another's.
        name = f"{RAW_PAYLOAD_PREFIX}{provider}/{received_at[:10]}/{digest}-{secrets.token_hex(8)}"
        return self._payloads.put(name, raw_body)

    def discard_payload(self, pointer: str) -> None:
        if self._payloads is not None:
            self._payloads.delete(pointer)

    def get(self, inbox_key: str) -> InboxRecord | None:
        item = self._table.get(keys.inbox(inbox_key), consistent=True)
        if item is None or "event" not in item:  # none, or erased: only the dedupe record is left
            return None
        return InboxRecord(
            inbox_key=inbox_key,
            event=InboundEvent.from_dict(json.loads(item["event"])),
            received_at=item["received_at"],
            endpoint=item.get("endpoint", ""),
            thread=ThreadDecision.from_dict(json.loads(item["thread"])) if item.get("thread") else None,
            acknowledgment=CarriedAcknowledgment.from_dict(json.loads(item["acknowledgment"]))
            if item.get("acknowledgment")
            else None,
            content_type=item.get("content_type"),
            confirmed_at=item.get("confirmed_at"),
        )

    def raw_payload(self, inbox_key: str) -> bytes | None:
        item = self._table.get(keys.inbox(inbox_key))
        if item is None:
            return None
        if "raw" in item:
            return bytes(item["raw"])
        if self._payloads is not None and item.get("raw_pointer"):
            return self._payloads.get(item["raw_pointer"])
        return None

    def record_confirmation(self, inbox_key: str, confirmed_at: str) -> str:
        if self._table.update(
            keys.inbox(inbox_key),
            UpdateExpression="SET confirmed_at = :c",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(confirmed_at)",
            ExpressionAttributeValues={":c": {"S": confirmed_at}},
        ):
            return confirmed_at
        record = self.get(inbox_key)
        if record is None or record.confirmed_at is None:
            raise StoreUnavailable(f"inbox item {event_reference(inbox_key)} vanished")
        return record.confirmed_at

    def record_thread_decision(self, inbox_key: str, decision: ThreadDecision) -> ThreadDecision:
        if self._table.update(
            keys.inbox(inbox_key),
            UpdateExpression="SET thread = :t",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(thread)",
            ExpressionAttributeValues={":t": {"S": json.dumps(decision.to_dict(), sort_keys=True)}},
        ):
            return decision
        record = self.get(inbox_key)
        if record is None or record.thread is None:
            raise StoreUnavailable(f"inbox item {event_reference(inbox_key)} vanished")
        return record.thread
