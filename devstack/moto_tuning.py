"""The dev stack's setup of moto: a send's cost that does not grow with the queue's depth, and a
bounded local retention for the queues nobody consumes locally.

Where moto 5.2's SQS send cost grows (profiled: ``python -m cProfile`` of ``send_message`` at depths
0, 150 and 1,000): every FIFO send reads ``Queue.attributes`` four times (twice in
``_validate_message``, once in ``send_message``, once in ``add_message``) only to look at
``ContentBasedDeduplication``, and that property computes every attribute, including the three
``ApproximateNumberOfMessages*`` counts — each a pass over all the queue's messages with two or
four datetime conversions per message. So a send costs O(depth): 2 ms at depth 0, 18 ms at 150
and 75 ms at 1,000 for a FIFO queue (1, 4 and 47 ms for a standard one) on the development
machine. :func:`tune_moto` answers those four reads with the one attribute they look at; every
other reader (GetQueueAttributes, ``./hub queues``) still gets the full, exact attributes. What
is left per send is moto's deduplication scan (a plain attribute comparison per message of a
FIFO queue, ~50 ns each), which :func:`trim_unconsumed` bounds.

The same holds for DynamoDB: moto 5.2's ``Table.query`` on the base table starts from
``self.all_items()``, a sorted list of every item of the table, then keeps the partition asked for:
O(table · log table) per Query, so the worker's one Query per message (the customer's
conversations) grew with everything the stack ever stored (18 ms with ~1,000 items in the table,
hundreds with tens of thousands). :func:`tune_moto` hands that one caller the queried partition's
items only (the query sorts them by range key itself); index queries and scans are unchanged.

And for transactions: moto 5.2's ``transact_write_items`` deep-copies the whole table once per write
of the transaction, to roll back if one fails: O(table) time and memory per transaction, so a
broadcast's status callback (one TransactWriteItems: the message's status and the update's counter)
took seconds on a table of a few thousand items. :func:`tune_moto` keeps a copy of the items the
transaction names instead (and of the stream's length), and puts them back when it fails.

Upstream (moto): ``Table.query`` without an index should read ``self.items[hash_key]``;
``transact_write_items`` should back up the items it writes, not the tables;
``SQSBackend._validate_message``, ``SQSBackend.send_message`` and
``Queue.add_message`` should read ``queue.content_based_deduplication`` instead of building
``queue.attributes``; the approximate counts could be kept as counters; and the FIFO
deduplication scan could be a dict of deduplication id → sent time.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

# Locally nobody consumes the route queues (agents' desktops would): keep at most this many messages
# per such queue, the oldest dropped first. 0 keeps everything (moto's own behaviour).
RETENTION_SETTING = "OMNIHUB_LOCAL_QUEUE_RETENTION"
DEFAULT_RETENTION = 1000
# moto's functions that read Queue.attributes only for ContentBasedDeduplication
_DEDUPLICATION_READERS = frozenset({"_validate_message", "send_message", "add_message"})
_lock = threading.Lock()
_tuned = False


def tune_moto() -> None:
    """Make moto's SQS send path independent of queue depth (idempotent; process-wide)."""
    global _tuned
    with _lock:
        if _tuned:
            return
        from moto.sqs.models import Queue

        full: Callable[[Any], dict[str, Any]] = Queue.attributes.fget  # type: ignore[attr-defined]

        def attributes(queue: Any) -> dict[str, Any]:
            caller = sys._getframe(1).f_code  # the one reader to answer cheaply
            if caller.co_name in _DEDUPLICATION_READERS and caller.co_filename.endswith(("sqs/models.py",)):
                return {"ContentBasedDeduplication": str(bool(queue.content_based_deduplication)).lower()}
            return full(queue)

        Queue.attributes = property(attributes)  # type: ignore[method-assign,assignment]
        _tune_table_query()
        _tune_transactions()
        _tuned = True


def _tune_table_query() -> None:
    from moto.dynamodb.models.table import Table

    every_item: Callable[[Any], list[Any]] = Table.all_items

    def all_items(table: Any) -> list[Any]:
        caller = sys._getframe(1)  # Table.query on the base table: only the asked partition matters
        if caller.f_code.co_name == "query" and caller.f_code.co_filename.endswith("dynamodb/models/table.py"):
            hash_key, index_name = caller.f_locals.get("hash_key"), caller.f_locals.get("index_name")
            if index_name is None and hash_key is not None and table.range_key_attr:
                return list(table.items.get(hash_key, {}).values())
        return every_item(table)

    Table.all_items = all_items  # type: ignore[method-assign,assignment]


def _tune_transactions() -> None:
    import copy as real_copy

    from moto.dynamodb import models
    from moto.dynamodb.models.table import Table

    class _NoTableCopy:
        """``copy`` as moto.dynamodb.models sees it: a table "copied" for a rollback is the table itself."""

        def __getattr__(self, name: str) -> Any:
            return getattr(real_copy, name)

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else real_copy.deepcopy(value, memo)

    models.copy = _NoTableCopy()  # type: ignore[assignment]
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


def retention(environ: dict[str, str] | None = None) -> int:
    raw = (environ if environ is not None else os.environ).get(RETENTION_SETTING, "")
    try:
        return max(0, int(raw)) if raw.strip() else DEFAULT_RETENTION
    except ValueError:
        return DEFAULT_RETENTION


def trim_unconsumed(queue_names: Iterable[str], keep: int) -> int:
    """Drop the oldest messages of these (in-process moto) queues beyond ``keep`` each; returns how many.

    Only for queues nothing consumes locally: a dropped message is one no local reader would take."""
    if keep <= 0:
        return 0
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    dropped = 0
    backend = sqs_backends[DEFAULT_ACCOUNT_ID][os.environ.get("AWS_DEFAULT_REGION", "us-east-1")]
    for name in queue_names:
        queue = backend.queues.get(name)
        if queue is None or len(queue._messages) <= keep:
            continue
        with queue._messages_lock:  # moto's own lock around its message list
            excess = len(queue._messages) - keep
            if excess > 0:
                del queue._messages[:excess]
                dropped += excess
    return dropped
