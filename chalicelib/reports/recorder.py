"""Counting an event in the KPI aggregates: its business day (the business calendar's time zone) and
its dimensions (the totals, its channel, its route), once per event key."""

from __future__ import annotations

from collections.abc import Mapping
from zoneinfo import ZoneInfo

from chalicelib.adapters.observability import logger
from chalicelib.core.errors import RetryableError
from chalicelib.core.kpi_record import KpiDimension
from chalicelib.core.ports import KpiRepository
from chalicelib.core.timestamps import parse_timestamp


def business_zone() -> ZoneInfo:
    """The business calendar's zone (chalicelib/config/service_levels.v1.json): report days are its days."""
    from chalicelib.sla.service_levels import load_service_levels

    return load_service_levels().calendar.zone


def business_day(at: str, zone: ZoneInfo | None = None) -> str:
    """The business day (``YYYY-MM-DD`` in the calendar's zone) a UTC timestamp falls on."""
    return parse_timestamp(at).astimezone(zone or business_zone()).date().isoformat()


def count_event(
    kpis: KpiRepository | None, event_key: str, at: str, channel: str, route: str | None, counts: Mapping[str, int],
    *, zone: ZoneInfo | None = None,
) -> bool:
    """Add ``counts`` to the day of ``at`` for the event's dimensions, once per ``event_key``."""
    if kpis is None or not counts:
        return False
    return kpis.record(event_key, business_day(at, zone), KpiDimension.of(channel, route), counts)


def count_event_softly(
    kpis: KpiRepository | None, event_key: str, at: str, channel: str, route: str | None, counts: Mapping[str, int],
) -> None:
    """The same from a REST use case whose work is already done: a store outage loses this count (logged)
    rather than failing a request the client would retry (an agent reply without Idempotency-Key twice)."""
    try:
        count_event(kpis, event_key, at, channel, route, counts)
    except RetryableError:
        logger.warning("KPI count lost (the store is unavailable)", extra={"kpi_event": event_key.split("#")[0]})
