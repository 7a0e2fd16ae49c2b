"""The local stack's schedule clock: how often the pump runs the scheduled handlers, and what time their
events say it is (devstack only; on AWS, EventBridge fires every minute and states the real time).

- ``OMNIHUB_LOCAL_SCHEDULE_SECONDS``: run every schedule this often instead of its rate (e.g. ``1``), so
  a test sees several sweeps in seconds, not minutes.
- ``OMNIHUB_LOCAL_CLOCK_FILE``: a file holding a number of seconds added to the scheduled event's
  ``time``, read at every run. The SLA sweeper takes its "now" from that time, so a test (or a developer)
  can move the sweeper's clock forward past a deadline by writing, say, ``3600`` into the file, instead
  of waiting. A missing, empty or unreadable file is no offset.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from chalicelib.core.timestamps import format_timestamp

SCHEDULE_SECONDS_ENV = "OMNIHUB_LOCAL_SCHEDULE_SECONDS"
CLOCK_FILE_ENV = "OMNIHUB_LOCAL_CLOCK_FILE"
MAX_OFFSET_SECONDS = 400 * 24 * 3600


def schedule_period(rate_seconds: int, environ: Mapping[str, str] | None = None) -> float:
    """The period the pump runs a schedule at: the override when it is a positive number, else its rate."""
    text = (os.environ if environ is None else environ).get(SCHEDULE_SECONDS_ENV, "")
    try:
        period = float(text)
    except ValueError:
        return float(rate_seconds)
    return period if math.isfinite(period) and period > 0 else float(rate_seconds)


def clock_offset(environ: Mapping[str, str] | None = None) -> timedelta:
    path = (os.environ if environ is None else environ).get(CLOCK_FILE_ENV)
    if not path:
        return timedelta()
    try:
        with open(path, encoding="utf-8") as handle:
            seconds = float(handle.read(64).strip() or 0)
    except (OSError, ValueError):
        return timedelta()
    if not math.isfinite(seconds):
        return timedelta()
    return timedelta(seconds=max(-MAX_OFFSET_SECONDS, min(MAX_OFFSET_SECONDS, seconds)))


def schedule_time(environ: Mapping[str, str] | None = None) -> str:
    """The ``time`` of a scheduled event the pump builds: now, plus the clock file's offset."""
    return format_timestamp(datetime.now(UTC) + clock_offset(environ))
