"""gsi_sender's key values stay within DynamoDB's index key limits, or the item is left unindexed."""

from __future__ import annotations

from chalicelib.adapters.dynamo import keys


def test_ordinary_ids_are_indexed() -> None:
    attributes = keys.sender_index("meta#msg#m1", "2026-12-07T08:00:00.000Z", "meta#m1#read")
    assert attributes == {"sender_pk": "ORDER#meta#msg#m1", "sender_sk": "2026-12-07T08:00:00.000Z#meta#m1#read"}


def test_an_id_past_an_index_key_limit_leaves_the_item_unindexed_rather_than_refused() -> None:
    long_id = "x" * 1100  # fits the table's partition key (2,048 bytes), not an index sort key (1,024)
    assert keys.sender_index(f"telegram#{long_id}", "2026-12-07T08:00:00.000Z", f"telegram#{long_id}") == {}
    assert keys.sender_index("s" * 2100, "2026-12-07T08:00:00.000Z", "telegram#1") == {}
