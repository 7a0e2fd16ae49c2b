"""KPI aggregates on the single table: a counter item per business day × dimension, updated with ADD.

Each event is counted once per event key: a conditional put of the event's marker (absent) comes
first, then one ``ADD`` per dimension item. A redelivered or retried event finds its marker and
changes nothing. The one window is a crash between the marker and the counter updates: that event
is then under-counted (never counted twice). Transactions would close it, but a transaction costs
twice the writes on DynamoDB and, on the embedded AWS, copies the whole table on every call (and a
cancelled one replaces it, losing the stream's readers).

Reading a period is one query per dimension kind (sort keys of day and value between the first and
the last day; see keys.py): never a scan, and its cost grows with the days and values, not with
the conversations.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.table import Table, to_item
from chalicelib.core.kpi_record import KpiCounts, KpiDimension

MARKER_RETENTION_DAYS = 400  # longer than a conversation waits for its first response
# Not counters: the key, and the copies of the key's kind, day and value that items written before
# 2026-12-07 also carry (the key is the one place that says them; read from it).
_ITEM_ATTRIBUTES = frozenset({"pk", "sk", "day", "dimension", "value"})


class DynamoKpis:
    def __init__(self, table: Table, *, marker_retention_days: int = MARKER_RETENTION_DAYS) -> None:
        self._table = table
        self._retention_seconds = marker_retention_days * 86400

    def record(self, event_key: str, day: str, dimensions: Sequence[KpiDimension], counts: KpiCounts) -> bool:
        marker = {**keys.kpi_event(event_key), "expires_at": int(time.time()) + self._retention_seconds}
        if not self._table.put_if_absent(marker):
            return False
        additions = {name: int(value) for name, value in counts.items() if int(value)}
        names = {f"#n{i}": name for i, name in enumerate(additions)}
        values = to_item({f":v{i}": value for i, value in enumerate(additions.values())})
        expression = "ADD " + ", ".join(f"{placeholder} :v{i}" for i, placeholder in enumerate(names))
        for dimension in dimensions if additions else ():
            self._table.call(
                "update_item",
                Key=to_item(keys.kpi(dimension.kind, day, dimension.value)),
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        return True

    def counted(self, event_key: str) -> bool:
        return self._table.get(keys.kpi_event(event_key), consistent=True) is not None

    def read(self, dimension_kind: str, first_day: str, last_day: str) -> list[tuple[str, str, KpiCounts]]:
        low, high = keys.kpi_day_range(first_day, last_day)
        found: list[tuple[str, str, KpiCounts]] = []
        for item in self._table.query(
            KeyConditionExpression="pk = :p AND sk BETWEEN :low AND :high",
            ExpressionAttributeValues=to_item({":p": keys.kpi_partition(dimension_kind), ":low": low, ":high": high}),
        ):
            day, value = keys.kpi_day_and_value(str(item["sk"]))
            found.append((day, value, {k: int(v) for k, v in item.items() if k not in _ITEM_ATTRIBUTES}))
        return found

