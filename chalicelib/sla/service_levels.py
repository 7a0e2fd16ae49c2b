"""Service levels: the business calendar and the SLA targets, in one file of their own so that
acknowledgments (today), routing, SLA timers and crisis pacing can share them.

One versioned file, ``chalicelib/config/service_levels.v1.json``; ``OMNIHUB_SERVICE_LEVELS_CONFIG``
names another. It is read and validated once per process; an invalid file raises
:class:`ServiceLevelsError` naming the file and the key, every time it is asked for.

``{"version": 1, "business_hours": {"time_zone", "weekly", "holidays"}, "sla": {"calendar", "policies"}}``
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from chalicelib.core.calendar import BusinessCalendar, CalendarError
from chalicelib.core.config_file import ConfigFile, read_json_config
from chalicelib.core.errors import ConfigError
from chalicelib.core.model import Priority
from chalicelib.sla.policy import SlaConfigError, SlaKind, SlaPolicies, parse_sla

SUPPORTED_VERSION = 1
SERVICE_LEVELS_PATH_ENV = "OMNIHUB_SERVICE_LEVELS_CONFIG"
DEFAULT_SERVICE_LEVELS_PATH = Path(__file__).resolve().parents[1] / "config" / "service_levels.v1.json"

_TOP_LEVEL_KEYS = ("version", "business_hours", "sla")


class ServiceLevelsError(ConfigError, ValueError):
    """The service-levels configuration is unreadable or invalid; the message names file and key."""


@dataclass(frozen=True, slots=True, eq=False)
class ServiceLevels:
    calendar: BusinessCalendar
    sla: SlaPolicies
    source: str

    def due(self, start: datetime, priority: Priority | str, kind: SlaKind | str) -> datetime:
        """When ``kind`` falls due for ``priority`` on a clock started at ``start``."""
        return self.sla.due(start, priority, kind, self.calendar)


def parse_service_levels(data: Any, source: str = "<service levels>") -> ServiceLevels:
    """Validate a decoded service-levels document; errors read ``<source>: <key path>: <problem>``."""

    def fail(path: str, message: str) -> ServiceLevelsError:
        return ServiceLevelsError(f"{source}: {path}: {message}")

    if not isinstance(data, Mapping):
        raise fail("(top level)", "must be a JSON object")
    version = data.get("version")
    if type(version) is not int or version != SUPPORTED_VERSION:
        got = "required" if version is None else f"unsupported version {version!r}"
        raise fail("version", f"{got}; this code reads version {SUPPORTED_VERSION}")
    unknown = sorted(str(k) for k in data if k not in _TOP_LEVEL_KEYS and not str(k).startswith("_"))
    if unknown:
        raise fail("(top level)", f"unknown key(s) {', '.join(unknown)} (expected {', '.join(_TOP_LEVEL_KEYS)})")
    try:
        calendar = BusinessCalendar.from_config(data.get("business_hours"))
    except CalendarError as err:
        raise fail("business_hours", str(err)) from err
    try:
        sla = parse_sla(data.get("sla"), "sla")
    except SlaConfigError as err:
        raise ServiceLevelsError(f"{source}: {err}") from err  # the message starts with its sla.… path
    return ServiceLevels(calendar=calendar, sla=sla, source=source)


def _read_file(path: str) -> ServiceLevels:
    data = read_json_config(path, "service-levels configuration", ServiceLevelsError)
    return parse_service_levels(data, source=path)


_FILE = ConfigFile(SERVICE_LEVELS_PATH_ENV, DEFAULT_SERVICE_LEVELS_PATH, _read_file)
service_levels_path = _FILE.path  # path > $OMNIHUB_SERVICE_LEVELS_CONFIG > the shipped default
load_service_levels = _FILE.load  # read and validated once per file
clear_service_levels_cache = _FILE.clear
