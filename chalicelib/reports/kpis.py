"""``GET /reports/kpis`` and ``/reports/kpis.csv``: the figures of a period from the aggregates.

The period is a range of business days (the business calendar's time zone), both ends included,
at most :data:`MAX_DAYS` long. One query per dimension kind reads every day × value item of the
period: the cost follows the days and values, never the number of conversations.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from datetime import date
from typing import Any

from chalicelib.core.errors import BadRequest, StoreUnavailable
from chalicelib.core.kpi_record import ALL
from chalicelib.core.ports import Repositories
from chalicelib.reports.figures import add_counts, figures

MAX_DAYS = 731  # two years
GROUPINGS = ("channel", "route", "day")


def period(query: Mapping[str, str]) -> tuple[str, str]:
    """``from`` and ``to`` (``YYYY-MM-DD``), validated: 400 for a missing, malformed or too long period."""
    try:
        first = date.fromisoformat(str(query.get("from") or "")[:10])
        last = date.fromisoformat(str(query.get("to") or "")[:10])
    except ValueError:
        raise BadRequest("from and to are required, as YYYY-MM-DD (business days, both included)") from None
    if len(str(query.get("from"))) != 10 or len(str(query.get("to"))) != 10:
        raise BadRequest("from and to are required, as YYYY-MM-DD (business days, both included)")
    if last < first:
        raise BadRequest("to must not be before from")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadRequest(f"a report covers at most {MAX_DAYS} days")
    return first.isoformat(), last.isoformat()


def grouping(query: Mapping[str, str]) -> str | None:
    group_by = query.get("group_by") or None
    if group_by is not None and group_by not in GROUPINGS:
        raise BadRequest(f"group_by must be one of {', '.join(GROUPINGS)}")
    return group_by


def kpi_report(repos: Repositories, query: Mapping[str, str]) -> dict[str, Any]:
    """The issue's shape: ``{"from", "to", <figures>, "groups": {key: <figures>}}`` (``groups`` empty
    without ``group_by``), plus ``group_by``, ``time_zone`` and ``sla_targets`` (what the figures are
    measured against, for the console's charts)."""
    first, last = period(query)
    group_by = grouping(query)
    if repos.kpis is None:
        raise StoreUnavailable("KPI aggregates are not configured")
    totals = repos.kpis.read(ALL, first, last)
    groups: dict[str, list[Mapping[str, int]]] = {}
    if group_by == "day":
        for day, _, counts in totals:
            groups.setdefault(day, []).append(counts)
    elif group_by is not None:
        for _, value, counts in repos.kpis.read(group_by, first, last):
            groups.setdefault(value, []).append(counts)
    return {
        "from": first, "to": last, "group_by": group_by, "time_zone": _time_zone(),
        **figures(add_counts(counts for _, _, counts in totals)),
        "groups": {key: figures(add_counts(parts)) for key, parts in sorted(groups.items())},
        "sla_targets": sla_targets(),
    }


def sla_targets() -> dict[str, Any]:
    """The SLA targets in force (service_levels.v1.json): ``{"calendar": "business"|"always", "policies":
    {priority: {"first_response_minutes", "next_response_minutes", "resolution_minutes"}}}``."""
    from chalicelib.sla.service_levels import load_service_levels

    sla = load_service_levels().sla
    return {"calendar": sla.calendar_mode, "policies": {
        priority.value: {"first_response_minutes": targets.first_response_minutes,
                         "next_response_minutes": targets.next_response_minutes,
                         "resolution_minutes": targets.resolution_minutes}
        for priority, targets in sla.policies.items()}}


def _time_zone() -> str:
    from chalicelib.reports.recorder import business_zone

    return business_zone().key


CSV_COLUMNS = (
    "group", "from", "to", "conversations_opened", "conversations_resolved", "conversations_reopened",
    "messages_inbound", "messages_outbound", "first_response_minutes_median", "first_response_minutes_p90",
    "resolution_minutes_median", "resolution_minutes_p90", "acknowledgment_seconds_median",
    "acknowledgment_seconds_p90", "sla_met", "sla_breached", "sla_attainment", "escalations", "csat_responses",
    "csat_average", *(f"csat_{score}" for score in range(1, 6)), "nps_responses", "nps_score", "nps_promoters",
    "nps_passives", "nps_detractors",
)


def csv_row(group: str, report: Mapping[str, Any], figures_of: Mapping[str, Any]) -> dict[str, Any]:
    """One CSV row: the figures flattened, ``_`` joining the JSON path (empty for a null)."""
    row: dict[str, Any] = {"group": group, "from": report["from"], "to": report["to"]}
    for section in ("conversations", "messages", "first_response_minutes", "resolution_minutes",
                    "acknowledgment_seconds", "sla", "nps"):
        for name, value in figures_of[section].items():
            row[f"{section}_{name}"] = value
    row["escalations"] = figures_of["escalations"]
    csat = figures_of["csat"]
    row.update(csat_responses=csat["responses"], csat_average=csat["average"],
               **{f"csat_{score}": count for score, count in csat["distribution"].items()})
    return {column: "" if row.get(column) is None else row[column] for column in CSV_COLUMNS}


def kpi_csv(report: Mapping[str, Any]) -> str:
    """The same report as CSV: a ``total`` row, then one per group (RFC 4180, CRLF line ends)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerow(csv_row("total", report, report))
    for key, group in report["groups"].items():
        writer.writerow(csv_row(_csv_safe(key), report, group))
    return out.getvalue()


def _csv_safe(text: str) -> str:
    """A route or channel name never starts a spreadsheet formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
