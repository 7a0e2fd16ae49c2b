"""Send-rate token buckets on the single table: read, compute, write conditionally on what was read."""

from __future__ import annotations

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.table import Table, to_item
from chalicelib.core.errors import StoreUnavailable
from chalicelib.core.pacing import Bucket, take_token

_ATTEMPTS = 8


class DynamoPacer:
    def __init__(self, table: Table) -> None:
        self._table = table

    def take(self, bucket: str, per_second: float, burst: float, now: float, *, wait: bool = True) -> float:
        for _ in range(_ATTEMPTS):
            current = self._read(bucket)
            after, delay = take_token(current, per_second, burst, now, wait=wait)
            if self._write(bucket, current, after):
                return delay
        raise StoreUnavailable("the send-rate bucket is too contended")

    def hold(self, bucket: str, until: float) -> None:
        self._table.update(
            keys.pace_bucket(bucket),
            UpdateExpression="SET held_until = :u",
            ConditionExpression="attribute_not_exists(held_until) OR held_until < :u",
            ExpressionAttributeValues=to_item({":u": str(until)}),
        )

    def _read(self, bucket: str) -> Bucket | None:
        item = self._table.get(keys.pace_bucket(bucket), consistent=True)
        if item is None or "tokens" not in item:
            held = float(item["held_until"]) if item and "held_until" in item else 0.0
            return None if not held else Bucket(tokens=0.0, at=0.0, held_until=held)
        return Bucket(float(item["tokens"]), float(item["at"]), float(item.get("held_until") or 0.0))

    def _write(self, bucket: str, before: Bucket | None, after: Bucket) -> bool:
        # Numbers travel as strings: a float's repr round-trips exactly, DynamoDB's Decimal would not.
        values = {":t": repr(float(after.tokens)), ":a": repr(float(after.at))}
        if before is None or before.at == 0.0:
            condition = "attribute_not_exists(#a)"
        else:
            condition = "#a = :old"
            values[":old"] = repr(float(before.at))
            values[":ot"] = repr(float(before.tokens))
            condition += " AND tokens = :ot"
        return self._table.update(
            keys.pace_bucket(bucket),
            UpdateExpression="SET tokens = :t, #a = :a",
            ConditionExpression=condition,
            ExpressionAttributeNames={"#a": "at"},
            ExpressionAttributeValues=to_item(values),
        )
