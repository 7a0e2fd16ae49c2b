"""The canonical model: timestamps and addresses fail with ModelError only, and never echo the value."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.core.model import Channel, EventKind, Identity, InboundEvent, ModelError, normalize_phone
from chalicelib.core.timestamps import format_timestamp, normalize_timestamp, parse_timestamp, timestamp_from_epoch

# --- timestamps ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "9999-12-31T23:59:59-05:00",  # valid ISO-8601, past datetime.max once in UTC
        "0001-01-01T00:00:00+05:00",  # before datetime.min once in UTC
        "not a time",
        "2026-05-28T20:26:40",  # no time zone
        "",
    ],
)
def test_parse_timestamp_raises_model_error_only_and_without_the_value(value: str) -> None:
    with pytest.raises(ModelError) as err:
        parse_timestamp(value)
    if value:
        assert value not in str(err.value)


@pytest.mark.parametrize("value", [None, 12, b"2026-01-01T00:00:00Z"])
def test_parse_timestamp_of_a_non_string_is_a_model_error(value: object) -> None:
    with pytest.raises(ModelError):
        parse_timestamp(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-22T21:08:29.123456+01:00", "2026-11-22T20:08:29.123Z"),
        ("9999-12-31T18:59:59-05:00", "9999-12-31T23:59:59.000Z"),
        ("0001-01-01T05:00:00+05:00", "0001-01-01T00:00:00.000Z"),
        ("0999-06-01T00:00:00Z", "0999-06-01T00:00:00.000Z"),
    ],
)
def test_normalize_timestamp_at_the_edges_of_the_calendar(value: str, expected: str) -> None:
    assert normalize_timestamp(value) == expected
    assert normalize_timestamp(expected) == expected  # what it writes, it reads back


def test_format_timestamp_pads_the_year_and_truncates_to_milliseconds() -> None:
    assert format_timestamp(datetime(1, 1, 1, tzinfo=UTC)) == "0001-01-01T00:00:00.000Z"
    assert format_timestamp(datetime(2026, 1, 2, 3, 4, 5, 678999)) == "2026-01-02T03:04:05.678Z"


@pytest.mark.parametrize(
    "seconds", [float("nan"), float("inf"), float("-inf"), 1e30, -1e30, 10**30, 10**400, 253402300800, -62135596801]
)
def test_timestamp_from_epoch_outside_the_calendar_is_a_model_error(seconds: float) -> None:
    with pytest.raises(ModelError):
        timestamp_from_epoch(seconds)


def test_timestamp_from_epoch() -> None:
    assert timestamp_from_epoch(1_749_416_383) == "2025-06-08T20:59:43.000Z"
    assert timestamp_from_epoch(1_749_416_383.5) == "2025-06-08T20:59:43.500Z"
    assert timestamp_from_epoch(-62135596800) == "0001-01-01T00:00:00.000Z"


def test_an_event_dated_past_the_calendar_is_a_model_error() -> None:
    with pytest.raises(ModelError):
        InboundEvent(provider="api", event_id="e1", kind=EventKind.UNKNOWN, channel=Channel.WEBCHAT,
                     occurred_at="9999-12-31T23:59:59-05:00")


# --- phone numbers: useful messages, no personal data -------------------------------------------


@pytest.mark.parametrize("value", ["12345", "VERIFY", "+39 333", "whatsapp:+0393331234567", "3933312345678901234"])
def test_normalize_phone_error_never_carries_the_number(value: str) -> None:
    with pytest.raises(ModelError) as err:
        normalize_phone(value)
    message = str(err.value)
    assert "not a phone number in international form" in message
    assert value not in message and value.split(":")[-1] not in message


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.WHATSAPP, Channel.VOICE])
def test_an_identity_with_a_bad_phone_does_not_leak_it(channel: Channel) -> None:
    with pytest.raises(ModelError) as err:
        Identity(channel, "+44 7946")
    assert "7946" not in str(err.value)


def test_normalize_phone_still_normalizes() -> None:
    assert normalize_phone("whatsapp:+39 333 123 4567") == "+393331234567"
    assert normalize_phone("0044 20 7946 0958") == "+442079460958"
