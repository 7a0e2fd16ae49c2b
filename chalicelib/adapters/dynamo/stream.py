"""Decoding the table's stream: which records are new inbox events and which carry an outbound job.

The relay knows queues, not item layouts: this module is the only reader of stream images.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.dynamo import keys

ERASED_AT = "erased_at"  # set on an inbox item by an erasure (chalicelib/adapters/dynamo/privacy.py)


@dataclass(frozen=True, slots=True)
class NewInboxEvent:
    inbox_key: str
    kind: str
    ordering_key: str
    needs_lookup: bool = False  # an UNKNOWN event the worker completes (an Instagram mention names only ids)


@dataclass(frozen=True, slots=True)
class NewOutboundJob:
    job_json: str


StreamChange = NewInboxEvent | NewOutboundJob


def decode_stream_record(record: Mapping[str, Any]) -> StreamChange | None:
    """What one stream record means for the relay; None for everything it must ignore."""
    event_name = record.get("eventName")
    if event_name not in ("INSERT", "MODIFY"):
        return None
    image = record.get("dynamodb", {}).get("NewImage") or {}
    sort_key = image.get("sk", {}).get("S", "")
    if keys.is_message_sort_key(sort_key):
        if "job" in image and event_name == "INSERT":
            return NewOutboundJob(image["job"]["S"])
        return None
    if sort_key != keys.SortKey.INBOX or "thread" in image or ERASED_AT in image:
        # MODIFY with a thread is the worker recording its decision, not a new event; with erased_at it is
        # a customer's erasure stripping the item (chalicelib/privacy/). A MODIFY without either is an
        # expired inbox item overwritten by a new delivery: relay it.
        return None
    kind = image["kind"]["S"]
    return NewInboxEvent(
        inbox_key=keys.inbox_key_of(image["pk"]["S"]),
        kind=kind,
        ordering_key=image["ordering_key"]["S"],
        needs_lookup=kind == "unknown" and _needs_lookup(image),
    )


def _needs_lookup(image: Mapping[str, Any]) -> bool:
    """Read from the stored event only for an unknown event (rare): its metadata says so."""
    try:
        event = json.loads(image.get("event", {}).get("S", "") or "{}")
    except ValueError:
        return False
    metadata = event.get("metadata") if isinstance(event, dict) else None
    return isinstance(metadata, dict) and metadata.get("needs_lookup") == "true"
