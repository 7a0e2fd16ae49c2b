"""kpi_reports: what GET /reports/kpis costs for a day and for a year of aggregates, and whether the
number of conversations changes it.

Moto in-process, the table provisioned as `make run` does. A year of days is counted through the
DynamoDB KPI repository (the worker's path: a conditional marker, then ``ADD`` on the all, channel and
route items of the day), one event a day on each of 4 channels (their routes taking turns among 3); over
the last week every event ``HEAVY`` times (the same items, bigger counters). Measured: DynamoDB calls and wall
time of ``kpi_report`` grouped by channel, for one day, the heavy week and the whole year. Floors: the
calls of one day (two queries: the totals and the channel items), and the day's time in the same run.
The call count follows the days × values read (1 MB pages), never the conversations counted.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from datetime import date, timedelta
from typing import Any

from bench.common import RESULTS, STAGE, apply_environment, bench_environment, quiet_powertools
from bench.report import Row

NAME = "kpi_reports"
OUTPUT = RESULTS / "kpis.json"
CHANNELS = ("telegram", "whatsapp", "sms", "email")
ROUTES = ("default", "billing", "vip")
HEAVY = 10  # events per day and channel in the last week
LAST_DAY = date(2026, 12, 31)
# What one conversation's events add to a day (an inbound message that opened it, a reply, a resolve).
COUNTS = {"inbound": 1, "opened": 1, "outbound": 1, "resolved": 1, "sla_met": 1, "frt_b120": 1, "res_b410": 1,
          "ack_b0": 1, "csat_responses": 1, "csat_sum": 4, "csat_4": 1}


def _timed(work: Any, counts: Counter[str], repeats: int) -> tuple[float, int]:
    """Median seconds of ``repeats`` runs, and the DynamoDB calls of one run."""
    seconds = []
    for _ in range(repeats):
        counts.clear()
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), sum(counts.values())


def measure(days: int, repeats: int) -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from chalicelib.adapters.dynamo import dynamo_repositories
    from chalicelib.adapters.resources import table_name
    from chalicelib.core.kpi_record import KpiDimension
    from chalicelib.reports.kpis import kpi_report
    from devstack.provision import provision

    apply_environment(bench_environment())
    with mock_aws(), quiet_powertools():
        session = boto3.session.Session(region_name="us-east-1")
        provision(session, STAGE)
        counts: Counter[str] = Counter()
        dynamodb = session.client("dynamodb")
        dynamodb.meta.events.register("before-call", lambda model, **_: counts.update([model.name]))
        repos = dynamo_repositories(dynamodb, table_name(STAGE))
        assert repos.kpis is not None
        first_day = LAST_DAY - timedelta(days=days - 1)
        events = 0
        for offset in range(days):
            day = (first_day + timedelta(days=offset)).isoformat()
            times = HEAVY if offset >= days - 7 else 1
            for index, channel in enumerate(CHANNELS):
                route = ROUTES[(offset + index) % len(ROUTES)]
                for n in range(times):
                    repos.kpis.record(f"bench#{day}#{channel}#{n}", day, KpiDimension.of(channel, route), COUNTS)
                    events += 1
        last, week_start = LAST_DAY.isoformat(), (LAST_DAY - timedelta(days=6)).isoformat()
        quiet_day = (LAST_DAY - timedelta(days=7)).isoformat()

        def report(first: str, to: str) -> dict[str, Any]:
            return kpi_report(repos, {"from": first, "to": to, "group_by": "channel"})

        day_seconds, day_calls = _timed(lambda: report(quiet_day, quiet_day), counts, repeats)
        heavy_seconds, heavy_calls = _timed(lambda: report(last, last), counts, repeats)
        year_seconds, year_calls = _timed(lambda: report(first_day.isoformat(), last), counts, repeats)
        week = report(week_start, last)
        assert week["conversations"]["opened"] == 7 * HEAVY * len(CHANNELS)  # the figures are right
    return {"days": days, "events": events, "repeats": repeats,
            "day": {"seconds": day_seconds, "calls": day_calls},
            "heavy_day": {"seconds": heavy_seconds, "calls": heavy_calls, "events_per_value": HEAVY},
            "year": {"seconds": year_seconds, "calls": year_calls}}


def run(quick: bool) -> list[Row]:
    result = measure(days=60 if quick else 365, repeats=3 if quick else 7)
    RESULTS.mkdir(exist_ok=True)
    OUTPUT.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    day, heavy, year = result["day"], result["heavy_day"], result["year"]
    span = f"{result['days']} days"
    return [
        Row(f"{NAME}_day_calls", day["calls"], "calls", floor=2, goal="1.0",
            note="DynamoDB calls for one day grouped by channel (floor: one query per dimension kind)"),
        Row(f"{NAME}_heavy_day_calls", heavy["calls"], "calls", floor=day["calls"], goal="1.0",
            note=f"a day with {HEAVY}x the conversations: the same items, so the same calls"),
        Row(f"{NAME}_heavy_day_seconds", heavy["seconds"], "s", floor=day["seconds"], goal="~1",
            note="moto in-process, median of the runs"),
        Row(f"{NAME}_year_calls", year["calls"], "calls", floor=day["calls"],
            note=f"{span} grouped by channel: the items read grow with days x values (1 MB query pages)"),
        Row(f"{NAME}_year_seconds", year["seconds"], "s", floor=day["seconds"],
            note=f"{span} vs one day, moto in-process: reading and merging {result['days']} x 5 items"),
    ]
