"""The local stack's schedule clock (devstack only): a period override and a clock file, both defensive."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from chalicelib.core.timestamps import parse_timestamp
from devstack.schedule_clock import CLOCK_FILE_ENV, SCHEDULE_SECONDS_ENV, clock_offset, schedule_period, schedule_time


def test_the_period_override_applies_only_when_it_is_a_positive_number() -> None:
    assert schedule_period(60, {}) == 60
    assert schedule_period(60, {SCHEDULE_SECONDS_ENV: "1"}) == 1
    assert schedule_period(60, {SCHEDULE_SECONDS_ENV: "0.5"}) == 0.5
    for bad in ("", "0", "-1", "nan", "inf", "soon"):
        assert schedule_period(60, {SCHEDULE_SECONDS_ENV: bad}) == 60, bad


def test_the_clock_file_moves_the_events_time(tmp_path: Path) -> None:
    clock = tmp_path / "clock"
    environ = {CLOCK_FILE_ENV: str(clock)}
    assert clock_offset(environ) == timedelta()  # no file yet
    clock.write_text("3600\n")
    assert clock_offset(environ) == timedelta(hours=1)
    before = parse_timestamp(schedule_time({}))
    assert parse_timestamp(schedule_time(environ)) - before >= timedelta(minutes=59)
    for bad in ("", "an hour", "nan"):
        clock.write_text(bad)
        assert clock_offset(environ) == timedelta(), bad
    clock.write_text("1e12")
    assert clock_offset(environ) == timedelta(days=400)  # bounded
