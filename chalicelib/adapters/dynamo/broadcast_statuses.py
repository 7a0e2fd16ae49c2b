"""A broadcast message's delivery status and its update's progress counters, moved together.

A crisis broadcast's outbound message names its incident update (``broadcast_incident``,
``broadcast_update``, written with the message). When a status callback, a watermark or the outbound
worker's permanent failure moves it to delivered, read or failed, the update's counters move in the
same TransactWriteItems as the message's status, on the condition that the status is still the one
read: a redelivered callback finds the status already there and counts nothing, a racing one reads
again, and no crash can fall between the two writes. Only broadcast messages take this path (their
provider id's pointer item says ``broadcast``); every other status change stays one conditional
UpdateItem (see :class:`DynamoMessages`).
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.crisis import counter_attribute
from chalicelib.adapters.dynamo.table import Table, to_item
from chalicelib.core.incident import delivery_moves
from chalicelib.core.model import DeliveryStatus
from chalicelib.core.timestamps import utc_now

_ATTEMPTS = 3  # racing callbacks of one message: the loser reads again
_CONDITION_FAILED = "ConditionalCheckFailed"


def advance_broadcast_status(table: Table, key: keys.Key, status: DeliveryStatus, error_code: str | None) -> bool:
    """Move a broadcast message to ``status`` if :meth:`DeliveryStatus.can_become` allows, counting it
    on its update's progress once; False when it is gone or the status is not newer."""
    for _ in range(_ATTEMPTS):
        item = table.get(key, consistent=True)
        if item is None:
            return False
        old = DeliveryStatus(item.get("status") or DeliveryStatus.QUEUED.value)
        if not old.can_become(status):
            return False
        message = _status_write(old if "status" in item else None, status, error_code)
        named = bool(item.get("broadcast_incident") and item.get("broadcast_update"))
        moves = delivery_moves(old, status) if named else {}
        if not moves:  # delivered → read (or a message naming no update): it moves, no counter does
            if table.update(key, **message):
                return True
            continue
        counters = _counter_write(item, moves)
        codes = table.transact([("Update", {"Key": to_item(key), **message}), ("Update", counters)])
        if codes is None:
            return True
        if codes[0] == _CONDITION_FAILED:
            continue  # another callback moved it meanwhile: read again
        if table.update(key, **message):  # the update item is gone: the message's status still moves
            return True
    return False


def _status_write(old: DeliveryStatus | None, status: DeliveryStatus, error_code: str | None) -> dict[str, Any]:
    values: dict[str, Any] = {":s": status.value, ":r": status.rank, ":t": utc_now()}
    update = "SET #s = :s, status_rank = :r, status_at = :t"
    if error_code:
        update += ", error_code = :e"
        values[":e"] = error_code
    if old is None:
        condition = "attribute_exists(pk) AND attribute_not_exists(#s)"
    else:
        condition = "attribute_exists(pk) AND #s = :old"
        values[":old"] = old.value
    return {"UpdateExpression": update, "ConditionExpression": condition,
            "ExpressionAttributeNames": {"#s": "status"}, "ExpressionAttributeValues": to_item(values)}


def _counter_write(item: dict[str, Any], moves: dict[str, int]) -> dict[str, Any]:
    channel = str(item.get("channel") or "none")
    names = {f"#c{i}": counter_attribute(counter, channel) for i, counter in enumerate(moves)}
    values = {f":c{i}": delta for i, delta in enumerate(moves.values())}
    return {
        "Key": to_item(keys.incident_update(str(item["broadcast_incident"]), str(item["broadcast_update"]))),
        "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(moves))),
        "ConditionExpression": "attribute_exists(pk)",  # never a stray item for an update that is gone
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": to_item(values),
    }
