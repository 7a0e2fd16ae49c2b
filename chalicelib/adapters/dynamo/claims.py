"""Outbound delivery claims and REST idempotency keys: short-lived records with a TTL."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.table import Table, to_item
from chalicelib.core.records import IdempotencyRecord


class DynamoDeliveryClaims:
    """A leased claim per outbound id: sent at most once; a claim whose lease ran out (a crash) is taken over."""

    def __init__(self, table: Table, *, retention_days: int = 30) -> None:
        self._table = table
        self._retention_seconds = retention_days * 86400

    def claim(self, outbound_id: str, lease_seconds: int, now: float | None = None) -> bool:
        moment = int(time.time() if now is None else now)
        return self._table.conditionally(
            "put_item",
            Item=to_item({
                **keys.outbox_claim(outbound_id), "state": "sending",
                "lease_until": moment + lease_seconds, "expires_at": moment + self._retention_seconds,
            }),
            ConditionExpression="attribute_not_exists(pk) OR (#st = :sending AND lease_until < :now)",
            ExpressionAttributeNames={"#st": "state"},
            ExpressionAttributeValues=to_item({":sending": "sending", ":now": moment}),
        )

    def finish(self, outbound_id: str, state: str, detail: Mapping[str, Any]) -> None:
        self._table.call(
            "update_item",
            Key=to_item(keys.outbox_claim(outbound_id)),
            UpdateExpression="SET #st = :s, detail = :d REMOVE lease_until",
            ExpressionAttributeNames={"#st": "state"},
            ExpressionAttributeValues=to_item({":s": state, ":d": json.dumps(dict(detail), sort_keys=True)}),
        )

    def release(self, outbound_id: str) -> None:
        self._table.conditionally(
            "delete_item",
            Key=to_item(keys.outbox_claim(outbound_id)),
            ConditionExpression="#st = :sending",
            ExpressionAttributeNames={"#st": "state"},
            ExpressionAttributeValues=to_item({":sending": "sending"}),
        )


class DynamoIdempotencyKeys:
    def __init__(self, table: Table, *, retention_days: int = 30) -> None:
        self._table = table
        self._retention_seconds = retention_days * 86400

    def remember(self, scope: str, key: str, created_at: str, fingerprint: str) -> IdempotencyRecord:
        mine = IdempotencyRecord(created_at, fingerprint)
        if self._table.put_if_absent({**keys.idempotency(scope, key), "created_at": created_at,
                                      "fingerprint": fingerprint,
                                      "expires_at": int(time.time()) + self._retention_seconds}):
            return mine
        item = self._table.get(keys.idempotency(scope, key), consistent=True)
        if item is None:
            return mine
        return IdempotencyRecord(str(item["created_at"]), str(item.get("fingerprint", "")))


class DynamoExpiringClaims:
    """A claim per key with its holder and expiry (the table's TTL deletes it later; until then the
    condition treats an expired claim as free)."""

    def __init__(self, table: Table) -> None:
        self._table = table

    def claim(self, key: str, holder: str, expires_at: int, *, now: float | None = None) -> bool:
        moment = int(time.time() if now is None else now)
        return self._table.conditionally(
            "put_item",
            Item=to_item({**keys.expiring_claim(key), "holder": holder, "expires_at": expires_at}),
            ConditionExpression="attribute_not_exists(pk) OR expires_at < :now OR holder = :holder",
            ExpressionAttributeValues=to_item({":now": moment, ":holder": holder}),
        )
