"""The single DynamoDB table: one repository per aggregate over one :class:`Table`.

Key formats live in :mod:`chalicelib.adapters.dynamo.keys` and nowhere else; stream images are
read only by :mod:`chalicelib.adapters.dynamo.stream`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.adapters.cursors import CursorCodec
from chalicelib.adapters.dynamo.calls import DynamoCalls
from chalicelib.adapters.dynamo.claims import DynamoDeliveryClaims, DynamoExpiringClaims, DynamoIdempotencyKeys
from chalicelib.adapters.dynamo.conversations import DynamoConversations
from chalicelib.adapters.dynamo.customers import DynamoCustomers
from chalicelib.adapters.dynamo.feedback import DynamoFeedback
from chalicelib.adapters.dynamo.inbox import DynamoInbox
from chalicelib.adapters.dynamo.kpis import DynamoKpis
from chalicelib.adapters.dynamo.mail_threads import DynamoMailThreads
from chalicelib.adapters.dynamo.messages import DynamoMessages
from chalicelib.adapters.dynamo.references import DynamoReferences
from chalicelib.adapters.dynamo.table import Table
from chalicelib.core.errors import StoreUnavailable
from chalicelib.core.ports import MediaStore, PayloadArchive, Repositories


def dynamo_repositories(
    client: Any,
    table_name: str,
    *,
    payloads: PayloadArchive | None = None,
    media: MediaStore | None = None,
    inline_payload_limit: int = 256 * 1024,
    retention_days: int = 30,
    cursor_key: Callable[[], bytes] | None = None,
) -> Repositories:
    """``cursor_key`` signs listing cursors; read only when a listing pages (a deployment secret)."""
    table = Table(client, table_name)
    return Repositories(
        inbox=DynamoInbox(
            table, payloads=payloads, inline_payload_limit=inline_payload_limit, retention_days=retention_days
        ),
        customers=DynamoCustomers(table),
        references=DynamoReferences(table),
        conversations=DynamoConversations(table, CursorCodec(cursor_key or _no_cursor_key)),
        messages=DynamoMessages(table, retention_days=retention_days),
        deliveries=DynamoDeliveryClaims(table, retention_days=retention_days),
        idempotency=DynamoIdempotencyKeys(table, retention_days=retention_days),
        feedback=DynamoFeedback(table),
        kpis=DynamoKpis(table),
        calls=DynamoCalls(table, retention_days=retention_days),
        mail_threads=DynamoMailThreads(table),
        media=media,
        claims=DynamoExpiringClaims(table),
    )


def _no_cursor_key() -> bytes:
    raise StoreUnavailable("no key to sign listing cursors is configured")


__all__ = ["Table", "dynamo_repositories"]
