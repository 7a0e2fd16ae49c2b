"""Timestamps: UTC ISO-8601 strings with a ``Z`` (``2026-11-22T20:08:29.123Z``), which sort lexically
in DynamoDB sort keys. Error messages never repeat the value: a malformed field may hold anything."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from chalicelib.core.errors import ModelError

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")


def utc_now() -> str:
    return format_timestamp(datetime.now(UTC))


def format_timestamp(moment: datetime) -> str:
    """UTC ISO-8601 with millisecond precision and a ``Z``; naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    # isoformat, not strftime("%Y"): glibc writes year 1 as "1", which no parser reads back.
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def timestamp_from_epoch(seconds: float) -> str:
    """Unix seconds → canonical timestamp; NaN, infinities and values outside years 1-9999 → ModelError."""
    try:
        return format_timestamp(datetime.fromtimestamp(seconds, UTC))
    except (OverflowError, OSError, ValueError, TypeError) as err:
        raise ModelError("not a Unix timestamp between the years 1 and 9999") from err


def parse_timestamp(value: str) -> datetime:
    """Any ISO-8601 string with an offset (or ``Z``) → aware UTC datetime.

    Error messages never repeat the value: a malformed field may hold anything, personal data too.
    """
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (ValueError, AttributeError, TypeError) as err:
        raise ModelError("not an ISO-8601 timestamp") from err
    if moment.tzinfo is None:
        raise ModelError("timestamp without a time zone")
    try:
        # 9999-12-31T23:59:59-05:00 is valid ISO-8601 but past datetime.max once in UTC.
        return moment.astimezone(UTC)
    except OverflowError as err:
        raise ModelError("timestamp outside the years 1 to 9999 in UTC") from err


def normalize_timestamp(value: str) -> str:
    return format_timestamp(parse_timestamp(value))
