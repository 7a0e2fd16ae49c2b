from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from chalicelib.core.calendar import BusinessCalendar, CalendarError, OpeningInterval, parse_holiday

ROME = ZoneInfo("Europe/Rome")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


def rome(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=ROME)


def office(holidays: list[str] | None = None, **extra_days: list[str]) -> BusinessCalendar:
    """Mon-Fri 09:00-13:00 and 14:00-18:00 in Rome, plus any extra days given."""
    weekly: dict[str, list[str]] = {day: ["09:00-13:00", "14:00-18:00"] for day in WEEKDAYS}
    weekly.update(extra_days)
    return BusinessCalendar.from_config(
        {"time_zone": "Europe/Rome", "weekly": weekly, "holidays": holidays or []}
    )


def round_the_clock() -> BusinessCalendar:
    return BusinessCalendar.from_config({
        "time_zone": "Europe/Rome",
        "weekly": {day: ["00:00-24:00"] for day in (*WEEKDAYS, "saturday", "sunday")},
    })


# ---- is_open ---------------------------------------------------------------------------------------


def test_open_during_morning_hours_and_closed_at_lunch_evening_and_weekend() -> None:
    calendar = office()
    assert calendar.is_open(rome(2026, 11, 18, 10))  # Wednesday
    assert not calendar.is_open(rome(2026, 11, 18, 13, 30))  # lunch break
    assert not calendar.is_open(rome(2026, 11, 18, 19))
    assert not calendar.is_open(rome(2026, 11, 21, 10))  # Saturday
    assert not calendar.is_open(rome(2026, 11, 22, 10))  # Sunday


def test_opening_start_is_inclusive_and_end_exclusive() -> None:
    calendar = office()
    assert calendar.is_open(rome(2026, 11, 18, 9, 0))
    assert not calendar.is_open(rome(2026, 11, 18, 18, 0))
    assert calendar.is_open(rome(2026, 11, 18, 17, 59))


def test_is_open_accepts_any_time_zone_for_the_same_instant() -> None:
    calendar = office()
    assert calendar.is_open(datetime(2026, 11, 18, 9, 30, tzinfo=UTC))  # 10:30 in Rome
    assert not calendar.is_open(datetime(2026, 11, 18, 7, 30, tzinfo=UTC))  # 08:30 in Rome


def test_yearly_and_one_off_holidays_are_closed() -> None:
    calendar = office(holidays=["12-25", "2026-04-06"])
    assert not calendar.is_open(rome(2026, 12, 25, 10))  # Friday, Christmas
    assert calendar.is_open(rome(2027, 12, 24, 10))  # the day before stays open (a Friday)
    assert not calendar.is_open(rome(2027, 12, 25, 10))
    assert not calendar.is_open(rome(2026, 4, 6, 10))  # Easter Monday 2026
    assert calendar.is_open(rome(2027, 4, 6, 10))  # a one-off date does not recur
    assert calendar.is_holiday(date(2030, 12, 25))


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(CalendarError, match="aware"):
        office().is_open(datetime(2026, 11, 18, 10))


# ---- next_open -------------------------------------------------------------------------------------


def test_next_open_is_now_when_open() -> None:
    moment = rome(2026, 11, 18, 10, 17)
    assert office().next_open(moment) == moment


def test_next_open_after_lunch_and_before_the_morning() -> None:
    calendar = office()
    assert calendar.next_open(rome(2026, 11, 18, 13, 5)) == rome(2026, 11, 18, 14)
    assert calendar.next_open(rome(2026, 11, 18, 6, 0)) == rome(2026, 11, 18, 9)
    assert calendar.next_open(rome(2026, 11, 18, 18, 0)) == rome(2026, 11, 19, 9)


def test_next_open_friday_evening_is_monday_morning() -> None:
    result = office().next_open(rome(2026, 11, 20, 19))  # Friday
    assert result == rome(2026, 11, 23, 9)
    assert result.weekday() == 0
    assert result.tzinfo == ROME


def test_next_open_skips_a_run_of_holidays() -> None:
    calendar = office(holidays=["12-25", "12-26"])
    # Thursday 24 December 2026 after closing: Friday 25 and Saturday 26 are holidays, Sunday closed.
    assert calendar.next_open(rome(2026, 12, 24, 18, 30)) == rome(2026, 12, 28, 9)


def test_saturday_morning_opening_is_used_when_configured() -> None:
    calendar = office(saturday=["09:00-12:00"])
    assert calendar.next_open(rome(2026, 11, 20, 19)) == rome(2026, 11, 21, 9)


# ---- add_business_minutes --------------------------------------------------------------------------


def test_minutes_within_one_opening() -> None:
    assert office().add_business_minutes(rome(2026, 11, 18, 9, 30), 60) == rome(2026, 11, 18, 10, 30)


def test_minutes_skip_the_lunch_break() -> None:
    assert office().add_business_minutes(rome(2026, 11, 18, 12, 30), 60) == rome(2026, 11, 18, 14, 30)


def test_sla_spanning_a_closed_night() -> None:
    # 17:00 + 2 working hours = 1 h today + 1 h tomorrow morning.
    assert office().add_business_minutes(rome(2026, 11, 18, 17), 120) == rome(2026, 11, 19, 10)


def test_sla_from_friday_evening_lands_on_monday() -> None:
    assert office().add_business_minutes(rome(2026, 11, 20, 20), 240) == rome(2026, 11, 23, 13)
    assert office().add_business_minutes(rome(2026, 11, 20, 17), 120) == rome(2026, 11, 23, 10)


def test_sla_spanning_christmas_holidays() -> None:
    calendar = office(holidays=["12-25", "12-26"])
    assert calendar.add_business_minutes(rome(2026, 12, 24, 17), 240) == rome(2026, 12, 28, 12)


def test_exactly_filling_an_opening_ends_at_closing_time() -> None:
    assert office().add_business_minutes(rome(2026, 11, 18, 14), 240) == rome(2026, 11, 18, 18)


def test_zero_minutes_is_next_open() -> None:
    calendar = office()
    assert calendar.add_business_minutes(rome(2026, 11, 20, 19), 0) == rome(2026, 11, 23, 9)
    assert calendar.add_business_minutes(rome(2026, 11, 18, 18), 0) == rome(2026, 11, 19, 9)


def test_negative_minutes_are_refused() -> None:
    with pytest.raises(CalendarError, match="negative"):
        office().add_business_minutes(rome(2026, 11, 18, 10), -1)


def test_many_working_days() -> None:
    # Five full working days (8 h each) from Monday 09:00 end on Friday 18:00.
    assert office().add_business_minutes(rome(2026, 11, 16, 9), 5 * 8 * 60) == rome(2026, 11, 20, 18)


# ---- daylight saving time (Europe/Rome: 29 March 2026 spring forward, 25 October 2026 fall back) ------


def test_spring_forward_weekend_keeps_wall_clock_opening_hours() -> None:
    calendar = office()
    result = calendar.add_business_minutes(rome(2026, 3, 27, 17), 120)  # Friday, CET (+01:00)
    assert result == rome(2026, 3, 30, 10)  # Monday, CEST (+02:00)
    assert result.utcoffset() == timedelta(hours=2)
    assert result.astimezone(UTC) == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    assert calendar.next_open(rome(2026, 3, 27, 19)).astimezone(UTC) == datetime(2026, 3, 30, 7, tzinfo=UTC)


def test_fall_back_weekend_keeps_wall_clock_opening_hours() -> None:
    result = office().add_business_minutes(rome(2026, 10, 23, 17), 120)  # Friday, CEST
    assert result == rome(2026, 10, 26, 10)  # Monday, CET
    assert result.utcoffset() == timedelta(hours=1)


def test_round_the_clock_counts_real_time_across_spring_forward() -> None:
    calendar = round_the_clock()
    start = rome(2026, 3, 28, 12)  # Saturday noon, CET
    result = calendar.add_business_minutes(start, 24 * 60)
    # The night loses an hour: 24 real hours later the wall clock says 13:00.
    assert result == rome(2026, 3, 29, 13)
    assert result.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=24)


def test_round_the_clock_counts_real_time_across_fall_back() -> None:
    calendar = round_the_clock()
    start = rome(2026, 10, 24, 12)  # Saturday noon, CEST
    result = calendar.add_business_minutes(start, 24 * 60)
    assert result == rome(2026, 10, 25, 11)
    assert result.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=24)


def test_opening_inside_the_spring_forward_gap_collapses() -> None:
    calendar = BusinessCalendar.from_config({
        "time_zone": "Europe/Rome",
        "weekly": {"sunday": ["02:00-03:00", "10:00-11:00"]},
    })
    # On 29 March 2026 02:00-03:00 does not exist; the next opening is 10:00.
    assert calendar.next_open(rome(2026, 3, 29, 0, 30)) == rome(2026, 3, 29, 10)
    # A normal Sunday still opens at 02:00.
    assert calendar.next_open(rome(2026, 4, 5, 0, 30)) == rome(2026, 4, 5, 2)


# ---- configuration ---------------------------------------------------------------------------------


def test_opening_interval_parsing() -> None:
    assert str(OpeningInterval.parse("09:00-13:00")) == "09:00-13:00"
    assert OpeningInterval.parse("22:00-24:00").end is None
    for bad in ("9-13", "13:00-09:00", "09:00-09:00", "24:00-24:00", "09:60-10:00", "25:00-26:00"):
        with pytest.raises(CalendarError):
            OpeningInterval.parse(bad)
    with pytest.raises(CalendarError, match="overnight"):
        OpeningInterval.parse("22:00-02:00")


def test_holiday_parsing() -> None:
    assert parse_holiday("12-25") == (12, 25)
    assert parse_holiday("02-29") == (2, 29)
    assert parse_holiday("2026-04-06") == date(2026, 4, 6)
    for bad in ("13-01", "12-32", "2026-02-30", "Christmas", "20260406", "12/25"):
        with pytest.raises(CalendarError):
            parse_holiday(bad)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"weekly": {"monday": ["09:00-18:00"]}}, "time_zone"),
        ({"time_zone": "Europe/Atlantis", "weekly": {"monday": ["09:00-18:00"]}}, "unknown time zone"),
        ({"time_zone": "Europe/Rome"}, "weekly"),
        ({"time_zone": "Europe/Rome", "weekly": {"mon": ["09:00-18:00"]}}, r"weekly\.mon: not a weekday"),
        ({"time_zone": "Europe/Rome", "weekly": {"monday": "09:00-18:00"}}, r"weekly\.monday: must be a list"),
        ({"time_zone": "Europe/Rome", "weekly": {"monday": ["09:00-12:00", "18:00-14:00"]}},
         r"weekly\.monday\[1\]"),
        ({"time_zone": "Europe/Rome", "weekly": {"monday": ["09:00-13:00", "12:00-18:00"]}}, "overlap"),
        ({"time_zone": "Europe/Rome", "weekly": {"monday": []}}, "no opening hours"),
        ({"time_zone": "Europe/Rome", "weekly": {"monday": ["09:00-18:00"]}, "holidays": ["xmas"]},
         r"holidays\[0\]"),
        ({"time_zone": "Europe/Rome", "weekly": {"monday": ["09:00-18:00"]}, "hollidays": []}, "unknown key"),
    ],
)
def test_configuration_errors_name_the_key(config: dict[str, object], message: str) -> None:
    with pytest.raises(CalendarError, match=message):
        BusinessCalendar.from_config(config)


def test_a_calendar_closed_forever_reports_instead_of_looping() -> None:
    calendar = BusinessCalendar.from_config({
        "time_zone": "Europe/Rome",
        "weekly": {"monday": ["09:00-10:00"]},
        "holidays": [f"{month:02d}-{day:02d}" for month in range(1, 13) for day in range(1, 32)
                     if not (month == 2 and day > 29) and not (month in (4, 6, 9, 11) and day == 31)],
    })
    with pytest.raises(CalendarError, match="no working time"):
        calendar.next_open(rome(2026, 11, 18, 10))


def test_touching_openings_are_allowed() -> None:
    calendar = office(saturday=["09:00-12:00", "12:00-13:00"])
    assert calendar.add_business_minutes(rome(2026, 11, 21, 11), 90) == rome(2026, 11, 21, 12, 30)
