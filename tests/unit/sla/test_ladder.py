from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core.calendar import BusinessCalendar
from chalicelib.core.model import ModelError, Priority
from chalicelib.sla.ladder import (
    DEFAULT_LADDER,
    DueLevel,
    EscalationAction,
    EscalationLevel,
    LadderConflict,
    SlaState,
    add_sla_minutes,
    agent_reply,
    customer_message,
    due_levels,
    next_attention_at,
    open_conversation,
    pause,
    record_level,
    reopen,
    reprioritise,
    resolve,
    resume,
    state_from_record,
    state_to_record,
)
from chalicelib.sla.policy import SlaKind, SlaPolicies, parse_sla

ROME = ZoneInfo("Europe/Rome")
CALENDAR = BusinessCalendar.from_config({
    "time_zone": "Europe/Rome",
    "weekly": {day: ["09:00-13:00", "14:00-18:00"] for day in ("monday", "tuesday", "wednesday", "thursday",
                                                                "friday")},
    "holidays": ["12-25"],
})
LADDER = (
    EscalationLevel(0, EscalationAction.NOTIFY),
    EscalationLevel(60, EscalationAction.REROUTE, route="vip", priority=Priority.URGENT),
    EscalationLevel(240, EscalationAction.NOTIFY_SUPERVISORS),
)


def policies(mode: str, first: int = 30, following: int = 60, resolution: int = 600) -> SlaPolicies:
    targets = {"first_response_minutes": first, "next_response_minutes": following, "resolution_minutes": resolution}
    return parse_sla({"calendar": mode, "policies": {p.value: targets for p in Priority}})


ALWAYS = policies("always")
BUSINESS = policies("business")


def rome(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=ROME)  # 2026-11-16 is a Monday


def sweep(state: SlaState, now: datetime, sla: SlaPolicies = ALWAYS,
          ladder: tuple[EscalationLevel, ...] = LADDER) -> tuple[SlaState, list[DueLevel]]:
    """What the sweeper does: find the due levels and record each (the conditional update)."""
    due = due_levels(state, ladder, now, sla, CALENDAR)
    for level in due:
        state = record_level(state, level)
    return state, due


def levels(due: list[DueLevel]) -> list[tuple[str, int]]:
    return [(d.kind.value, d.level) for d in due]


# ---- clocks and deadlines --------------------------------------------------------------------------


def test_a_new_conversation_runs_first_response_and_resolution_clocks() -> None:
    opened = rome(16, 10)
    state = open_conversation(opened, Priority.NORMAL, BUSINESS, CALENDAR)
    assert state.deadlines() == {
        SlaKind.FIRST_RESPONSE: BUSINESS.due(opened, Priority.NORMAL, SlaKind.FIRST_RESPONSE, CALENDAR),
        SlaKind.RESOLUTION: BUSINESS.due(opened, Priority.NORMAL, SlaKind.RESOLUTION, CALENDAR),
    }
    assert state.deadlines()[SlaKind.FIRST_RESPONSE] == rome(16, 10, 30)


def test_each_level_falls_due_once_in_order_with_an_injected_clock() -> None:
    opened = rome(16, 10)
    state = open_conversation(opened, Priority.NORMAL, ALWAYS, CALENDAR)
    deadline = rome(16, 10, 30)
    state, due = sweep(state, deadline - timedelta(seconds=1))
    assert due == []
    state, due = sweep(state, deadline)
    assert levels(due) == [("first_response", 1)]
    assert due[0].due_at == deadline and due[0].reason == "sla:first_response"
    assert due[0].step.action is EscalationAction.NOTIFY
    state, due = sweep(state, deadline + timedelta(minutes=59))
    assert due == []
    state, due = sweep(state, deadline + timedelta(minutes=60))
    assert levels(due) == [("first_response", 2)]
    assert (due[0].step.route, due[0].step.priority) == ("vip", Priority.URGENT)
    state, due = sweep(state, deadline + timedelta(minutes=240))
    assert levels(due) == [("first_response", 3)]
    state, due = sweep(state, opened + timedelta(minutes=599))
    assert levels(due) == []  # the first-response ladder is climbed; resolution (600 min) not yet due
    state, due = sweep(state, opened + timedelta(minutes=600))
    assert levels(due) == [("resolution", 1)]


def test_a_breach_is_found_no_later_than_one_sweep_after_its_deadline() -> None:
    opened = datetime(2026, 11, 16, 10, 0, 17, tzinfo=UTC)
    state = open_conversation(opened, Priority.URGENT, policies("always", first=1), CALENDAR)
    found: dict[tuple[str, int], datetime] = {}
    now = opened
    while now < opened + timedelta(hours=6):
        now += timedelta(minutes=1)
        state, due = sweep(state, now, policies("always", first=1))
        for level in due:
            assert level.due_at <= now < level.due_at + timedelta(minutes=1)
            found[(level.kind.value, level.level)] = now
    assert list(found)[:3] == [("first_response", 1), ("first_response", 2), ("first_response", 3)]


def test_a_late_sweep_returns_every_level_reached_in_order() -> None:
    state = open_conversation(rome(16, 10), Priority.NORMAL, ALWAYS, CALENDAR)
    state, due = sweep(state, rome(16, 20))  # the sweeper was down for ten hours
    assert levels(due) == [("first_response", 1), ("first_response", 2), ("first_response", 3),
                           ("resolution", 1)]
    assert [d.due_at for d in due] == sorted(d.due_at for d in due)
    assert sweep(state, rome(16, 20))[1] == []  # a re-run finds nothing


def test_concurrent_sweeps_carry_out_each_level_once() -> None:
    state = open_conversation(rome(16, 10), Priority.NORMAL, ALWAYS, CALENDAR)
    now = rome(16, 11, 30)
    first = due_levels(state, LADDER, now, ALWAYS, CALENDAR)
    second = due_levels(state, LADDER, now, ALWAYS, CALENDAR)  # read the same state before either wrote
    assert first == second and levels(first) == [("first_response", 1), ("first_response", 2)]
    for level in first:
        state = record_level(state, level)
    for level in second:
        with pytest.raises(LadderConflict, match="has done 2 level"):
            record_level(state, level)


def test_recording_out_of_order_or_for_a_stopped_clock_is_a_conflict() -> None:
    state = open_conversation(rome(16, 10), Priority.NORMAL, ALWAYS, CALENDAR)
    level_one, level_two = due_levels(state, LADDER, rome(16, 11, 30), ALWAYS, CALENDAR)
    with pytest.raises(LadderConflict, match="level 2: the clock has done 0"):
        record_level(state, level_two)
    replied = agent_reply(state, rome(16, 11, 31))
    with pytest.raises(LadderConflict, match="no longer running"):
        record_level(replied, level_one)


# ---- business minutes ------------------------------------------------------------------------------


def test_under_business_hours_the_ladder_counts_working_minutes_after_the_breach() -> None:
    opened = rome(20, 17)  # Friday 17:00; first response due 17:30
    state = open_conversation(opened, Priority.NORMAL, BUSINESS, CALENDAR)
    state, due = sweep(state, rome(20, 17, 30), BUSINESS)
    assert levels(due) == [("first_response", 1)]
    assert sweep(state, rome(22, 23), BUSINESS)[1] == []  # the weekend does not count
    state, due = sweep(state, rome(23, 9, 30), BUSINESS)  # 30 minutes Friday + 30 Monday
    assert levels(due) == [("first_response", 2)] and due[0].due_at == rome(23, 9, 30)


def test_a_deadline_at_closing_time_notifies_at_the_breach_not_next_morning() -> None:
    state = open_conversation(rome(16, 17, 30), Priority.NORMAL, BUSINESS, CALENDAR)
    assert state.deadlines()[SlaKind.FIRST_RESPONSE] == rome(16, 18)
    _, due = sweep(state, rome(16, 18), BUSINESS)
    assert levels(due) == [("first_response", 1)]
    assert add_sla_minutes(BUSINESS, CALENDAR, rome(16, 18), 0) == rome(16, 18)


# ---- an agent reply, pending, resolve --------------------------------------------------------------


def test_an_agent_reply_cancels_the_pending_levels() -> None:
    state = open_conversation(rome(16, 10), Priority.NORMAL, ALWAYS, CALENDAR)
    state, due = sweep(state, rome(16, 10, 45))
    assert levels(due) == [("first_response", 1)]
    state = agent_reply(state, rome(16, 10, 50))
    assert SlaKind.FIRST_RESPONSE not in state.deadlines()
    for hour in range(11, 19):
        state, due = sweep(state, rome(16, hour))
        assert "first_response" not in {kind for kind, _ in levels(due)}
    assert levels(due) == [] or all(kind == "resolution" for kind, _ in levels(due))


def test_a_reply_racing_the_sweeper_still_cancels() -> None:
    opened = rome(16, 10)
    stale = open_conversation(opened, Priority.NORMAL, ALWAYS, CALENDAR)
    # the reply was written, but the clock removal was not (or this sweeper read in between)
    raced = SlaState(clocks=stale.clocks, last_agent_reply_at=rome(16, 10, 40))
    assert due_levels(raced, LADDER, rome(16, 12), ALWAYS, CALENDAR) == []
    assert next_attention_at(raced, LADDER, ALWAYS, CALENDAR) == raced.deadlines()[SlaKind.RESOLUTION]


def test_the_next_customer_message_starts_a_new_cycle_from_level_one() -> None:
    state = open_conversation(rome(16, 10), Priority.NORMAL, ALWAYS, CALENDAR)
    state, _ = sweep(state, rome(16, 11, 30))  # first response: levels 1 and 2
    state = agent_reply(state, rome(16, 11, 40))
    state = customer_message(state, rome(16, 12), Priority.NORMAL, ALWAYS, CALENDAR)
    assert state.deadlines()[SlaKind.NEXT_RESPONSE] == rome(16, 13)
    state = customer_message(state, rome(16, 12, 30), Priority.NORMAL, ALWAYS, CALENDAR)  # still from 12:00
    assert state.deadlines()[SlaKind.NEXT_RESPONSE] == rome(16, 13)
    state, due = sweep(state, rome(16, 13))
    assert levels(due) == [("next_response", 1)]
    state = agent_reply(state, rome(16, 13, 5))
    state = customer_message(state, rome(16, 14), Priority.NORMAL, ALWAYS, CALENDAR)
    state, due = sweep(state, rome(16, 15))
    assert levels(due) == [("next_response", 1)]  # a new clock, its own ladder


def test_pending_pauses_every_clock_and_resuming_extends_the_deadlines() -> None:
    opened = rome(16, 10)
    state = open_conversation(opened, Priority.NORMAL, ALWAYS, CALENDAR)
    state = pause(state, rome(16, 10, 10))
    state = pause(state, rome(16, 10, 20))  # pausing twice keeps the first moment
    assert due_levels(state, LADDER, rome(17, 10), ALWAYS, CALENDAR) == []
    assert next_attention_at(state, LADDER, ALWAYS, CALENDAR) is None  # out of the sweeper's index
    state = resume(state, rome(16, 12, 10), ALWAYS, CALENDAR)
    assert state.paused_since is None
    assert state.deadlines()[SlaKind.FIRST_RESPONSE] == rome(16, 12, 30)  # 20 minutes were left
    assert state.deadlines()[SlaKind.RESOLUTION] == opened + timedelta(minutes=600 + 120)
    assert sweep(state, rome(16, 12, 29))[1] == []
    assert levels(sweep(state, rome(16, 12, 30))[1]) == [("first_response", 1)]


def test_a_pause_counts_only_working_time_under_business_hours() -> None:
    state = open_conversation(rome(20, 17, 45), Priority.NORMAL, BUSINESS, CALENDAR)  # Friday; due Monday 09:15
    assert state.deadlines()[SlaKind.FIRST_RESPONSE] == rome(23, 9, 15)
    state = pause(state, rome(20, 17, 50))
    state = resume(state, rome(23, 10), BUSINESS, CALENDAR)  # paused 10 + 60 working minutes
    assert state.deadlines()[SlaKind.FIRST_RESPONSE] == rome(23, 10, 25)
    assert state.clocks[0].paused_minutes == 70


def test_a_pause_after_the_breach_moves_the_remaining_levels() -> None:
    state = open_conversation(rome(16, 10), Priority.NORMAL, ALWAYS, CALENDAR)
    state, _ = sweep(state, rome(16, 10, 40))  # breached at 10:30, level 1 done; level 2 due 11:30
    state = pause(state, rome(16, 10, 40))
    state = resume(state, rome(16, 12, 40), ALWAYS, CALENDAR)
    assert sweep(state, rome(16, 13, 29))[1] == []
    assert levels(sweep(state, rome(16, 13, 30))[1]) == [("first_response", 2)]


def test_a_clock_started_while_paused_is_extended_only_from_its_start() -> None:
    state = agent_reply(open_conversation(rome(16, 9), Priority.NORMAL, ALWAYS, CALENDAR), rome(16, 9, 5))
    state = pause(state, rome(16, 10))
    state = customer_message(state, rome(16, 11), Priority.NORMAL, ALWAYS, CALENDAR)
    state = resume(state, rome(16, 11, 30), ALWAYS, CALENDAR)
    assert state.deadlines()[SlaKind.NEXT_RESPONSE] == rome(16, 12, 30)  # 12:00 + 30 paused minutes


def test_resolve_stops_every_clock_and_reopen_starts_a_resolution_clock() -> None:
    state = open_conversation(rome(16, 10), Priority.NORMAL, ALWAYS, CALENDAR)
    state = resolve(pause(state, rome(16, 10, 5)))
    assert state.clocks == () and state.paused_since is None
    assert due_levels(state, LADDER, rome(30, 10), ALWAYS, CALENDAR) == []
    assert next_attention_at(state, LADDER, ALWAYS, CALENDAR) is None
    state = reopen(state, rome(17, 9), Priority.HIGH, ALWAYS, CALENDAR)
    assert state.deadlines() == {SlaKind.RESOLUTION: rome(17, 19)}
    assert reopen(state, rome(17, 10), Priority.HIGH, ALWAYS, CALENDAR) is state


def test_a_new_priority_retargets_clocks_not_yet_breached_and_keeps_the_paused_time() -> None:
    state = open_conversation(rome(16, 10), Priority.NORMAL, ALWAYS, CALENDAR)
    state = resume(pause(state, rome(16, 10, 0)), rome(16, 10, 15), ALWAYS, CALENDAR)
    urgent = policies("always", first=5, resolution=120)
    assert state.deadlines()[SlaKind.FIRST_RESPONSE] == rome(16, 10, 45)
    state = reprioritise(state, Priority.URGENT, urgent, CALENDAR)
    assert state.deadlines()[SlaKind.FIRST_RESPONSE] == rome(16, 10, 20)  # 10:00 + 5 + 15 paused
    breached, _ = sweep(state, rome(16, 10, 30), urgent)
    again = reprioritise(breached, Priority.LOW, ALWAYS, CALENDAR)
    assert again.deadlines()[SlaKind.FIRST_RESPONSE] == rome(16, 10, 20)  # climbing: the deadline stays


def test_next_attention_is_the_earliest_level_not_yet_done() -> None:
    state = open_conversation(rome(16, 10), Priority.NORMAL, ALWAYS, CALENDAR)
    assert next_attention_at(state, LADDER, ALWAYS, CALENDAR) == rome(16, 10, 30)
    state, _ = sweep(state, rome(16, 10, 30))
    assert next_attention_at(state, LADDER, ALWAYS, CALENDAR) == rome(16, 11, 30)
    state, _ = sweep(state, rome(16, 20))
    assert next_attention_at(state, LADDER, ALWAYS, CALENDAR) == rome(16, 21)  # resolution level 2
    state, _ = sweep(state, rome(17, 20))
    assert next_attention_at(state, LADDER, ALWAYS, CALENDAR) is None


def test_the_default_ladder_climbs_too() -> None:
    state = open_conversation(rome(16, 10), Priority.NORMAL, ALWAYS, CALENDAR)
    _, due = sweep(state, rome(16, 10, 30), ladder=DEFAULT_LADDER)
    assert [d.step.action for d in due] == [EscalationAction.NOTIFY]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="aware datetime"):
        open_conversation(datetime(2026, 11, 16, 10), Priority.NORMAL, ALWAYS, CALENDAR)


# ---- property: any sequence of sweeps and events -----------------------------------------------------

events = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=600),  # minutes after the previous step
        st.sampled_from(("sweep", "sweep", "sweep", "reply", "message", "pause", "resume")),
    ),
    max_size=40,
)


STARTS = (rome(16, 9, 30), datetime(2026, 10, 24, 22, tzinfo=ROME), datetime(2026, 3, 28, 23, tzinfo=ROME))


@settings(max_examples=150, deadline=None)
@given(steps=events, business=st.booleans(), twice=st.booleans(), start=st.sampled_from(STARTS))
def test_no_level_is_ever_returned_twice_or_out_of_order(steps: list[tuple[int, str]], business: bool,
                                                         twice: bool, start: datetime) -> None:
    sla = BUSINESS if business else ALWAYS
    now = start.astimezone(UTC)  # the sweeper's clock runs in real minutes, across the DST changes too
    state = open_conversation(now, Priority.NORMAL, sla, CALENDAR)
    seen: dict[tuple[SlaKind, datetime], list[int]] = {}
    last_reply: datetime | None = None
    for gap, event in [*steps, (0, "resume"), (60 * 24 * 20, "sweep")]:
        now += timedelta(minutes=gap)
        if event == "reply":
            state, last_reply = agent_reply(state, now), now
        elif event == "message":
            state = customer_message(state, now, Priority.NORMAL, sla, CALENDAR)
        elif event == "pause":
            state = pause(state, now)
        elif event == "resume":
            state = resume(state, now, sla, CALENDAR)
        for _ in range(2 if twice else 1):  # a re-run of the same sweep finds nothing new
            state, due = sweep(state, now, sla) if event == "sweep" else (state, [])
            for level in due:
                assert level.due_at <= now
                if level.kind is not SlaKind.RESOLUTION and last_reply is not None:
                    assert level.clock_started_at >= last_reply  # a reply cancelled the levels before it
                done = seen.setdefault((level.kind, level.clock_started_at), [])
                assert level.level == len(done) + 1  # once each, in order
                done.append(level.level)
    # twenty days later and unpaused: every clock still running has climbed its whole ladder
    for clock in state.clocks:
        assert clock.levels_done == len(LADDER)


# ---- the paused time: working minutes between two moments ------------------------------------------

moments = st.datetimes(min_value=datetime(2026, 3, 20), max_value=datetime(2026, 11, 10), timezones=st.just(ROME))


@settings(max_examples=200, deadline=None)
@given(start=moments, minutes=st.integers(min_value=0, max_value=5 * 480))
def test_working_minutes_between_is_the_inverse_of_adding_them_across_weekends_and_dst(start: datetime,
                                                                                       minutes: int) -> None:
    end = CALENDAR.add_business_minutes(start, minutes)
    assert CALENDAR.business_minutes_between(start, end) == pytest.approx(minutes, abs=1e-6)
    assert CALENDAR.business_minutes_between(end, start) == 0


def test_working_minutes_between_skip_nights_weekends_and_holidays() -> None:
    assert CALENDAR.business_minutes_between(rome(20, 17), rome(23, 10)) == 60 + 60  # Friday to Monday
    assert CALENDAR.business_minutes_between(rome(16, 12), rome(16, 15)) == 60 + 60  # the lunch break
    christmas = datetime(2026, 12, 24, 17, tzinfo=ROME), datetime(2026, 12, 28, 10, tzinfo=ROME)
    assert CALENDAR.business_minutes_between(*christmas) == 60 + 60  # Thursday; Friday the 25th is off; Monday


# ---- the stored form -------------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(steps=events)
def test_the_stored_record_round_trips_and_holds_no_floats(steps: list[tuple[int, str]]) -> None:
    now = rome(16, 9, 30)
    state = open_conversation(now, Priority.NORMAL, BUSINESS, CALENDAR)
    for gap, event in steps:
        now += timedelta(minutes=gap)
        if event == "pause":
            state = pause(state, now)
        elif event == "resume":
            state = resume(state, now, BUSINESS, CALENDAR)
        elif event == "reply":
            state = agent_reply(state, now)
        elif event == "message":
            state = customer_message(state, now, Priority.NORMAL, BUSINESS, CALENDAR)
        else:
            state, _ = sweep(state, now, BUSINESS)
    record = state_to_record(state)
    assert "float" not in repr([type(v).__name__ for c in record["clocks"] for v in c.values()])
    again = state_from_record(json.loads(json.dumps(record)))
    assert state_to_record(again) == record
    assert again.deadlines() == {kind: moment.replace(microsecond=moment.microsecond // 1000 * 1000)
                                 for kind, moment in state.deadlines().items()}


def test_a_malformed_record_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="not an SLA state record"):
        state_from_record({"clocks": [{"kind": "first_response"}]})
    with pytest.raises(ModelError):
        state_from_record({"clocks": [], "paused_since": "yesterday"})


# ---- daylight saving: every instant is compared and counted in UTC ---------------------------------


def test_round_the_clock_minutes_are_real_minutes_across_the_fall_back_change() -> None:
    # 2026-10-25 in Rome: 03:00 summer time becomes 02:00 winter time; 01:30 local is 23:30 UTC
    opened = datetime(2026, 10, 25, 1, 30, tzinfo=ROME)
    sla = policies("always", first=120)
    state = open_conversation(opened, Priority.NORMAL, sla, CALENDAR)
    due = opened.astimezone(UTC) + timedelta(minutes=120)  # 01:30 UTC, 02:30 local the second time
    assert state.deadlines()[SlaKind.FIRST_RESPONSE] == due
    assert levels(sweep(state, due - timedelta(minutes=1), sla)[1]) == []
    assert levels(sweep(state, (due - timedelta(minutes=1)).astimezone(ROME), sla)[1]) == []
    assert levels(sweep(state, due.astimezone(ROME), sla)[1]) == [("first_response", 1)]
    level_two = add_sla_minutes(sla, CALENDAR, due.astimezone(ROME), 60)
    assert level_two == due + timedelta(minutes=60)


def test_a_round_the_clock_pause_over_the_spring_forward_night_counts_real_minutes() -> None:
    sla = policies("always", first=600)
    state = open_conversation(datetime(2026, 3, 28, 23, 0, tzinfo=ROME), Priority.NORMAL, sla, CALENDAR)
    before = state.deadlines()[SlaKind.FIRST_RESPONSE]
    paused = pause(state, datetime(2026, 3, 29, 1, 0, tzinfo=ROME))
    resumed = resume(paused, datetime(2026, 3, 29, 4, 0, tzinfo=ROME), sla, CALENDAR)  # two real hours
    assert resumed.deadlines()[SlaKind.FIRST_RESPONSE] == before + timedelta(hours=2)
    assert resumed.clocks[0].paused_minutes == 120
