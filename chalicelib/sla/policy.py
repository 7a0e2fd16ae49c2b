"""SLA targets per priority, and when each falls due (pure).

The ``sla`` block is a public contract (routing configuration, service levels):

``{"calendar": "business" | "always",
   "policies": {"urgent" | "high" | "normal" | "low":
                {"first_response_minutes": n, "next_response_minutes": n, "resolution_minutes": n}}}``

one entry per priority, each minute value an integer >= 1. ``business`` counts working minutes of
the business calendar (evenings, weekends and holidays do not count); ``always`` counts every
minute, round the clock. Keys starting with ``_`` are comments.

``normal`` is required; a priority left out takes normal's targets (the routing issue's published
example configures ``normal`` alone, so a file written that way must load). ``calendar`` left out
is ``business``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Literal

from chalicelib.core.calendar import BusinessCalendar, CalendarError
from chalicelib.core.model import Priority

CalendarMode = Literal["business", "always"]
CALENDAR_MODES: tuple[CalendarMode, ...] = ("business", "always")

# Bounded so that every due time is computable: 100,000 minutes is about 70 days round the clock,
# or about 200 eight-hour working days, well inside the business calendar's search horizon.
MAX_TARGET_MINUTES = 100_000


class SlaConfigError(ValueError):
    """An ``sla`` block is invalid; the message starts with the field's path."""


class SlaKind(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


@dataclass(frozen=True, slots=True)
class SlaTargets:
    """One priority's targets, in minutes of the SLA calendar."""

    first_response_minutes: int
    next_response_minutes: int
    resolution_minutes: int

    def minutes(self, kind: SlaKind | str) -> int:
        kind = SlaKind(kind)
        if kind is SlaKind.FIRST_RESPONSE:
            return self.first_response_minutes
        if kind is SlaKind.NEXT_RESPONSE:
            return self.next_response_minutes
        return self.resolution_minutes


@dataclass(frozen=True, slots=True)
class SlaPolicies:
    calendar_mode: CalendarMode
    policies: Mapping[Priority, SlaTargets]

    def targets(self, priority: Priority | str) -> SlaTargets:
        return self.policies[Priority(priority)]

    def due(
        self, start: datetime, priority: Priority | str, kind: SlaKind | str, calendar: BusinessCalendar
    ) -> datetime:
        """When ``kind`` falls due for a clock started at ``start``, in the calendar's time zone.

        ``business``: that many working minutes of ``calendar`` (a start while closed counts from
        the next opening). ``always``: that many real minutes, whatever the calendar says.

        Compare or subtract due times in UTC (``.astimezone(UTC)``): Python compares two datetimes
        that share a tzinfo by wall clock, which is an hour off around a fall-back change.
        """
        minutes = self.targets(priority).minutes(kind)
        if self.calendar_mode == "business":
            return calendar.add_business_minutes(start, minutes)
        if start.tzinfo is None or start.utcoffset() is None:
            raise CalendarError(f"an aware datetime is required, got the naive {start.isoformat()}")
        return (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(calendar.zone)


_TARGET_FIELDS = tuple(f"{kind.value}_minutes" for kind in SlaKind)


def parse_sla(data: Any, path: str = "sla") -> SlaPolicies:
    """Validate an ``sla`` block; errors name the field, e.g.
    ``sla.policies.normal.first_response_minutes: must be an integer >= 1, got 0``."""
    if not isinstance(data, Mapping):
        raise SlaConfigError(f"{path}: must be an object with calendar and policies")
    _reject_unknown(data, ("calendar", "policies"), path)
    mode = data.get("calendar", "business")
    if mode not in CALENDAR_MODES:
        raise SlaConfigError(
            f"{path}.calendar: must be 'business' (the business-hours calendar) or 'always' (24/7), got {_shown(mode)}"
        )
    policies_data = data.get("policies")
    priorities = tuple(p.value for p in Priority)
    if not isinstance(policies_data, Mapping):
        raise SlaConfigError(f"{path}.policies: required, an object of priority ({', '.join(priorities)}) → targets")
    _reject_unknown(policies_data, priorities, f"{path}.policies")
    if Priority.NORMAL.value not in policies_data:
        raise SlaConfigError(
            f"{path}.policies.normal: required, an object with {', '.join(_TARGET_FIELDS)} "
            "(priorities left out take normal's targets)"
        )
    configured = {
        priority: _targets(policies_data[priority.value], f"{path}.policies.{priority.value}")
        for priority in Priority
        if priority.value in policies_data
    }
    policies = {priority: configured.get(priority, configured[Priority.NORMAL]) for priority in Priority}
    return SlaPolicies(calendar_mode=mode, policies=MappingProxyType(policies))


def _targets(entry: Any, path: str) -> SlaTargets:
    if not isinstance(entry, Mapping):
        raise SlaConfigError(f"{path}: must be an object with {', '.join(_TARGET_FIELDS)}")
    _reject_unknown(entry, _TARGET_FIELDS, path)
    first, next_, resolution = (_minutes(entry, field, f"{path}.{field}") for field in _TARGET_FIELDS)
    return SlaTargets(first_response_minutes=first, next_response_minutes=next_, resolution_minutes=resolution)


def _minutes(entry: Mapping[str, Any], field: str, path: str) -> int:
    if field not in entry:
        raise SlaConfigError(f"{path}: required, an integer >= 1 (minutes)")
    value = entry[field]
    if type(value) is not int or value < 1:  # type(...) so that true/false and 2.5 are refused
        raise SlaConfigError(f"{path}: must be an integer >= 1, got {_shown(value)}")
    if value > MAX_TARGET_MINUTES:
        raise SlaConfigError(f"{path}: must be at most {MAX_TARGET_MINUTES} minutes, got {value}")
    return value


def _shown(value: Any) -> str:
    # The value as the file wrote it, cut short: an error message is not the place for a pasted blob.
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _reject_unknown(data: Mapping[str, Any], allowed: tuple[str, ...], path: str) -> None:
    # Keys starting with "_" are comments; anything else unknown is most likely a typo.
    unknown = sorted(str(k) for k in data if k not in allowed and not str(k).startswith("_"))
    if unknown:
        raise SlaConfigError(f"{path}: unknown key(s) {', '.join(unknown)} (expected {', '.join(allowed)})")
