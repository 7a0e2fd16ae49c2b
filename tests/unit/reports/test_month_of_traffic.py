"""The incremental path against the slow one: a generated month of traffic is counted event by event
(in time order, with redeliveries and retried requests), and every figure of /reports/kpis — totals
and per channel, route and day — equals the figure recomputed from the raw records; percentiles are
within the sketch's documented error."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.adapters.memory import memory_repositories
from chalicelib.core.model import Channel, Conversation, ConversationStatus, Priority
from chalicelib.core.ports import Repositories
from chalicelib.core.sla_record import StoredSla
from chalicelib.core.timestamps import format_timestamp
from chalicelib.reports import events
from chalicelib.reports.kpis import kpi_report
from chalicelib.reports.recorder import business_zone
from chalicelib.reports.sketch import RELATIVE_ACCURACY, exact_quantile

CHANNELS = (Channel.TELEGRAM, Channel.WHATSAPP, Channel.SMS, Channel.EMAIL)
ROUTES = ("default", "billing", "vip")
START = datetime(2026, 10, 1, tzinfo=UTC)  # the month crosses the end of summer time (25 October)


@dataclass
class Case:
    conversation: Conversation
    inbound: list[datetime] = field(default_factory=list)
    replies: list[datetime] = field(default_factory=list)
    first_due: datetime | None = None
    resolved_at: datetime | None = None
    answer: tuple[str, int, datetime] | None = None
    reopened: tuple[str, datetime] | None = None  # by "support" (REST) or the "customer" (a reply naming it)


def generate(rng: random.Random, count: int) -> list[Case]:
    cases = []
    for n in range(count):
        opened = START + timedelta(minutes=rng.randrange(0, 31 * 24 * 60))
        channel, route = rng.choice(CHANNELS), rng.choice(ROUTES)
        conversation = Conversation(id=f"cnv_{n}", reference=f"OH-{n}", status=ConversationStatus.OPEN,
                                    priority=Priority.NORMAL, route=route, customer_id=f"cus_{n % 40}",
                                    channel=channel, created_at=format_timestamp(opened),
                                    updated_at=format_timestamp(opened))
        case = Case(conversation, inbound=[opened])
        for _ in range(rng.randrange(0, 3)):
            case.inbound.append(case.inbound[-1] + timedelta(minutes=rng.randrange(1, 300)))
        if rng.random() < 0.85:
            case.first_due = opened + timedelta(minutes=rng.choice([30, 60, 240])) if rng.random() < 0.7 else None
            first = opened + timedelta(seconds=rng.randrange(20, 3 * 24 * 3600))
            case.replies = [first] + [first + timedelta(minutes=rng.randrange(1, 600)) for _ in range(rng.randrange(3))]
            if rng.random() < 0.8:
                case.resolved_at = max(case.replies) + timedelta(minutes=rng.randrange(1, 2000))
                if rng.random() < 0.6:
                    kind = rng.choice(["csat", "nps"])
                    score = rng.randint(1, 5) if kind == "csat" else rng.randint(0, 10)
                    case.answer = (kind, score, case.resolved_at + timedelta(minutes=rng.randrange(0, 600)))
                if rng.random() < 0.2:
                    case.reopened = (rng.choice(["support", "customer"]),
                                     case.resolved_at + timedelta(minutes=rng.randrange(1, 3000)))
        cases.append(case)
    return cases


def feed(repos: Repositories, cases: list[Case], rng: random.Random) -> None:
    """Every event in time order, a quarter of them delivered twice (redelivery, retried request)."""
    timeline: list[tuple[datetime, int, Any]] = []
    for case in cases:
        conv = case.conversation
        for index, at in enumerate(case.inbound):
            key = f"{conv.id}#{index}"
            timeline.append((at, 0, lambda c=conv, k=key, t=at, o=index == 0: events.count_inbound(
                repos, k, c, format_timestamp(t), opened=o)))
        for index, at in enumerate(case.replies):
            before = conv
            if case.first_due is not None:  # routed: the first-response clock runs until the first reply
                due = {"first_response": format_timestamp(case.first_due)} if index == 0 else {}
                before = replace(conv, sla=StoredSla(record={}, revision=1, due=due))
            timeline.append((at, 1, lambda b=before, i=f"out_{conv.id}_{index}", t=at: events.count_agent_reply(
                repos, b, i, b.channel, format_timestamp(t))))
        if case.resolved_at is not None:
            timeline.append((case.resolved_at, 2, lambda c=conv, t=case.resolved_at: events.count_resolution(
                repos, c, replace(c, status=ConversationStatus.RESOLVED), format_timestamp(t))))
        if case.answer is not None:
            kind, score, at = case.answer
            timeline.append((at, 3, lambda c=conv, k=kind, s=score, t=at: events.count_answer(
                repos, c.id, c.channel.value, c.route, k, s, format_timestamp(t))))
        if case.reopened is not None:
            by, at = case.reopened
            change = f"chg_{conv.id}_{by}"  # the status change's id, recorded on the conversation with it
            reopened = replace(conv, status_event_id=change)
            if by == "support":
                count_reopen = lambda c=reopened, t=at: events.count_reopened(repos, c, format_timestamp(t))  # noqa: E731
            else:
                count_reopen = lambda c=reopened, k=change, t=at: events.count_reopened_by_customer(  # noqa: E731
                    repos, c, k, format_timestamp(t))
            timeline.append((at, 4, count_reopen))
    timeline.sort(key=lambda entry: (entry[0], entry[1]))
    for _, _, count in timeline:
        count()
        if rng.random() < 0.25:
            count()


def slow_figures(cases: list[Case], keep: Any, zone: ZoneInfo, first_day: str, last_day: str) -> dict[str, Any]:
    """The figures recomputed from the raw records of the cases ``keep`` selects, by business day."""
    def in_period(at: datetime) -> bool:
        return first_day <= at.astimezone(zone).date().isoformat() <= last_day

    counts: dict[str, int] = defaultdict(int)
    frt: list[float] = []
    resolution: list[float] = []
    csat: list[int] = []
    nps: list[int] = []
    for case in cases:
        created = case.inbound[0]
        counts["inbound"] += sum(1 for at in case.inbound if keep(case, at) and in_period(at))
        counts["opened"] += int(keep(case, created) and in_period(created))
        counts["outbound"] += sum(1 for at in case.replies if keep(case, at) and in_period(at))
        if case.replies and keep(case, case.replies[0]) and in_period(case.replies[0]):
            frt.append((case.replies[0] - created).total_seconds() / 60)
            if case.first_due is not None:
                counts["met" if case.replies[0] <= case.first_due else "breached"] += 1
        if case.resolved_at and keep(case, case.resolved_at) and in_period(case.resolved_at):
            counts["resolved"] += 1
            resolution.append((case.resolved_at - created).total_seconds() / 60)
        if case.reopened and keep(case, case.reopened[1]) and in_period(case.reopened[1]):
            counts["reopened"] += 1
        if case.answer and keep(case, case.answer[2]) and in_period(case.answer[2]):
            (csat if case.answer[0] == "csat" else nps).append(case.answer[1])
    return {"counts": counts, "frt": frt, "resolution": resolution, "csat": csat, "nps": nps}


def assert_equal(report: dict[str, Any], slow: dict[str, Any]) -> None:
    counts = slow["counts"]
    assert report["conversations"] == {"opened": counts["opened"], "resolved": counts["resolved"],
                                       "reopened": counts["reopened"]}
    assert report["messages"] == {"inbound": counts["inbound"], "outbound": counts["outbound"]}
    assert (report["sla"]["met"], report["sla"]["breached"]) == (counts["met"], counts["breached"])
    for name, raw in (("first_response_minutes", slow["frt"]), ("resolution_minutes", slow["resolution"])):
        for q, label in ((0.5, "median"), (0.9, "p90")):
            exact, estimate = exact_quantile(raw, q), report[name][label]
            if exact is None:
                assert estimate is None
            else:
                assert abs(estimate - exact) <= RELATIVE_ACCURACY * exact + 0.01  # the answer is rounded to 0.01
    csat, nps = slow["csat"], slow["nps"]
    assert report["csat"]["responses"] == len(csat)
    assert report["csat"]["distribution"] == {str(s): csat.count(s) for s in range(1, 6)}
    if csat:
        assert report["csat"]["average"] == round(sum(csat) / len(csat), 3)
    promoters, detractors = sum(s >= 9 for s in nps), sum(s <= 6 for s in nps)
    assert (report["nps"]["responses"], report["nps"]["promoters"], report["nps"]["detractors"]) == (
        len(nps), promoters, detractors)
    if nps:
        assert report["nps"]["score"] == round(100 * (promoters - detractors) / len(nps), 1)


@pytest.mark.parametrize("seed", [7, 2026])
def test_a_month_of_traffic_counted_as_it_happens_equals_the_recount(seed: int) -> None:
    rng = random.Random(seed)
    cases = generate(rng, 400)
    repos = memory_repositories()
    feed(repos, cases, rng)
    zone = business_zone()
    everything = lambda case, at: True  # noqa: E731
    for first, last in (("2026-10-01", "2026-10-31"), ("2026-10-25", "2026-10-26"), ("2026-09-30", "2026-11-30")):
        report = kpi_report(repos, {"from": first, "to": last, "group_by": "channel"})
        assert_equal(report, slow_figures(cases, everything, zone, first, last))
        for channel in CHANNELS:
            group = report["groups"].get(channel.value)
            slow = slow_figures(cases, lambda case, at, c=channel: case.conversation.channel is c, zone, first, last)
            if group is None:
                assert not slow["counts"]["inbound"] and not slow["counts"]["outbound"]
            else:
                assert_equal(group, slow)
    by_route = kpi_report(repos, {"from": "2026-10-01", "to": "2026-10-31", "group_by": "route"})
    for route in ROUTES:
        assert_equal(by_route["groups"][route],
                     slow_figures(cases, lambda case, at, r=route: case.conversation.route == r, zone,
                                  "2026-10-01", "2026-10-31"))
    by_day = kpi_report(repos, {"from": "2026-10-01", "to": "2026-10-31", "group_by": "day"})
    for day, group in by_day["groups"].items():
        assert_equal(group, slow_figures(cases, everything, zone, day, day))
