"""``./hub renormalize --provider P --since T``: normalize a provider's archived raw payloads again.

  ./hub renormalize --provider twilio --since 2026-12-01            after a parser fix
  ./hub renormalize --provider meta --since 2026-12-07T08:00:00Z --dry-run

Reads the inbox items of provider P received since T from the table of stage OMNIHUB_STAGE (default
local) at AWS_ENDPOINT_URL (default the embedded AWS, http://127.0.0.1:4566; unset it with
``AWS_ENDPOINT_URL=`` to run against AWS with your credentials), parses each raw payload with the
current parser and rewrites the events and messages that changed, in place (chalicelib/ingest/renormalize.py).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from chalicelib.core.timestamps import normalize_timestamp
from chalicelib.providers.registry import REGISTRY
from devstack.local_aws import apply_local_aws_defaults


def add_renormalize_parser(commands: Any) -> None:
    command = commands.add_parser("renormalize", help="parse a provider's stored raw payloads again "
                                  "(after a parser fix) and update the events and messages in place")
    command.add_argument("--provider", required=True, choices=sorted(e.name for e in REGISTRY if e.webhooks))
    command.add_argument("--since", required=True, help="ISO-8601 date or time (UTC unless an offset is given)")
    command.add_argument("--dry-run", action="store_true", help="count what would change, write nothing")
    command.set_defaults(func=cmd_renormalize)


def cmd_renormalize(args: argparse.Namespace) -> int:
    try:
        since = normalize_timestamp(args.since if "T" in args.since else args.since + "T00:00:00Z")
    except ValueError:
        print(f"hub renormalize: --since {args.since!r} is not an ISO-8601 date or time", file=sys.stderr)
        return 2
    apply_local_aws_defaults()
    from chalicelib.adapters import runtime
    from chalicelib.adapters.dynamo.raw_archive import DynamoRawArchive
    from chalicelib.adapters.s3 import S3PayloadArchive
    from chalicelib.ingest.renormalize import renormalize

    settings = runtime.settings()
    archive = DynamoRawArchive(runtime.table(), payloads=S3PayloadArchive(runtime.aws_client("s3"),
                                                                           settings.bucket_name))
    report = renormalize(args.provider, since, archive, dry_run=args.dry_run)
    print(("dry run: " if args.dry_run else "") + report.summary())
    return 0
