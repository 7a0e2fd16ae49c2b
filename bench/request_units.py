"""DynamoDB request units of one API call: what moto reports, and what DynamoDB's rules would charge.

moto answers ``ReturnConsumedCapacity=TOTAL`` with flat figures per operation (PutItem 1,
GetItem 0.5 whatever the consistency, UpdateItem 0.5, Query 1, BatchGetItem 1 per key), never by
item size. So the benchmark shows both: moto's own figure and an estimate by the on-demand rules:

- a read is one 4 KB unit, 1 RRU strongly consistent, 0.5 eventually consistent (a miss still
  costs its one unit; a Query is priced on the summed size of what it returns);
- a write is one 1 KB unit (1 WRU), whether its condition held or not; an UpdateItem whose new
  image is not asked for is counted as the 1 KB the hub's small items are; a transaction costs
  twice its writes;
- the writes a global secondary index replicates are not counted (the base table only).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

READ_UNIT_BYTES = 4096
WRITE_UNIT_BYTES = 1024
# operations that accept ReturnConsumedCapacity (the benchmark asks each for TOTAL)
WITH_CONSUMED_CAPACITY = frozenset({
    "GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem",
    "TransactGetItems", "TransactWriteItems",
})


def _value_size(value: Mapping[str, Any]) -> int:
    (kind, inner), = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return (len(str(inner).lstrip("-").replace(".", "")) + 1) // 2 + 1
    if kind == "B":
        return len(inner) if isinstance(inner, bytes | bytearray) else len(str(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + item_size(inner)
    if kind == "L":
        return 3 + sum(1 + _value_size(v) for v in inner)
    if kind in ("SS", "NS", "BS"):
        return sum(_value_size({kind[0]: v}) for v in inner)
    return 0


def item_size(item: Mapping[str, Any] | None) -> int:
    """An item's size as DynamoDB counts it: attribute names plus values (wire format, type-tagged)."""
    return sum(len(name.encode()) + _value_size(value) for name, value in (item or {}).items())


def _read_units(size: int, consistent: bool) -> float:
    return max(1, math.ceil(size / READ_UNIT_BYTES)) * (1.0 if consistent else 0.5)


def _write_units(size: int) -> float:
    return float(max(1, math.ceil(size / WRITE_UNIT_BYTES)))


def estimated_units(operation: str, params: Mapping[str, Any], response: Mapping[str, Any]) -> tuple[float, float]:
    """(read units, write units) of one call by DynamoDB's on-demand rules (see the module's text)."""
    consistent = bool(params.get("ConsistentRead"))
    if operation == "GetItem":
        return _read_units(item_size(response.get("Item")), consistent), 0.0
    if operation in ("Query", "Scan"):
        return _read_units(sum(item_size(i) for i in response.get("Items", [])), consistent), 0.0
    if operation == "BatchGetItem":
        units = 0.0
        for table, request in params.get("RequestItems", {}).items():
            found = response.get("Responses", {}).get(table, [])
            strong = bool(request.get("ConsistentRead"))
            units += sum(_read_units(item_size(i), strong) for i in found)
            units += (len(request.get("Keys", [])) - len(found)) * _read_units(0, strong)
        return units, 0.0
    if operation == "PutItem":
        return 0.0, _write_units(item_size(params.get("Item")))
    if operation == "UpdateItem":
        return 0.0, _write_units(item_size(response.get("Attributes")))
    if operation == "DeleteItem":
        return 0.0, 1.0
    if operation == "BatchWriteItem":
        writes = [w for ws in params.get("RequestItems", {}).values() for w in ws]
        return 0.0, sum(_write_units(item_size(w.get("PutRequest", {}).get("Item"))) for w in writes)
    if operation == "TransactWriteItems":
        return 0.0, 2.0 * len(params.get("TransactItems", []))
    return 0.0, 0.0


def reported_units(response: Mapping[str, Any]) -> float:
    """The capacity units moto reported for a call asked ``ReturnConsumedCapacity=TOTAL``."""
    consumed = response.get("ConsumedCapacity")
    entries = consumed if isinstance(consumed, list) else [consumed] if consumed else []
    return float(sum(float(entry.get("CapacityUnits", 0)) for entry in entries))
