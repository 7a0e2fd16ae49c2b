"""The dev stack's setup of moto's DynamoDB: what an operation costs, never what it answers.

Profiled on a 1,000-webhook burst through ``make run`` (py-spy) and on the pump draining 200 new
customers in process (cProfile), moto 5.2 spent its time where the table's work did not grow:

- ``Table.query`` on the base table starts from ``self.all_items()``, a sorted list of every item
  of the table, then keeps the partition asked for: O(table · log table) per Query, so the worker's
  one Query per message (the customer's conversations) grew with everything the stack ever stored
  (18 ms with ~1,000 items, hundreds with tens of thousands). That one caller now gets the queried
  partition's items only (the query sorts them by range key itself). An index query read the same
  sorted list of every item, then sorted its matches again by the index's keys and the table's (a
  total order): it now reads the items unsorted, O(table) instead of O(table · log table) with
  DynamoDB-typed comparisons — the SLA sweeper's index query took a third of the soak's time at
  15,000 conversations. Scans are unchanged.
- ``transact_write_items`` deep-copies the whole table once per write of the transaction, to roll
  back if one fails: O(table) time and memory per transaction (a broadcast's status callback took
  seconds on a table of a few thousand items). A copy of the items the transaction names is kept
  instead (and the stream's length), and put back when it fails.
- Every UpdateItem tokenizes and parses its expression, deep-copies the tree and walks it ten times
  to validate it: devstack/moto_expression_tuning.py.
- Every UpdateItem deep-copies the item twice before changing it, and reads each copy only as JSON
  (the answer's comparison, the stream record's old image): each copy is now that JSON, taken at
  the same moment (the copies were a quarter of a KPI counter's update, 58 attributes).
- A new item is built one attribute at a time, each re-measuring the whole item against the 400 KB
  limit: O(n²) per PutItem. It is measured once, with the same limit and error.
- The answers of the item operations (GetItem, PutItem, UpdateItem, Query, ...) went through moto's
  generic serializer, which walks every attribute value against the output shape: 18 % of the pump's
  time. Their results are already the wire's JSON, so they are written with ``json.dumps`` (binary
  values base64, as the serializer writes a blob); errors and every other operation keep the
  serializer. A test compares both writers' answers operation by operation.

With the stream already read in process (devstack/embedded_streams.py) and moto's receive tuned
(devstack/moto_tuning.py), these and the dispatch cache took the pump from 57 to 41 ms per new
customer's message (200 of them drained in process, no API beside it).

Upstream (moto): ``Table.query`` without an index should read ``self.items[hash_key]``;
``transact_write_items`` should back up the items it writes, not the tables; ``LimitedSizeDict``
could keep its size; parsed update expressions could be cached (the validator already works on a
copy); and the JSON serializer could skip the shape walk for members that are already wire JSON.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from devstack.moto_expression_tuning import tune_update_expressions

moto_serialize_result: Callable[..., Any] | None = None  # moto's own writer, once the answers are tuned


def tune_dynamodb() -> None:
    """Apply every DynamoDB tuning (called once, by devstack.moto_tuning.tune_moto)."""
    _tune_table_query()
    _tune_transactions()
    tune_update_expressions()
    _tune_item_size_check()
    _tune_item_answers()
    _tune_copies()


def _tune_item_size_check() -> None:
    """An item of n attributes is built one attribute at a time, each re-measuring the whole item
    against DynamoDB's 400 KB (``LimitedSizeDict.__setitem__``): O(n²) per PutItem. A new item is
    measured once, with the same limit and error (the running sums only grow, so the last is the
    one that decides)."""
    from moto.dynamodb.exceptions import ItemSizeTooLarge
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.utilities import bytesize

    limit = 405000  # moto's own (between DynamoDB's 409 and 410 KB, measured)

    def item_init(item: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        item.hash_key = hash_key
        item.range_key = range_key
        converted = {key: dynamo_type.DynamoType(value) for key, value in attrs.items()}
        if sum(bytesize(key) + value.size() for key, value in converted.items()) > limit:
            raise ItemSizeTooLarge
        item.attrs = dynamo_type.LimitedSizeDict()
        dict.update(item.attrs, converted)  # later writes to the item are still checked one by one

    dynamo_type.Item.__init__ = item_init  # type: ignore[method-assign,assignment]


def _tune_table_query() -> None:
    from moto.dynamodb.models.table import Table

    every_item: Callable[[Any], list[Any]] = Table.all_items

    def all_items(table: Any) -> list[Any]:
        caller = sys._getframe(1)  # Table.query on the base table: only the asked partition matters
        if caller.f_code.co_name == "query" and caller.f_code.co_filename.endswith("dynamodb/models/table.py"):
            hash_key, index_name = caller.f_locals.get("hash_key"), caller.f_locals.get("index_name")
            if index_name is None and hash_key is not None and table.range_key_attr:
                return list(table.items.get(hash_key, {}).values())
            if index_name is not None:  # the query sorts its matches by the index's and the table's keys
                return _unsorted_items(table)
        return every_item(table)

    Table.all_items = all_items  # type: ignore[method-assign,assignment]


def _unsorted_items(table: Any) -> list[Any]:
    if not table.range_key_attr:
        return list(table.items.values())
    return [item for partition in table.items.values() for item in partition.values()]


def _tune_transactions() -> None:
    """A transaction keeps its own backup of the items it names; the table "copied" for its rollback is
    the table itself (``_TunedCopy``)."""
    from moto.dynamodb import models

    transact: Callable[..., Any] = models.DynamoDBBackend.transact_write_items

    def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> Any:
        saved = _named_items(backend, transact_items)
        try:
            return transact(backend, transact_items)
        except Exception:
            _put_back(backend, saved)
            raise

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign,assignment]


def _named_items(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, dict[str, Any], Any, int]]:
    """(table, key, a copy of the item or None, the stream's length) for each write of a transaction."""
    import copy

    saved = []
    for entry in transact_items:
        operation, parameters = next(iter(entry.items()))
        table = backend.tables.get(parameters.get("TableName"))
        if table is None or operation == "ConditionCheck":
            continue
        if operation == "Put":
            attributes = parameters.get("Item", {})
            key = {name: attributes[name] for name in (table.hash_key_attr, table.range_key_attr)
                   if name and name in attributes}
        else:
            key = parameters.get("Key", {})
        try:
            current = backend.get_item(table.name, key)
        except Exception:  # noqa: S112 - an invalid key: moto refuses that write, nothing to put back
            continue
        shard = table.stream_shard
        saved.append((table, key, copy.deepcopy(current), len(shard.items) if shard is not None else 0))
    return saved


def _put_back(backend: Any, saved: list[tuple[Any, dict[str, Any], Any, int]]) -> None:
    """Undo a failed transaction's writes: each named item as it was, the stream as long as it was."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    for table, key, item, stream_length in reversed(saved):
        hash_value, range_value = table.hash_key_attr, table.range_key_attr
        hash_key = DynamoType(key[hash_value])
        range_key = DynamoType(key[range_value]) if range_value and range_value in key else None
        if item is None:
            if backend.get_item(table.name, key) is not None:
                table.delete_item(hash_key, range_key)
        elif range_key is not None:
            table.items[hash_key][range_key] = item
        else:
            table.items[hash_key] = item
        if table.stream_shard is not None:
            del table.stream_shard.items[stream_length:]


# DynamoDB's operations whose answers are items: their results are already the wire's JSON
# (attribute values typed as DynamoDB sends them), which moto's generic serializer walks member by
# member against the output shape (18 % of the pump's time on a burst).
_ITEM_OPERATIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                              "BatchWriteItem", "TransactGetItems", "TransactWriteItems"})


def _tune_item_answers() -> None:
    """A successful answer of those operations is written with ``json.dumps`` of its output's members
    (nothing else present, no null); every other answer and every error keeps moto's serializer."""
    import json

    from moto.core.serialize import BaseJSONSerializer

    global moto_serialize_result
    serialize_result: Callable[..., Any] = BaseJSONSerializer._serialize_result
    moto_serialize_result = serialize_result  # kept for the test that compares both writers

    def _serialize_result(serializer: Any, resp: dict[str, Any], result: Any) -> Any:
        shape = serializer.operation_model.output_shape
        if (serializer.service_model.service_name != "dynamodb" or serializer.operation_name not in _ITEM_OPERATIONS
                or not isinstance(result, dict) or shape is None or serializer.pretty_print):
            return serialize_result(serializer, resp, result)
        body = {name: value for name, value in result.items() if name in shape.members and value is not None}
        resp["body"] = json.dumps(body, default=_blob)
        resp["headers"]["Content-Type"] = serializer._get_protocol_specific_content_type()
        return resp

    BaseJSONSerializer._serialize_result = _serialize_result  # type: ignore[method-assign,assignment]


def _blob(value: Any) -> str:
    """A binary attribute value, as the wire carries it (moto's serializer does the same for a blob)."""
    if isinstance(value, bytes | bytearray):
        import base64

        return base64.b64encode(value).decode()
    raise TypeError(f"not JSON: {type(value).__name__}")


class _ItemSnapshot:
    """An item as it was before an update, as moto's UpdateItem reads its copy: its key, for the stream
    record, and its JSON (``Item.to_json`` builds new containers all the way down, so the JSON taken
    before the update does not change with the item)."""

    __slots__ = ("_attributes", "hash_key", "range_key")

    def __init__(self, item: Any) -> None:
        self.hash_key, self.range_key = item.hash_key, item.range_key
        self._attributes = item.to_json()["Attributes"]

    def to_json(self, root_attr_name: str = "Attributes") -> dict[str, Any]:
        return {root_attr_name: self._attributes}


def _tune_copies() -> None:
    """``copy`` as moto's DynamoDB backend and handler see it (the transactions' and the updates' tunings)."""
    from moto.dynamodb import models, responses

    models.copy = _TunedCopy("dynamodb/models/__init__.py")  # type: ignore[assignment]
    responses.copy = _TunedCopy("dynamodb/responses.py")  # type: ignore[assignment]


class _TunedCopy:
    """The ``copy`` module as one of moto's DynamoDB modules sees it; every copy but two is moto's own:

    - a table deep-copied to roll a transaction back is the table itself: O(table) per transaction,
      and the transaction keeps a backup of the items it names instead (``_tune_transactions``);
    - an item UpdateItem deep-copies before changing it is its JSON, taken at that moment. UpdateItem
      copies the item twice (the handler, for the attributes the answer compares; the backend, for
      the stream record's old image) and reads each copy only as JSON: for an item of 58 attributes (a
      day's KPI counters) the copies were a quarter of an update, copies and JSON half."""

    def __init__(self, module_suffix: str) -> None:
        self._module_suffix = module_suffix  # the module whose ``update_item`` copies an item

    def __getattr__(self, name: str) -> Any:
        import copy

        return getattr(copy, name)

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        import copy

        from moto.dynamodb.models.dynamo_type import Item
        from moto.dynamodb.models.table import Table

        if isinstance(value, Table):
            return value
        if type(value) is Item:
            caller = sys._getframe(1).f_code
            if caller.co_name == "update_item" and caller.co_filename.endswith(self._module_suffix):
                return _ItemSnapshot(value)
        return copy.deepcopy(value, memo)
