"""The weekly KPI report: checked by the every-minute schedule, sent once per week.

Once the configured moment of the week has passed (default Monday 08:00 business time), the report
of the previous week (Monday to Sunday, business days) is built from the aggregates, its CSV and
self-contained HTML page are written to the payload bucket (``reports/{monday}/kpis.csv`` and
``.html``), ``omnihub.report.v1`` is published to ``reports.fifo`` and only then is the week marked
as sent. A crash before the mark repeats the same objects and the same message (its dedupe id is the
report id), so integrators see one report per week.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from chalicelib.adapters.observability import logger
from chalicelib.adapters.resources import REPORTS_QUEUE
from chalicelib.adapters.sqs import Outgoing, SqsBus
from chalicelib.core import bucket_layout
from chalicelib.core.ports import PayloadArchive, Repositories
from chalicelib.core.timestamps import format_timestamp
from chalicelib.feedback.config import ReportSchedule
from chalicelib.reports.html import page_bytes, report_page
from chalicelib.reports.kpis import kpi_csv, kpi_report

REPORT_SCHEMA = "omnihub.report.v1"
REPORT_PREFIX = bucket_layout.REPORTS_PREFIX


@dataclass(frozen=True, slots=True)
class ReportPorts:
    repos: Repositories
    bus: SqsBus
    archive: PayloadArchive
    schedule: ReportSchedule
    zone: ZoneInfo


def week_due(now: datetime, schedule: ReportSchedule, zone: ZoneInfo) -> date | None:
    """The Monday of the week whose report is due at ``now`` (the previous week, once this week's
    moment has passed), or None before that moment or when the report is off."""
    if not schedule.enabled:
        return None
    local = now.astimezone(zone)
    this_monday = local.date() - timedelta(days=local.weekday())
    moment = datetime.combine(this_monday + timedelta(days=schedule.weekday),
                              time(schedule.hour, schedule.minute), tzinfo=zone)
    if local < moment:
        return None
    return this_monday - timedelta(days=7)


def send_weekly_report(ports: ReportPorts, now: datetime) -> str:
    """Send the due week's report unless it was sent; returns what was done."""
    kpis = ports.repos.kpis
    monday = week_due(now, ports.schedule, ports.zone)
    if monday is None or kpis is None:
        return "not_due"
    report_id = f"kpis-week-{monday.isoformat()}"
    marker = f"report#{report_id}"
    if kpis.counted(marker):
        return "already_sent"
    period = {"from": monday.isoformat(), "to": (monday + timedelta(days=6)).isoformat()}
    by_day = kpi_report(ports.repos, {**period, "group_by": "day"})
    by_channel = kpi_report(ports.repos, {**period, "group_by": "channel"})
    folder = f"{REPORT_PREFIX}{monday.isoformat()}/"
    csv_pointer = ports.archive.put(f"{folder}kpis.csv", kpi_csv(by_channel).encode("utf-8"))
    html_pointer = ports.archive.put(f"{folder}kpis.html", page_bytes(report_page(by_day, by_channel)))
    ports.bus.publish(REPORTS_QUEUE, Outgoing(
        report_envelope(report_id, by_day, by_channel, csv_pointer, html_pointer, now),
        group_id="kpis-weekly", dedupe_id=report_id,
    ))
    kpis.record(marker, monday.isoformat(), (), {})
    logger.info("weekly report sent", extra={"report_id": report_id})
    return "sent"


def report_envelope(report_id: str, by_day: dict[str, Any], by_channel: dict[str, Any], csv_pointer: str,
                    html_pointer: str, now: datetime) -> dict[str, Any]:
    """``omnihub.report.v1`` (schemas/omnihub.report.v1.json)."""
    totals = {key: value for key, value in by_day.items() if key not in ("groups", "group_by", "sla_targets")}
    return json.loads(json.dumps({
        "schema": REPORT_SCHEMA,
        "report_id": report_id,
        "period": {"from": by_day["from"], "to": by_day["to"], "time_zone": by_day["time_zone"]},
        "generated_at": format_timestamp(now),
        "kpis": {**totals, "by_day": by_day["groups"], "by_channel": by_channel["groups"]},
        "csv": csv_pointer,
        "html": html_pointer,
    }))
