"""DynamoDB's limits on one item, the one place the hub knows them.

A batch of provider events is checked against them before its first event is stored: a request the
table would refuse part-way (a later event too large, an id too long for a key) is refused whole,
so a refused request leaves nothing behind.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from chalicelib.core.errors import PayloadTooLarge
from chalicelib.core.model import InboundEvent

ITEM_LIMIT_BYTES = 400 * 1024  # one item, attribute names and values together
PARTITION_KEY_MAX_BYTES = 2048
SORT_KEY_MAX_BYTES = 1024
# What an inbox item holds besides its event's JSON when its raw body is archived in S3: keys,
# index keys, endpoint, times, the S3 pointer, a carried acknowledgment (all bounded, a few KB).
INBOX_ITEM_OVERHEAD_BYTES = 16 * 1024
INBOX_KEY_PREFIX_BYTES = 16  # the inbox partition key's prefix (adapters/dynamo/keys.py), with room to spare


def utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def event_json_size(event: InboundEvent) -> int:
    return utf8_size(json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False))


def check_inbox_events(events: Sequence[InboundEvent]) -> None:
    """Raise PayloadTooLarge when any event of the batch could not be stored as an inbox item,
    whether its raw body is inline (the inline limit keeps body and event together under the item
    limit) or archived (the event's JSON alone must fit)."""
    for event in events:
        if utf8_size(event.inbox_key) + INBOX_KEY_PREFIX_BYTES > PARTITION_KEY_MAX_BYTES:
            raise PayloadTooLarge("an event id is too long to store")
        if event_json_size(event) + INBOX_ITEM_OVERHEAD_BYTES > ITEM_LIMIT_BYTES:
            raise PayloadTooLarge("the event is too large to store")
