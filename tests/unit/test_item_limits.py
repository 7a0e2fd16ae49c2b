"""DynamoDB's item limits, checked for a whole batch of events before its first put."""

from __future__ import annotations

import dataclasses

import pytest

from chalicelib.core.errors import PayloadTooLarge
from chalicelib.core.item_limits import ITEM_LIMIT_BYTES, check_inbox_events
from chalicelib.core.model import Channel, EventKind, Identity, InboundEvent, Sender


def message(text: str, event_id: str = "ev-1") -> InboundEvent:
    return InboundEvent(provider="api", event_id=event_id, kind=EventKind.MESSAGE, channel=Channel.WEBCHAT,
                        occurred_at="2026-12-07T09:00:00.000Z",
                        sender=Sender(Identity(Channel.WEBCHAT, "u-1"), name="Ada"), text=text)


def test_a_batch_of_storable_events_passes() -> None:
    check_inbox_events([message("hello"), message("y" * 360_000, "ev-2")])


def test_one_event_past_the_item_limit_refuses_the_whole_batch() -> None:
    with pytest.raises(PayloadTooLarge):
        check_inbox_events([message("hello"), message("y" * ITEM_LIMIT_BYTES, "ev-2")])


def test_multibyte_text_is_counted_in_bytes_not_characters() -> None:
    check_inbox_events([message("é" * 180_000)])  # 360,000 bytes
    with pytest.raises(PayloadTooLarge):
        check_inbox_events([message("é" * 200_000)])  # 400,000 bytes


def test_an_inbox_key_past_the_partition_key_limit_is_refused() -> None:
    event = dataclasses.replace(message("hello"), provider="p" * 2100)
    with pytest.raises(PayloadTooLarge):
        check_inbox_events([event])
