"""``./hub backfill customers``: give customer profiles written before ``gsi_customers`` existed the
index's attributes, so crisis broadcasts and their dry runs reach them (a one-off migration).

  ./hub backfill customers                     the local stack's table (AWS_ENDPOINT_URL, OMNIHUB_STAGE)
  AWS_ENDPOINT_URL= OMNIHUB_STAGE=prod ./hub backfill customers --page-size 500   a deployed table on AWS

Idempotent (a profile that has the attributes is never rewritten) and resumable (the Scan's cursor is
saved after every page: run it again after an interruption and it continues; ``--restart`` starts over).
See :mod:`chalicelib.adapters.dynamo.backfill`.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from chalicelib.adapters import resources
from chalicelib.adapters.dynamo.backfill import BackfillReport, backfill_customers_index
from chalicelib.adapters.dynamo.table import Table
from chalicelib.core.errors import StoreUnavailable
from devstack.local_aws import local_aws_client


def add_backfill_parser(commands: Any) -> None:
    backfill = commands.add_parser("backfill", help="one-off migrations of the table (idempotent, resumable)")
    actions = backfill.add_subparsers(dest="backfill_command", required=True)
    customers = actions.add_parser("customers", help="give old customer profiles the gsi_customers attributes")
    customers.add_argument("--page-size", type=int, default=200, help="items read per Scan page (1-1000)")
    customers.add_argument("--max-pages", type=int, help="stop after N pages (run again to continue)")
    customers.add_argument("--restart", action="store_true", help="ignore the saved cursor, start from the top")
    customers.add_argument("--table", help="default: $OMNIHUB_TABLE, else the stage's table")
    customers.set_defaults(func=cmd_backfill_customers)


def _table(name: str | None) -> Table:
    client = local_aws_client("dynamodb")
    stage = os.environ.get("OMNIHUB_STAGE", "local")
    return Table(client, name or os.environ.get("OMNIHUB_TABLE") or resources.table_name(stage))


def cmd_backfill_customers(args: argparse.Namespace) -> int:
    if not 1 <= args.page_size <= 1000 or (args.max_pages is not None and args.max_pages < 1):
        print("--page-size must be 1-1000 and --max-pages at least 1")
        return 2
    table = _table(args.table)

    def progress(report: BackfillReport) -> None:
        print(f"page {report.pages}: {report.fixed} fixed of {report.scanned} without the index"
              f"{f', {report.unfixable} without created_at' if report.unfixable else ''}", flush=True)

    try:
        report = backfill_customers_index(table, page_size=args.page_size, max_pages=args.max_pages,
                                          restart=args.restart, on_page=progress)
    except StoreUnavailable as err:
        print(f"stopped: {err}; run it again to continue from the last saved page")
        return 1
    state = "done" if report.finished else "stopped before the end; run it again to continue"
    print(f"{table.name}: {report.fixed} profiles given the index in {report.pages} pages ({state})")
    return 0
