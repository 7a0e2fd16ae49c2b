"""Business hours in one time zone: is the team open, when does it open, when has N working time elapsed.

Pure and AWS-free. Opening hours are local wall-clock times (``09:00-13:00``) so that 09:00 stays
09:00 across a daylight-saving change; each day's openings are turned into aware instants and all
arithmetic happens on those instants in UTC, so elapsed working time is real elapsed time (a
round-the-clock service counts the 23 real hours of the spring-forward day, not 24).

Every public method takes and returns aware datetimes; results are expressed in the calendar's zone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from chalicelib.core.errors import ConfigError

WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

# How far ahead to look for working time: a long closure plus holidays never exceeds this, and a
# calendar that is closed for longer is a configuration mistake we report rather than loop over.
SEARCH_HORIZON_DAYS = 800

_CLOCK = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)$")
_INTERVAL = re.compile(r"^\s*(\d{2}:\d{2})\s*-\s*(\d{2}:\d{2})\s*$")
_YEARLY_HOLIDAY = re.compile(r"^(\d{2})-(\d{2})$")


class CalendarError(ConfigError, ValueError):
    """The calendar is misconfigured, or was asked something it cannot answer (a naive datetime)."""


@dataclass(frozen=True, slots=True)
class OpeningInterval:
    """One opening on a weekday in local wall-clock time; ``end`` of ``None`` means midnight (24:00)."""

    start: time
    end: time | None

    @classmethod
    def parse(cls, text: str) -> OpeningInterval:
        """``"09:00-13:00"``; ``"22:00-24:00"`` runs to midnight. Overnight spans must be split in two."""
        match = _INTERVAL.match(text) if isinstance(text, str) else None
        if match is None:
            raise CalendarError(f"{text!r} is not an opening interval like '09:00-13:00'")
        start = _parse_clock(match.group(1), allow_midnight_end=False)
        assert start is not None  # 24:00 raises unless allow_midnight_end
        end = _parse_clock(match.group(2), allow_midnight_end=True)
        if end is not None and end <= start:
            raise CalendarError(
                f"{text!r} ends before it starts; split an overnight opening into "
                "'22:00-24:00' on one day and '00:00-02:00' on the next"
            )
        return cls(start, end)

    def overlaps_later(self, later: OpeningInterval) -> bool:
        """True when ``later`` (starting no earlier than this one) starts before this one ends."""
        return self.end is None or later.start < self.end

    def __str__(self) -> str:
        end = "24:00" if self.end is None else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}-{end}"


def _parse_clock(text: str, *, allow_midnight_end: bool) -> time | None:
    match = _CLOCK.match(text)
    if match is None:
        raise CalendarError(f"{text!r} is not a time like '09:00'")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour == 24:
        if minute != 0 or not allow_midnight_end:
            raise CalendarError(f"{text!r}: 24:00 is only valid as the end of an opening")
        return None
    return time(hour, minute)


def parse_holiday(text: str) -> date | tuple[int, int]:
    """``"2026-04-06"`` → that date; ``"12-25"`` → (12, 25), a holiday every year."""
    if not isinstance(text, str):
        raise CalendarError(f"{text!r} is not a holiday like '2026-04-06' or '12-25'")
    yearly = _YEARLY_HOLIDAY.match(text)
    try:
        if yearly:
            month, day = int(yearly.group(1)), int(yearly.group(2))
            date(2000, month, day)  # a leap year, so "02-29" is accepted
            return (month, day)
        if len(text) != len("YYYY-MM-DD"):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError as err:
        raise CalendarError(f"{text!r} is not a holiday like '2026-04-06' or '12-25'") from err


class BusinessCalendar:
    """Weekly opening hours in one IANA time zone, minus holidays."""

    def __init__(
        self,
        time_zone: str,
        weekly_hours: Mapping[int, Iterable[OpeningInterval]],
        holidays: Iterable[date] = (),
        yearly_holidays: Iterable[tuple[int, int]] = (),
    ) -> None:
        try:
            self._zone = ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as err:
            raise CalendarError(
                f"unknown time zone {time_zone!r} (an IANA name like 'Europe/Rome'; "
                "is the tzdata package installed?)"
            ) from err
        self.time_zone = time_zone
        weekly: list[tuple[OpeningInterval, ...]] = []
        for weekday in range(7):
            intervals = tuple(sorted(weekly_hours.get(weekday, ()), key=lambda iv: iv.start))
            for earlier, later in pairwise(intervals):
                if earlier.overlaps_later(later):
                    raise CalendarError(f"{WEEKDAY_NAMES[weekday]}: openings {earlier} and {later} overlap")
            weekly.append(intervals)
        if not any(weekly):
            raise CalendarError("no opening hours on any weekday")
        self._weekly = tuple(weekly)
        self._holidays = frozenset(holidays)
        self._yearly_holidays = frozenset(yearly_holidays)

    @classmethod
    def from_config(cls, config: object) -> BusinessCalendar:
        """Build from the ``business_hours`` section of the service-levels configuration.

        ``{"time_zone": "Europe/Rome", "weekly": {"monday": ["09:00-13:00", "14:00-18:00"], ...},
        "holidays": ["12-25", "2026-04-06"]}``; a weekday left out or given ``[]`` is closed.
        Errors name the offending key, e.g. ``weekly.monday[1]: ...``.
        """
        if not isinstance(config, Mapping):
            raise CalendarError("must be an object with time_zone, weekly and holidays")
        unknown = sorted(k for k in config if k not in {"time_zone", "weekly", "holidays"} and not k.startswith("_"))
        if unknown:
            raise CalendarError(f"unknown key(s) {', '.join(unknown)} (expected time_zone, weekly, holidays)")
        time_zone = config.get("time_zone")
        if not isinstance(time_zone, str) or not time_zone:
            raise CalendarError("time_zone: required, an IANA name like 'Europe/Rome'")
        weekly_config = config.get("weekly")
        if not isinstance(weekly_config, Mapping):
            raise CalendarError("weekly: required, an object of weekday name → list of 'HH:MM-HH:MM'")
        weekly: dict[int, list[OpeningInterval]] = {}
        for day_name, intervals in weekly_config.items():
            if day_name.startswith("_"):
                continue
            if day_name not in WEEKDAY_NAMES:
                raise CalendarError(f"weekly.{day_name}: not a weekday (use {', '.join(WEEKDAY_NAMES)})")
            if not isinstance(intervals, list):
                raise CalendarError(f"weekly.{day_name}: must be a list like ['09:00-13:00'] ([] = closed)")
            parsed: list[OpeningInterval] = []
            for index, text in enumerate(intervals):
                try:
                    parsed.append(OpeningInterval.parse(text))
                except CalendarError as err:
                    raise CalendarError(f"weekly.{day_name}[{index}]: {err}") from err
            weekly[WEEKDAY_NAMES.index(day_name)] = parsed
        holidays_config = config.get("holidays", [])
        if not isinstance(holidays_config, list):
            raise CalendarError("holidays: must be a list of 'YYYY-MM-DD' or yearly 'MM-DD'")
        dates: list[date] = []
        yearly: list[tuple[int, int]] = []
        for index, text in enumerate(holidays_config):
            try:
                holiday = parse_holiday(text)
            except CalendarError as err:
                raise CalendarError(f"holidays[{index}]: {err}") from err
            if isinstance(holiday, date):
                dates.append(holiday)
            else:
                yearly.append(holiday)
        return cls(time_zone, weekly, dates, yearly)

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    def is_holiday(self, day: date) -> bool:
        return day in self._holidays or (day.month, day.day) in self._yearly_holidays

    def is_open(self, at: datetime) -> bool:
        moment = self._as_utc(at)
        local_day = moment.astimezone(self._zone).date()
        return any(start <= moment < end for start, end in self._openings_on(local_day))

    def next_open(self, at: datetime) -> datetime:
        """``at`` itself when open, otherwise the start of the next opening."""
        moment = self._as_utc(at)
        start, _ = next(self._openings_from(moment))
        return start.astimezone(self._zone)

    def add_business_minutes(self, start: datetime, minutes: float) -> datetime:
        """The moment when ``minutes`` of working time have elapsed since ``start``.

        Closed time (evenings, breaks, weekends, holidays) does not count; ``start`` outside opening
        hours counts from the next opening. Zero minutes gives :meth:`next_open`.
        """
        if minutes < 0:
            raise CalendarError(f"minutes must not be negative, got {minutes}")
        remaining = timedelta(minutes=minutes)
        for opening_start, opening_end in self._openings_from(self._as_utc(start)):
            available = opening_end - opening_start
            if remaining <= available:
                return (opening_start + remaining).astimezone(self._zone)
            remaining -= available
        raise AssertionError("unreachable: _openings_from raises when it runs out")  # pragma: no cover

    def business_minutes_between(self, start: datetime, end: datetime) -> float:
        """Working minutes from ``start`` to ``end`` (0 when ``end`` is not later): the inverse of
        :meth:`add_business_minutes`, used to extend SLA deadlines by the time a conversation was paused."""
        begin, finish = self._as_utc(start), self._as_utc(end)
        elapsed = timedelta()
        if finish > begin:
            for opening_start, opening_end in self._openings_from(begin):
                if opening_start >= finish:
                    break
                elapsed += min(opening_end, finish) - opening_start
        return elapsed / timedelta(minutes=1)

    def _as_utc(self, at: datetime) -> datetime:
        if at.tzinfo is None or at.utcoffset() is None:
            raise CalendarError(f"an aware datetime is required, got the naive {at.isoformat()}")
        return at.astimezone(UTC)

    def _openings_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's openings as UTC instants (empty on holidays).

        A wall-clock time that does not exist (inside the spring-forward gap) resolves as zoneinfo
        does, to the same instant as the time one hour later; an opening that collapses to nothing
        that way is dropped.
        """
        if self.is_holiday(day):
            return []
        openings = []
        for interval in self._weekly[day.weekday()]:
            start = datetime.combine(day, interval.start, tzinfo=self._zone).astimezone(UTC)
            if interval.end is None:
                end_local = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self._zone)
            else:
                end_local = datetime.combine(day, interval.end, tzinfo=self._zone)
            end = end_local.astimezone(UTC)
            if end > start:
                openings.append((start, end))
        return openings

    def _openings_from(self, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
        """Openings still running or yet to come after ``moment``, clipped to start no earlier than it."""
        first_day = moment.astimezone(self._zone).date()
        for offset in range(SEARCH_HORIZON_DAYS):
            for start, end in self._openings_on(first_day + timedelta(days=offset)):
                if end > moment:
                    yield max(start, moment), end
        raise CalendarError(
            f"no working time within {SEARCH_HORIZON_DAYS} days of {moment.isoformat()}: "
            "check the weekly hours and holidays"
        )
