"""SlaPolicies.due: business minutes of the calendar, or plain minutes round the clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.core.calendar import BusinessCalendar, CalendarError
from chalicelib.core.model import Priority
from chalicelib.sla import SlaKind, SlaPolicies, parse_sla

ROME = ZoneInfo("Europe/Rome")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FIRST = SlaKind.FIRST_RESPONSE


def rome(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ROME)


def office() -> BusinessCalendar:
    """The shipped hours: Mon-Fri 09:00-13:00 and 14:00-18:00 in Rome, Christmas and Santo Stefano off."""
    return BusinessCalendar.from_config({
        "time_zone": "Europe/Rome",
        "weekly": {day: ["09:00-13:00", "14:00-18:00"] for day in WEEKDAYS[:5]},
        "holidays": ["12-25", "12-26", "2026-04-06"],
    })


def sla(mode: str, first: int = 240, next_: int = 480, resolution: int = 2880) -> SlaPolicies:
    targets = {"first_response_minutes": first, "next_response_minutes": next_, "resolution_minutes": resolution}
    return parse_sla({"calendar": mode, "policies": {"normal": targets}})


SHIPPED: dict[str, Any] = {
    "urgent": {"first_response_minutes": 30, "next_response_minutes": 60, "resolution_minutes": 480},
    "high": {"first_response_minutes": 120, "next_response_minutes": 240, "resolution_minutes": 1440},
    "normal": {"first_response_minutes": 240, "next_response_minutes": 480, "resolution_minutes": 2880},
    "low": {"first_response_minutes": 960, "next_response_minutes": 1920, "resolution_minutes": 4800},
}
BUSINESS = parse_sla({"calendar": "business", "policies": SHIPPED})
ALWAYS = parse_sla({"calendar": "always", "policies": SHIPPED})


# ---- examples ------------------------------------------------------------------------------------------


def test_within_one_day() -> None:
    wednesday = rome(2026, 11, 18, 10)
    assert BUSINESS.due(wednesday, "high", FIRST, office()) == rome(2026, 11, 18, 12)
    assert BUSINESS.due(wednesday, "normal", FIRST, office()) == rome(2026, 11, 18, 15)  # lunch does not count
    assert ALWAYS.due(wednesday, "normal", FIRST, office()) == rome(2026, 11, 18, 14)


def test_over_a_weekend() -> None:
    friday = rome(2026, 11, 20, 17)
    assert BUSINESS.due(friday, Priority.HIGH, FIRST, office()) == rome(2026, 11, 23, 10)  # Monday
    assert ALWAYS.due(friday, Priority.HIGH, FIRST, office()) == rome(2026, 11, 20, 19)
    saturday = rome(2026, 11, 21, 11)  # closed: the clock starts Monday 09:00
    assert BUSINESS.due(saturday, "urgent", SlaKind.NEXT_RESPONSE, office()) == rome(2026, 11, 23, 10)
    assert BUSINESS.due(friday, "normal", SlaKind.RESOLUTION, office()) == rome(2026, 11, 30, 17)  # 6 days


def test_over_christmas() -> None:
    christmas_eve = rome(2026, 12, 24, 17)  # Thursday; 25 and 26 are holidays, 27 a Sunday
    # One hour on Thursday, then seven on Monday 28: 09-13 and 14-17.
    assert BUSINESS.due(christmas_eve, "urgent", SlaKind.RESOLUTION, office()) == rome(2026, 12, 28, 17)
    assert ALWAYS.due(christmas_eve, "urgent", SlaKind.RESOLUTION, office()) == rome(2026, 12, 25, 1)


def test_over_the_spring_forward_weekend() -> None:
    friday = rome(2026, 3, 27, 17)  # CET; Rome moves to CEST on Sunday 29 March
    due = BUSINESS.due(friday, "high", FIRST, office())
    assert due == rome(2026, 3, 30, 10)  # 09:00 stays 09:00 on the wall clock
    assert due.astimezone(UTC) == datetime(2026, 3, 30, 8, tzinfo=UTC)
    saturday_noon = rome(2026, 3, 28, 12)
    due = ALWAYS.due(saturday_noon, "high", SlaKind.RESOLUTION, office())  # 1440 real minutes
    assert due == rome(2026, 3, 29, 13)  # the night lost an hour
    assert due.astimezone(UTC) - saturday_noon.astimezone(UTC) == timedelta(hours=24)


def test_over_the_fall_back_weekend() -> None:
    assert BUSINESS.due(rome(2026, 10, 23, 17), "high", FIRST, office()) == rome(2026, 10, 26, 10)
    saturday_noon = rome(2026, 10, 24, 12)
    due = ALWAYS.due(saturday_noon, "high", SlaKind.RESOLUTION, office())
    assert due == rome(2026, 10, 25, 11)  # the night gained an hour
    assert due.utcoffset() == timedelta(hours=1)


def test_due_is_in_the_calendars_zone_whatever_the_start_was_written_in() -> None:
    start_utc = datetime(2026, 11, 18, 9, tzinfo=UTC)
    for policies in (BUSINESS, ALWAYS):
        due = policies.due(start_utc, "high", FIRST, office())
        assert due.tzinfo == ROME
        assert due == policies.due(start_utc.astimezone(ROME), "high", FIRST, office())


@pytest.mark.parametrize("policies", [BUSINESS, ALWAYS])
def test_a_naive_start_is_refused(policies: SlaPolicies) -> None:
    with pytest.raises(CalendarError, match="aware"):
        policies.due(datetime(2026, 11, 18, 10), "normal", FIRST, office())


def test_unknown_priority_or_kind_is_refused() -> None:
    with pytest.raises(ValueError):
        BUSINESS.due(rome(2026, 11, 18, 10), "critical", FIRST, office())
    with pytest.raises(ValueError):
        BUSINESS.due(rome(2026, 11, 18, 10), "normal", "first_reply", office())


# ---- properties ------------------------------------------------------------------------------------------

# Each zone with the instants (UTC) where it changes its offset, so that starts fall near them often.
ZONES: dict[str, tuple[str, ...]] = {
    "Europe/Rome": ("2026-03-29T01:00", "2026-10-25T01:00", "2027-03-28T01:00", "2027-10-31T01:00"),
    "America/New_York": ("2026-03-08T07:00", "2026-11-01T06:00", "2027-03-14T07:00", "2027-11-07T06:00"),
    "Australia/Sydney": ("2026-04-04T16:00", "2026-10-03T16:00", "2027-04-03T16:00", "2027-10-02T16:00"),
    "Asia/Kathmandu": (),  # +05:45 all year: openings on quarter hours are still whole UTC minutes
    "UTC": (),
}
Case = tuple[BusinessCalendar, datetime]
PROPERTY = settings(max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def utc(moment: datetime) -> datetime:
    # Two datetimes with the same tzinfo compare and subtract by wall clock, offsets ignored: around
    # a fall-back hour that is wrong by an hour. Instants are compared in UTC.
    return moment.astimezone(UTC)


def _clock(quarter: int) -> str:
    return "24:00" if quarter == 96 else f"{quarter // 4:02d}:{quarter % 4 * 15:02d}"


@st.composite
def day_hours(draw: st.DrawFn) -> list[str]:
    """0-3 openings on quarter hours, in order, never overlapping; sometimes to midnight (24:00)."""
    cuts = sorted(draw(st.sets(st.integers(0, 96), max_size=6)))
    cuts = cuts[: len(cuts) // 2 * 2]
    return [f"{_clock(a)}-{_clock(b)}" for a, b in zip(cuts[::2], cuts[1::2], strict=True)]


def _weekly_minutes(weekly: dict[str, list[str]]) -> int:
    total = 0
    for intervals in weekly.values():
        for interval in intervals:
            start, end = (int(t[:2]) * 60 + int(t[3:]) for t in interval.split("-"))
            total += end - start
    return total


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """A calendar (any of the zones, any weekly hours with at least an hour a week, a few one-off
    holidays) and a start: anywhere, near one of its zone's offset changes, or on a quarter hour
    (where openings begin and end, so that SLAs exactly filling an opening are common)."""
    zone = draw(st.sampled_from(sorted(ZONES)))
    weekly = {day: draw(day_hours()) for day in WEEKDAYS}
    if _weekly_minutes(weekly) < 60:
        weekly["wednesday"] = ["10:00-11:00"]
    holidays = draw(st.lists(st.dates(date(2026, 1, 1), date(2028, 12, 31)), max_size=8))
    calendar = BusinessCalendar.from_config(
        {"time_zone": zone, "weekly": weekly, "holidays": [day.isoformat() for day in holidays]}
    )
    anywhere = st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31), timezones=st.just(UTC))
    choices = [anywhere, anywhere.map(lambda moment: moment.replace(minute=moment.minute // 15 * 15, second=0,
                                                                    microsecond=0))]
    if ZONES[zone]:
        changes = [datetime.fromisoformat(text).replace(tzinfo=UTC) for text in ZONES[zone]]
        choices.append(st.builds(lambda change, offset: change + timedelta(minutes=offset),
                                 st.sampled_from(changes), st.integers(-3 * 24 * 60, 3 * 24 * 60)))
    start = draw(st.one_of(choices))
    return calendar, start.astimezone(draw(st.sampled_from((UTC, calendar.zone))))


# At least an hour a week, 3000 minutes take at most 50 weeks: well inside the calendar's horizon.
# Whole quarter hours half the time, to fill openings exactly.
minutes = st.one_of(st.integers(1, 3000), st.integers(1, 200).map(lambda quarters: quarters * 15))
modes = st.sampled_from(("business", "always"))


@PROPERTY
@given(case=cases(), amount=minutes, mode=modes)
def test_due_is_never_earlier_than_the_start(case: Case, amount: int, mode: str) -> None:
    calendar, start = case
    due = utc(sla(mode, first=amount).due(start, "normal", FIRST, calendar))
    assert due > utc(start)
    assert due - utc(start) >= timedelta(minutes=amount)  # working time is never more than real time


@PROPERTY
@given(case=cases(), a=minutes, b=minutes, mode=modes)
def test_due_is_monotonic_in_the_minutes(case: Case, a: int, b: int, mode: str) -> None:
    calendar, start = case
    low, high = sorted((a, b))
    assert utc(sla(mode, first=low).due(start, "normal", FIRST, calendar)) <= utc(
        sla(mode, first=high).due(start, "normal", FIRST, calendar)
    )


@PROPERTY
@given(case=cases(), amount=minutes)
def test_business_due_lands_inside_opening_hours(case: Case, amount: int) -> None:
    calendar, start = case
    due = sla("business", first=amount).due(start, "normal", FIRST, calendar)
    # The last working minute counted is inside an opening (the due moment itself may be its close).
    assert calendar.is_open(utc(due) - timedelta(microseconds=1))


@PROPERTY
@given(case=cases(), a=minutes, b=minutes, mode=modes)
def test_due_adds_up(case: Case, a: int, b: int, mode: str) -> None:
    """a minutes, then b more, is a + b minutes: no working time lost or counted twice at a boundary."""
    calendar, start = case
    step = sla(mode, first=a).due(start, "normal", FIRST, calendar)
    assert sla(mode, first=b).due(step, "normal", FIRST, calendar) == sla(mode, first=a + b).due(
        start, "normal", FIRST, calendar
    )


@PROPERTY
@given(case=cases(), amount=minutes)
def test_always_counts_real_minutes_across_any_offset_change(case: Case, amount: int) -> None:
    calendar, start = case
    due = sla("always", first=amount).due(start, "normal", FIRST, calendar)
    assert utc(due) - utc(start) == timedelta(minutes=amount)
    assert due.tzinfo == calendar.zone


@settings(max_examples=25, deadline=None, database=None)
@given(case=cases(), amount=st.one_of(st.integers(1, 240), st.integers(1, 16).map(lambda quarters: quarters * 15)))
def test_business_due_counts_exactly_the_open_minutes(case: Case, amount: int) -> None:
    """An oracle that walks minute by minute: between start and due, exactly ``amount`` minutes are
    open, and the last of them is the one just before due (due is the earliest such moment)."""
    calendar, start = case
    start = start.replace(second=0, microsecond=0)
    due = utc(sla("business", first=amount).due(start, "normal", FIRST, calendar))
    open_minutes, moment = 0, utc(start)
    while moment < due:
        open_minutes += calendar.is_open(moment)
        moment += timedelta(minutes=1)
    assert moment == due  # openings are on whole minutes in every zone, so the walk lands on it
    assert open_minutes == amount
    assert calendar.is_open(due - timedelta(minutes=1))
