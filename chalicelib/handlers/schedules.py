"""Scheduled handlers (every minute on AWS; the local pump runs them too)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters import runtime
from chalicelib.core.errors import ModelError
from chalicelib.core.timestamps import parse_timestamp


def sweep_sla(event: dict[str, Any] | None = None) -> dict[str, Any]:
    """The SLA sweeper (:mod:`chalicelib.sla.sweeper`) as of the scheduled event's ``time`` (EventBridge
    sets it to the minute the rule fired; the local pump sets it too), else now."""
    from chalicelib.routing.config import load_routing_config
    from chalicelib.sla.sweeper import SweepPorts, sweep
    from chalicelib.sla.timers import sla_setup

    config = load_routing_config()
    ports = SweepPorts(repos=runtime.repositories(), bus=runtime.bus(), setup=sla_setup(config), config=config)
    return sweep(ports, sweep_time(event)).to_dict()


def sweep_time(event: dict[str, Any] | None) -> datetime:
    """The event's ``time`` when it is a valid UTC timestamp, else the clock."""
    stated = (event or {}).get("time")
    if isinstance(stated, str) and len(stated) <= 40:
        try:
            return parse_timestamp(stated)
        except (ModelError, ValueError):
            pass
    return datetime.now(UTC)
