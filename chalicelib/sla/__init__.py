"""SLA: targets per priority and when they fall due, and the service levels (business calendar and
SLA targets) that acknowledgments use and routing, SLA timers and crisis pacing can share. Pure apart from
reading the versioned configuration file."""

from __future__ import annotations

from chalicelib.sla.policy import (
    CALENDAR_MODES,
    MAX_TARGET_MINUTES,
    CalendarMode,
    SlaConfigError,
    SlaKind,
    SlaPolicies,
    SlaTargets,
    parse_sla,
)
from chalicelib.sla.service_levels import (
    DEFAULT_SERVICE_LEVELS_PATH,
    SERVICE_LEVELS_PATH_ENV,
    ServiceLevels,
    ServiceLevelsError,
    clear_service_levels_cache,
    load_service_levels,
    parse_service_levels,
    service_levels_path,
)

__all__ = [
    "CALENDAR_MODES",
    "DEFAULT_SERVICE_LEVELS_PATH",
    "MAX_TARGET_MINUTES",
    "SERVICE_LEVELS_PATH_ENV",
    "CalendarMode",
    "ServiceLevels",
    "ServiceLevelsError",
    "SlaConfigError",
    "SlaKind",
    "SlaPolicies",
    "SlaTargets",
    "clear_service_levels_cache",
    "load_service_levels",
    "parse_service_levels",
    "parse_sla",
    "service_levels_path",
]
