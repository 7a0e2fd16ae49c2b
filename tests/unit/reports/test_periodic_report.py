"""The weekly report: due after the configured moment of the week in business time, sent once, its CSV and
HTML page in the payload bucket and ``omnihub.report.v1`` (valid against its schema) on reports.fifo."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import jsonschema

from chalicelib.adapters.memory import MemoryBus, MemoryPayloadArchive, memory_repositories
from chalicelib.adapters.resources import REPORTS_QUEUE
from chalicelib.core.kpi_record import KpiDimension
from chalicelib.feedback.config import ReportSchedule
from chalicelib.reports import figures
from chalicelib.reports.kpis import CSV_COLUMNS
from chalicelib.reports.periodic import ReportPorts, send_weekly_report, week_due
from tests.conftest import load_schema

ROME = ZoneInfo("Europe/Rome")


def test_the_previous_week_is_due_from_monday_eight_business_time() -> None:
    schedule = ReportSchedule()
    # Monday 7 December 2026, 07:59 in Rome (06:59 UTC): not yet; 08:00 Rome: the week of 30 November.
    assert week_due(datetime(2026, 12, 7, 6, 59, tzinfo=UTC), schedule, ROME) is None
    assert week_due(datetime(2026, 12, 7, 7, 0, tzinfo=UTC), schedule, ROME) == date(2026, 11, 30)
    assert week_due(datetime(2026, 12, 13, 22, 59, tzinfo=UTC), schedule, ROME) == date(2026, 11, 30)
    assert week_due(datetime(2026, 12, 13, 23, 0, tzinfo=UTC), schedule, ROME) is None  # Monday 14, 00:00 Rome
    friday = ReportSchedule(weekday=4, hour=17, minute=30)
    assert week_due(datetime(2026, 12, 11, 16, 29, tzinfo=UTC), friday, ROME) is None
    assert week_due(datetime(2026, 12, 11, 16, 30, tzinfo=UTC), friday, ROME) == date(2026, 11, 30)
    assert week_due(datetime(2026, 12, 11, 16, 30, tzinfo=UTC), ReportSchedule(enabled=False), ROME) is None


def test_the_weekly_report_is_written_and_published_once() -> None:
    repos, bus, archive = memory_repositories(), MemoryBus(), MemoryPayloadArchive()
    dims = KpiDimension.of("telegram", "default")
    assert repos.kpis is not None
    repos.kpis.record("a", "2026-11-30", dims, {**figures.inbound_message(opened=True), **figures.resolution(42)})
    repos.kpis.record("b", "2026-12-06", KpiDimension.of("sms", "billing"), figures.survey_answer("csat", 4))
    repos.kpis.record("c", "2026-12-07", dims, figures.inbound_message(opened=True))  # the next week: not in it
    ports = ReportPorts(repos=repos, bus=bus, archive=archive, schedule=ReportSchedule(), zone=ROME)  # type: ignore[arg-type]
    now = datetime(2026, 12, 7, 7, 1, tzinfo=UTC)
    assert send_weekly_report(ports, now) == "sent"
    assert send_weekly_report(ports, now) == "already_sent"
    [envelope] = bus.bodies(REPORTS_QUEUE)
    jsonschema.validate(envelope, load_schema("omnihub.report.v1"))
    assert envelope["report_id"] == "kpis-week-2026-11-30"
    assert envelope["period"] == {"from": "2026-11-30", "to": "2026-12-06", "time_zone": "Europe/Rome"}
    assert envelope["kpis"]["messages"]["inbound"] == 1 and envelope["kpis"]["csat"]["responses"] == 1
    assert set(envelope["kpis"]["by_channel"]) == {"telegram", "sms"}
    assert envelope["csv"].endswith("payloads/reports/2026-11-30/kpis.csv")
    rows = list(csv.DictReader(io.StringIO(archive.objects["reports/2026-11-30/kpis.csv"].decode())))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [row["group"] for row in rows] == ["total", "sms", "telegram"]
    assert rows[0]["conversations_resolved"] == "1" and rows[1]["csat_4"] == "1"
    page = archive.objects["reports/2026-11-30/kpis.html"].decode()
    assert page.startswith("<!doctype html>") and page.count("<svg") == 4
    assert "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")  # self-contained
    assert "<script" not in page
