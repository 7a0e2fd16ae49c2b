"""Listing a customer's conversations, oldest first: the same paging for the table and its twin.

The customer's conversation ids are one query (or one list); each conversation is then read and
filtered, and the signed cursor carries the position reached.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.adapters.cursors import CursorCodec, whole_number
from chalicelib.core.model import Conversation, ConversationStatus
from chalicelib.core.records import Page

MAX_PAGE = 200
MAX_CUSTOMER_CONVERSATIONS = 100_000


def customer_listing(
    customer_id: str,
    ids: list[str],
    get: Callable[[str], Conversation | None],
    *,
    status: ConversationStatus | None,
    route: str | None,
    limit: int,
    cursor: str | None,
    cursors: CursorCodec,
) -> Page:
    query = f"customer={customer_id}&status={status or ''}&route={route or ''}"
    start = (
        whole_number(cursors.decode(query, cursor), "offset", low=0, high=MAX_CUSTOMER_CONVERSATIONS) if cursor else 0
    )
    found: list[dict[str, Any]] = []
    position = start
    for position, conversation_id in enumerate(ids[start:], start):  # noqa: B007
        conversation = get(conversation_id)
        if conversation is None:
            continue
        if status and conversation.status is not status:
            continue
        if route and conversation.route != route:
            continue
        found.append(conversation.to_api())
        if len(found) == limit:
            break
    more = position + 1 < len(ids) and len(found) == limit
    return Page(found, cursors.encode(query, {"offset": position + 1}) if more else None)
