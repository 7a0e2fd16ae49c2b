"""KPI aggregates on the single table: a counter item per business day × dimension, updated with ADD.

Each event is counted once: one transaction puts the event's marker (conditional: absent) and adds
its counts to the item of every dimension, so a redelivered or retried event changes nothing and a
crash between the marker and the counts cannot happen. Reading a period is one query per dimension
kind (sort keys of day and value between the first and the last day; see keys.py): never a scan,
and its cost grows with the days and values, not with the conversations.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws_errors import aws_error_code, log_aws_failure
from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.table import Table, to_item
from chalicelib.core.errors import StoreUnavailable
from chalicelib.core.kpi_record import KpiCounts, KpiDimension

MARKER_RETENTION_DAYS = 400  # longer than a conversation waits for its first response
_ITEM_ATTRIBUTES = frozenset({"pk", "sk", "day", "dimension", "value"})


class DynamoKpis:
    def __init__(self, table: Table, *, marker_retention_days: int = MARKER_RETENTION_DAYS) -> None:
        self._table = table
        self._retention_seconds = marker_retention_days * 86400

    def record(self, event_key: str, day: str, dimensions: Sequence[KpiDimension], counts: KpiCounts) -> bool:
        additions = {name: int(value) for name, value in counts.items() if int(value)}
        names = {f"#n{i}": name for i, name in enumerate(additions)}
        values = {f":v{i}": value for i, value in enumerate(additions.values())}
        marker = {**keys.kpi_event(event_key), "expires_at": int(time.time()) + self._retention_seconds}
        items: list[dict[str, Any]] = [{"Put": {
            "TableName": self._table.name, "Item": to_item(marker), "ConditionExpression": "attribute_not_exists(pk)",
        }}]
        for dimension in dimensions if additions else ():
            items.append({"Update": {
                "TableName": self._table.name,
                "Key": to_item(keys.kpi(dimension.kind, day, dimension.value)),
                "UpdateExpression": "SET #day = :day, #dim = :dim, #val = :val ADD "
                + ", ".join(f"{placeholder} :v{i}" for i, placeholder in enumerate(names)),
                "ExpressionAttributeNames": {**names, "#day": "day", "#dim": "dimension", "#val": "value"},
                "ExpressionAttributeValues": to_item(
                    {**values, ":day": day, ":dim": dimension.kind, ":val": dimension.value}
                ),
            }})
        try:
            self._table.client.transact_write_items(TransactItems=items)
        except ClientError as err:
            if _marker_existed(err):
                return False
            log_aws_failure("dynamodb", "transact_write_items", err)
            raise StoreUnavailable("the store is unavailable (transact_write_items)") from err
        except BotoCoreError as err:
            log_aws_failure("dynamodb", "transact_write_items", err)
            raise StoreUnavailable("the store is unavailable (transact_write_items)") from err
        return True

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


def _marker_existed(err: ClientError) -> bool:
    """The transaction was cancelled by the marker's condition alone: the event was counted before."""
    if aws_error_code(err) != "TransactionCanceledException":
        return False
    reasons = err.response.get("CancellationReasons") or []
    codes = [str(reason.get("Code") or "None") for reason in reasons]
    if codes:
        return codes[0] == "ConditionalCheckFailed" and all(code in ("None", "") for code in codes[1:])
    return "ConditionalCheckFailed" in str(err.response.get("Error", {}).get("Message", ""))
