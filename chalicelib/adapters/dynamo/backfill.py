"""One-off migrations of the single table: ``./hub backfill customers``.

Customer profiles written before ``gsi_customers`` existed lack its attributes (``cust_pk``,
``cust_sk``), so the broadcast planner, which pages that index, never sees them. The backfill pages
the table with a Scan (the one place production code scans: an operator's one-off migration, never a
request path), filtered to profiles without the attributes, and sets them on each with a conditional
UpdateItem:

- idempotent: the condition ``attribute_not_exists(cust_pk)`` never rewrites a profile that has them
  (written since by the hub, or by an earlier run), so running it twice, or beside a live hub, is safe;
- resumable: after each page the Scan's cursor is saved on a checkpoint item
  (``keys.migration("customers-index")``); a run that stopped (killed, throttled, out of time) continues from
  there, and a finished run leaves the cursor empty so the next one starts from the beginning.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.table import Table, from_item, to_item
from chalicelib.core.timestamps import utc_now

CUSTOMERS_INDEX_MIGRATION = "customers-index"


@dataclass(frozen=True, slots=True)
class BackfillReport:
    pages: int
    scanned: int  # profiles without the index's attributes the pages held
    fixed: int  # profiles this run gave them
    unfixable: int  # profiles without a created_at or id (left as they are: no place in the index's order)
    finished: bool  # False: stopped by max_pages; run again to continue
    cursor: str | None  # where the next run starts (None: the beginning)


def backfill_customers_index(
    table: Table, *, page_size: int = 100, max_pages: int | None = None, restart: bool = False,
    on_page: Callable[[BackfillReport], None] | None = None,
) -> BackfillReport:
    """Give every customer profile the ``gsi_customers`` attributes it lacks, a page at a time."""
    checkpoint = keys.migration(CUSTOMERS_INDEX_MIGRATION)
    saved = None if restart else table.get(checkpoint, consistent=True)
    cursor: str | None = (saved or {}).get("cursor") or None
    pages = scanned = fixed = unfixable = 0
    while max_pages is None or pages < max_pages:
        kwargs: dict[str, Any] = {
            "Limit": page_size,
            "FilterExpression": "sk = :profile AND begins_with(pk, :customer) AND attribute_not_exists(cust_pk)",
            "ExpressionAttributeValues": to_item({":profile": keys.SortKey.PROFILE.value,
                                                  ":customer": keys.Prefix.CUSTOMER.value}),
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = json.loads(cursor)
        response = table.call("scan", **kwargs)
        for raw in response.get("Items", []):
            item = from_item(raw)
            scanned += 1
            created_at, customer_id = item.get("created_at"), item.get("id")
            if not created_at or not customer_id:
                unfixable += 1
                continue
            fixed += table.update(
                {"pk": item["pk"], "sk": item["sk"]},
                UpdateExpression="SET cust_pk = :p, cust_sk = :s",
                ConditionExpression="attribute_exists(pk) AND attribute_not_exists(cust_pk)",
                ExpressionAttributeValues=to_item({":p": keys.CUSTOMERS_INDEX_PARTITION,
                                                   ":s": keys.customers_index(str(created_at), str(customer_id))[
                                                       "cust_sk"]}),
            )
        last = response.get("LastEvaluatedKey")
        cursor = json.dumps(last, sort_keys=True) if last else None
        pages += 1
        _save(table, checkpoint, cursor)
        report = BackfillReport(pages, scanned, fixed, unfixable, cursor is None, cursor)
        if on_page is not None:
            on_page(report)
        if cursor is None:
            return report
    return BackfillReport(pages, scanned, fixed, unfixable, False, cursor)


def _save(table: Table, checkpoint: keys.Key, cursor: str | None) -> None:
    table.call("put_item", Item=to_item({**checkpoint, "type": "migration", "cursor": cursor or "",
                                         "updated_at": utc_now(), "completed_at": None if cursor else utc_now()}))
