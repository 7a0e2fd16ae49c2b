"""Scheduled handlers (every minute on AWS; the local pump runs them too)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters import runtime
from chalicelib.adapters.observability import logger
from chalicelib.core.errors import ModelError, PermanentError, RetryableError
from chalicelib.core.timestamps import format_timestamp, parse_timestamp


def sweep_sla(event: dict[str, Any] | None = None) -> dict[str, Any]:
    """The SLA sweeper (:mod:`chalicelib.sla.sweeper`) as of the scheduled event's ``time`` (EventBridge
    sets it to the minute the rule fired; the local pump sets it too), else now."""
    from chalicelib.routing.config import load_routing_config
    from chalicelib.sla.sweeper import SweepPorts, sweep
    from chalicelib.sla.timers import sla_setup

    config = load_routing_config()
    ports = SweepPorts(repos=runtime.repositories(), bus=runtime.bus(), setup=sla_setup(config), config=config)
    at = sweep_time(event)
    swept = sweep(ports, at).to_dict()
    try:
        logger.info("feedback schedule", extra=feedback_schedule(at))
    except (RetryableError, PermanentError):  # the next minute tries again: the due list and the week stand
        logger.exception("feedback schedule failed; the next minute retries")
    return swept


def feedback_schedule(at: datetime) -> dict[str, Any]:
    """The same minute's feedback work: delayed surveys now due, and the weekly KPI report once due
    (its own report, logged: the sweep's answer stays the sweeper's)."""
    from chalicelib.adapters.s3 import S3PayloadArchive
    from chalicelib.feedback.asking import send_due_surveys
    from chalicelib.feedback.config import load_feedback_config
    from chalicelib.reports.periodic import ReportPorts, send_weekly_report
    from chalicelib.reports.recorder import business_zone

    settings, repos, feedback = runtime.settings(), runtime.repositories(), load_feedback_config()
    surveys = send_due_surveys(repos, environ=settings.environ, config=feedback, now=format_timestamp(at))
    archive = S3PayloadArchive(runtime.aws_client("s3"), settings.bucket_name)
    report = send_weekly_report(
        ReportPorts(repos=repos, bus=runtime.bus(), archive=archive, schedule=feedback.periodic_report,
                    zone=business_zone()), at,
    )
    return {"surveys": surveys, "weekly_report": report}


def sweep_time(event: dict[str, Any] | None) -> datetime:
    """The event's ``time`` when it is a valid UTC timestamp, else the clock."""
    stated = (event or {}).get("time")
    if isinstance(stated, str) and len(stated) <= 40:
        try:
            return parse_timestamp(stated)
        except (ModelError, ValueError):
            pass
    return datetime.now(UTC)
