"""Property: whatever happens to a stored conversation (customer messages, agent replies, pending and
back, sweeps at any moment) on the business calendar across weekends, holidays and both daylight-saving
changes, the sweeper publishes each ladder level of each breach at most once, in order, and nothing
while the conversation is pending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.adapters.memory import memory_repositories
from chalicelib.core.model import ConversationStatus
from chalicelib.core.timestamps import format_timestamp
from chalicelib.sla.sweeper import sweep
from chalicelib.sla.timers import after_agent_reply, after_customer_message, after_status_change, sla_setup
from tests.sla_fixtures import CONFIG_DOCUMENT, CountingBus, config, routed_conversation, sweep_ports

ROME = ZoneInfo("Europe/Rome")
BUSINESS = config(sla={"calendar": "business", "policies": {
    "normal": {"first_response_minutes": 30, "next_response_minutes": 60, "resolution_minutes": 600},
    "urgent": {"first_response_minutes": 15, "next_response_minutes": 30, "resolution_minutes": 300}}})
assert CONFIG_DOCUMENT["escalation"]["levels"][1]["action"] == "reroute"  # the ladder re-routes to urgent
STARTS = (
    datetime(2026, 3, 27, 17, 30, tzinfo=ROME),  # Friday evening before the spring-forward Sunday
    datetime(2026, 10, 23, 17, 45, tzinfo=ROME),  # Friday evening before the fall-back Sunday
    datetime(2026, 12, 24, 12, 0, tzinfo=ROME),  # into the Christmas holidays
    datetime(2026, 4, 3, 16, 0, tzinfo=ROME),  # Easter Monday (2026-04-06) is a holiday
)
steps = st.lists(
    st.tuples(st.integers(min_value=0, max_value=900),
              st.sampled_from(("sweep", "sweep", "sweep", "message", "reply", "pending", "open"))),
    max_size=15,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=steps, start=st.sampled_from(STARTS))
def test_each_level_at_most_once_in_order_and_nothing_while_pending(
    events: list[tuple[int, str]], start: datetime
) -> None:
    repos, bus, setup = memory_repositories(), CountingBus(BUSINESS), sla_setup(BUSINESS)
    ports = sweep_ports(repos, BUSINESS, bus)
    now = start.astimezone(UTC)
    routed_conversation(repos, setup, at=now)
    status = ConversationStatus.OPEN
    for gap, event in [*events, (60 * 24 * 30, "sweep")]:
        now += timedelta(minutes=gap)
        stamp = format_timestamp(now)
        if event == "sweep":
            published = len(bus.escalations())
            sweep(ports, now)
            if status is ConversationStatus.PENDING:
                assert len(bus.escalations()) == published, "a level fell due while pending"
        elif event == "message":
            after_customer_message(repos.conversations, "cnv_1", stamp, setup)
        elif event == "reply":
            after_agent_reply(repos.conversations, "cnv_1", stamp, setup)
        else:
            status = ConversationStatus(event)
            repos.conversations.set_status("cnv_1", status, stamp)
            after_status_change(repos.conversations, "cnv_1", setup)
    assert set(bus.published.values()) <= {1}, "a publication was repeated"
    by_reason: dict[str, list[int]] = {}
    for body in bus.escalations():
        by_reason.setdefault(body["reason"], []).append(body["level"])
    for reason, levels in by_reason.items():  # runs of 1, 2, ... n: one per breach (a new cycle restarts at 1)
        for previous, level in zip([0, *levels], levels, strict=False):
            assert level in (1, previous + 1), f"{reason}: levels out of order: {levels}"
