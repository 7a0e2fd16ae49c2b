"""The words of an acknowledgment: whom we greet, when we promise to reply, when we are back, and
the crisis line (pure).

A :class:`LanguagePack` holds one language's templates and the names used to describe times; the
functions here fill them. Times are described on the business calendar's local clock.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from chalicelib.core.calendar import BusinessCalendar

# A name longer than this is more likely a company, a slogan or a pasted signature than a first name.
MAX_NAME_CHARS = 24
# A crisis status line is shortened to fit the channel's length hint, but never below this: a stub
# says nothing, and a longer (segmented) SMS is better than a useless line.
MIN_STATUS_LINE_CHARS = 24

# Display names that are placeholders, not people.
_GENERIC_NAMES = frozenset({
    "admin", "anonymous", "anonimo", "cliente", "customer", "guest", "info", "null", "none", "ospite",
    "sconosciuto", "support", "test", "unknown", "user", "utente", "whatsapp", "client", "kunde", "usuario",
})


class Variant(StrEnum):
    IN_HOURS = "in_hours"
    OUT_OF_HOURS = "out_of_hours"


@dataclass(frozen=True, slots=True)
class LanguagePack:
    """One language's templates and the words used to describe times."""

    code: str
    greeting_named: str
    greeting_neutral: str
    in_hours: str
    out_of_hours: str
    crisis: str
    time_format: str
    date_format: str
    expected: Mapping[str, str]  # within_minutes, within_an_hour, within_hours, today, tomorrow, weekday, date
    back_at: Mapping[str, str]  # today, tomorrow, weekday, date
    weekdays: tuple[str, ...]  # Monday first
    months: tuple[str, ...]  # January first


# ---- the name --------------------------------------------------------------------------------------


def personal_name(raw: str | None) -> str | None:
    """The first name to greet with, or ``None`` when there is no usable one.

    Never an email address, phone number, handle or placeholder ("WhatsApp User"); symbols and emoji
    are dropped; an all-lower or all-upper name gets conventional capitals; long names are refused.
    """
    if not raw or not isinstance(raw, str):
        return None
    text = unicodedata.normalize("NFC", raw)
    lowered = text.lower()
    if "@" in text or "http" in lowered or "www." in lowered or any(ch.isdigit() for ch in text):
        return None
    kept = "".join(ch if _is_name_char(ch) else " " for ch in text)
    words = kept.split()
    if not words:
        return None
    first = words[0].strip(".-'\u2019")
    letters = sum(ch.isalpha() for ch in first)
    if letters < 2 or len(first) > MAX_NAME_CHARS or first.lower() in _GENERIC_NAMES:
        return None
    if first.islower() or first.isupper():
        first = "-".join(part[:1].upper() + part[1:].lower() for part in first.split("-"))
    return first


def _is_name_char(ch: str) -> bool:
    if ch in "-'\u2019.":
        return True
    return unicodedata.category(ch)[0] in ("L", "M")


def greeting(pack: LanguagePack, customer_name: str | None) -> str:
    name = personal_name(customer_name)
    return pack.greeting_named.format(name=name) if name else pack.greeting_neutral


# ---- times -------------------------------------------------------------------------------------------


def _time_text(pack: LanguagePack, moment: datetime) -> str:
    return pack.time_format.format(hour=moment.hour, minute=moment.minute)


def _day_phrase(phrases: Mapping[str, str], pack: LanguagePack, moment: datetime, now: datetime) -> str:
    """``today`` / ``tomorrow`` / ``weekday`` (within the week) / ``date``; both arguments local."""
    days_ahead = (moment.date() - now.date()).days
    key = "today" if days_ahead <= 0 else "tomorrow" if days_ahead == 1 else "weekday" if days_ahead < 7 else "date"
    return phrases[key].format(
        time=_time_text(pack, moment),
        weekday=pack.weekdays[moment.weekday()],
        date=pack.date_format.format(day=moment.day, month=pack.months[moment.month - 1]),
    )


def _round_up_to_quarter_hour(moment: datetime) -> datetime:
    # Promise a little later rather than a little earlier; every real UTC offset is a multiple of
    # 15 minutes, so quarter hours in UTC are quarter hours on the local clock too.
    epoch = moment.timestamp()
    return datetime.fromtimestamp(math.ceil(epoch / 900) * 900, tz=moment.tzinfo)


def describe_expected(
    expected_at: datetime,
    now: datetime,
    pack: LanguagePack,
    calendar: BusinessCalendar,
    *,
    relative_max_minutes: int,
) -> str:
    """A human phrase for the expected reply time: "within about 2 hours" while open and soon (the
    same day, within ``relative_max_minutes``), otherwise "by 16:00 today", "by 10:00 tomorrow",
    "by Monday at 11:00", "by 7 January at 10:00" (rounded up to the quarter hour)."""
    minutes_away = max(0, math.ceil((expected_at - now).total_seconds() / 60))
    local_now = now.astimezone(calendar.zone)
    local_expected = expected_at.astimezone(calendar.zone)
    if calendar.is_open(now) and local_expected.date() == local_now.date() and minutes_away <= relative_max_minutes:
        if minutes_away <= 55:
            return pack.expected["within_minutes"].format(minutes=max(5, math.ceil(minutes_away / 5) * 5))
        if minutes_away <= 60:
            return pack.expected["within_an_hour"]
        return pack.expected["within_hours"].format(hours=math.ceil(minutes_away / 60))
    rounded = _round_up_to_quarter_hour(local_expected).astimezone(calendar.zone)
    return _day_phrase(pack.expected, pack, rounded, local_now)


def describe_back_at(back_at: datetime, now: datetime, pack: LanguagePack, calendar: BusinessCalendar) -> str:
    """When the team is back: "Monday at 09:00", "tomorrow at 09:00", "on 7 January at 09:00"."""
    return _day_phrase(pack.back_at, pack, back_at.astimezone(calendar.zone), now.astimezone(calendar.zone))


# ---- the message ---------------------------------------------------------------------------------------


def compose(
    pack: LanguagePack,
    variant: Variant,
    *,
    customer_name: str | None,
    reference: str,
    expected: str,
    back_at: str,
) -> str:
    """The acknowledgment's body: the variant's template filled in, spaces tidied."""
    return _fill(
        pack.in_hours if variant is Variant.IN_HOURS else pack.out_of_hours,
        name_greeting=greeting(pack, customer_name),
        name=personal_name(customer_name) or "",
        reference=reference,
        expected=expected,
        back_at=back_at,
    )


def _fill(template: str, **values: Any) -> str:
    # An empty {name} leaves "Thanks , we" or a double space behind; tidy spaces, never newlines
    # (and never before ":" or "!", which French typography spaces on purpose).
    text = template.format(**values)
    text = re.sub(r"[ \t]+,", ",", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def with_crisis_line(body: str, status_line: str | None, pack: LanguagePack, max_length: int) -> str:
    """Append the crisis line; shorten it (at a word, with "...") to fit the channel's ``max_length``."""
    line = " ".join((status_line or "").split())
    if not line:
        return body
    text = f"{body}\n{pack.crisis.format(status_line=line)}"
    overflow = len(text) - max_length
    if overflow <= 0:
        return text
    room = len(line) - overflow - len("...")
    if room < MIN_STATUS_LINE_CHARS:
        return text  # the crisis news matters more than one more SMS segment
    cut = line[:room]
    if " " in cut[room // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return f"{body}\n{pack.crisis.format(status_line=cut.rstrip(' ,;:.') + '...')}"
