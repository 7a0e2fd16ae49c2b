"""The SLA sweeper on the twins with an injected clock: breaches found within one sweep, the ladder
climbed once and in order, a reply cancelling, pending pausing, resolve stopping, the index kept true."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from jsonschema import Draft202012Validator

from chalicelib.adapters import resources
from chalicelib.adapters.memory import memory_repositories
from chalicelib.core.errors import ModelError
from chalicelib.core.model import ConversationStatus, Priority
from chalicelib.core.ports import Repositories
from chalicelib.core.routing_record import ConversationRouting
from chalicelib.core.timestamps import format_timestamp
from chalicelib.handlers.schedules import sweep_time
from chalicelib.routing.config import parse_routing_config
from chalicelib.sla import in_flight
from chalicelib.sla.ladder import DueLevel
from chalicelib.sla.policy import SlaKind
from chalicelib.sla.sweeper import sweep
from chalicelib.sla.timers import after_agent_reply, after_customer_message, after_status_change, sla_setup
from tests.conftest import load_schema
from tests.sla_fixtures import CONFIG_DOCUMENT, MINUTE, OPENED, CountingBus, config, routed_conversation, sweep_ports

ROUTING = config()
SETUP = sla_setup(ROUTING)
SWEEP_EVERY = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


@pytest.fixture
def repos() -> Repositories:
    return memory_repositories()


@pytest.fixture
def bus() -> CountingBus:
    return CountingBus(ROUTING)


def reasons(bus: CountingBus) -> list[tuple[str, int, str]]:
    return [(body["reason"], body["level"], body["action"]) for body in bus.escalations()]


@pytest.mark.parametrize("offset_seconds", [0, 1, 17, 59])
def test_a_breach_is_found_no_later_than_one_sweep_after_its_deadline(
    repos: Repositories, bus: CountingBus, offset_seconds: int
) -> None:
    routed_conversation(repos, SETUP, at=OPENED + timedelta(seconds=offset_seconds))
    deadline = OPENED + timedelta(seconds=offset_seconds) + MINUTE
    ports = sweep_ports(repos, ROUTING, bus)
    now = OPENED
    while now < deadline:  # sweeps before the deadline find nothing
        assert sweep(ports, now).climbed == []
        now += SWEEP_EVERY
    assert now - deadline < SWEEP_EVERY
    report = sweep(ports, now)  # the first sweep at or after the deadline
    assert [(c.reason, c.level, c.action) for c in report.climbed] == [("sla:first_response", 1, "notify")]
    assert reasons(bus) == [("sla:first_response", 1, "notify")]


def test_the_ladder_is_climbed_once_and_in_order(repos: Repositories, bus: CountingBus) -> None:
    routed_conversation(repos, SETUP)
    ports = sweep_ports(repos, ROUTING, bus)
    for minute in range(0, 20):
        sweep(ports, OPENED + minute * MINUTE)
        sweep(ports, OPENED + minute * MINUTE)  # a re-run changes nothing
    assert reasons(bus) == [("sla:first_response", 1, "notify"), ("sla:first_response", 2, "reroute"),
                            ("sla:first_response", 3, "notify_supervisors")]
    assert all(count == 1 for count in bus.published.values())
    moved = repos.conversations.get("cnv_1")
    assert moved is not None and (moved.route, moved.priority) == ("vip", Priority.URGENT)
    # the re-route put the case on the vip queue too
    assert [body["route"] for body in bus.bodies(resources.route_queue_spec("vip", ROUTING))] == ["vip"]
    schema = Draft202012Validator(load_schema("omnihub.escalation.v1"))
    for body in bus.escalations():
        schema.validate(body)
    assert bus.escalations()[0]["deadline"] == format_timestamp(OPENED + MINUTE)
    assert bus.escalations()[0]["conversation"]["sla"]["first_response_due_at"] == format_timestamp(OPENED + MINUTE)
    events = bus.bodies(resources.CONVERSATION_EVENTS_QUEUE)
    rerouted = [e for e in events if e["type"] == "rerouted"]
    assert len(rerouted) == 1 and rerouted[0]["route"] == "vip"
    assert rerouted[0]["detail"] == {"by": "sla", "reason": "sla:first_response", "level": 2}
    escalated_at_level_2 = next(i for i, e in enumerate(events)
                                if e["type"] == "escalated" and e["detail"]["level"] == 2)
    assert events.index(rerouted[0]) < escalated_at_level_2  # the move, then its escalation
    event_schema = Draft202012Validator(load_schema("omnihub.event.v1"))
    for event in events:
        event_schema.validate(event)


def test_a_late_sweep_carries_out_every_level_reached_in_order(repos: Repositories, bus: CountingBus) -> None:
    routed_conversation(repos, SETUP)
    sweep(sweep_ports(repos, ROUTING, bus), OPENED + 20 * MINUTE)
    assert [level for _, level, _ in reasons(bus)] == [1, 2, 3]


def test_an_agent_reply_cancels_the_pending_levels(repos: Repositories, bus: CountingBus) -> None:
    routed_conversation(repos, SETUP)
    ports = sweep_ports(repos, ROUTING, bus)
    sweep(ports, OPENED + 2 * MINUTE)
    assert reasons(bus) == [("sla:first_response", 1, "notify")]
    after_agent_reply(repos.conversations, "cnv_1", format_timestamp(OPENED + 3 * MINUTE), SETUP)
    replied = repos.conversations.get("cnv_1")
    assert replied is not None and replied.sla is not None
    assert replied.to_api()["sla"]["first_response_due_at"] is None
    for minute in range(3, 50):
        sweep(ports, OPENED + minute * MINUTE)
    # no more first-response levels; the resolution clock (60 minutes) keeps its own ladder
    assert [r for r in reasons(bus) if r[0] == "sla:first_response"] == [("sla:first_response", 1, "notify")]
    assert reasons(bus)[1:] == []


def test_the_next_customer_message_after_a_reply_starts_the_next_response_clock(
    repos: Repositories, bus: CountingBus
) -> None:
    routed_conversation(repos, SETUP)
    after_agent_reply(repos.conversations, "cnv_1", format_timestamp(OPENED + SECOND * 30),
                      SETUP)
    written = after_customer_message(repos.conversations, "cnv_1", format_timestamp(OPENED + 4 * MINUTE), SETUP)
    assert written is not None
    assert written.conversation.to_api()["sla"]["next_response_due_at"] == format_timestamp(OPENED + 6 * MINUTE)
    ports = sweep_ports(repos, ROUTING, bus)
    sweep(ports, OPENED + 5 * MINUTE)
    assert reasons(bus) == []
    sweep(ports, OPENED + 6 * MINUTE)
    assert reasons(bus) == [("sla:next_response", 1, "notify")]


def test_pending_pauses_the_clock_and_reopening_moves_the_deadline(repos: Repositories, bus: CountingBus) -> None:
    routed_conversation(repos, SETUP)
    repos.conversations.set_status("cnv_1", ConversationStatus.PENDING, format_timestamp(OPENED + 30 * SECOND))
    after_status_change(repos.conversations, "cnv_1", SETUP)
    paused = repos.conversations.get("cnv_1")
    assert paused is not None and paused.sla is not None and paused.sla.paused and paused.sla.attention_at is None
    ports = sweep_ports(repos, ROUTING, bus)
    assert sweep(ports, OPENED + 100 * MINUTE).looked_at == 0  # off the index while pending
    reopened_at = format_timestamp(OPENED + 10 * MINUTE + 30 * SECOND)
    repos.conversations.set_status("cnv_1", ConversationStatus.OPEN, reopened_at)
    after_status_change(repos.conversations, "cnv_1", SETUP)
    resumed = repos.conversations.get("cnv_1")
    assert resumed is not None and resumed.sla is not None
    # 10 minutes pending: the one-minute target now falls due ten minutes later
    assert resumed.sla.due["first_response"] == format_timestamp(OPENED + 11 * MINUTE)
    sweep(ports, OPENED + 10 * MINUTE + 59 * SECOND)
    assert reasons(bus) == []
    sweep(ports, OPENED + 11 * MINUTE)
    assert reasons(bus) == [("sla:first_response", 1, "notify")]


def test_a_status_set_without_the_hook_is_followed_by_the_sweeper(repos: Repositories, bus: CountingBus) -> None:
    routed_conversation(repos, SETUP)
    repos.conversations.set_status("cnv_1", ConversationStatus.PENDING, format_timestamp(OPENED + 30 * SECOND))
    sweep(sweep_ports(repos, ROUTING, bus), OPENED + 5 * MINUTE)
    assert reasons(bus) == []
    stored = repos.conversations.get("cnv_1")
    assert stored is not None and stored.sla is not None and stored.sla.paused and stored.sla.attention_at is None


def test_resolve_stops_every_clock(repos: Repositories, bus: CountingBus) -> None:
    routed_conversation(repos, SETUP)
    repos.conversations.set_status("cnv_1", ConversationStatus.RESOLVED, format_timestamp(OPENED + 30 * SECOND))
    written = after_status_change(repos.conversations, "cnv_1", SETUP)
    assert written is not None and written.conversation.sla is not None
    assert written.conversation.sla.due == {} and written.conversation.sla.attention_at is None
    for minute in range(0, 100, 7):
        sweep(sweep_ports(repos, ROUTING, bus), OPENED + minute * MINUTE)
    assert reasons(bus) == []


def test_a_failed_publication_is_released_and_carried_out_by_the_next_sweep(
    repos: Repositories, bus: CountingBus
) -> None:
    routed_conversation(repos, SETUP)
    ports = sweep_ports(repos, ROUTING, bus)
    broken = [True]
    original = bus.publish

    def failing(spec: resources.QueueSpec, message: object) -> None:
        if broken[0]:
            raise RuntimeError("SQS is down")
        original(spec, message)  # type: ignore[arg-type]

    bus.publish = failing  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        sweep(ports, OPENED + 2 * MINUTE)
    released = repos.conversations.get("cnv_1")
    assert released is not None and released.sla is not None
    assert released.sla.record["in_flight"]["released"] is True
    assert released.sla.attention_at == format_timestamp(OPENED + 2 * MINUTE)  # the next sweep claims it
    broken[0] = False
    report = sweep(ports, OPENED + 3 * MINUTE)
    assert [(c.reason, c.level) for c in report.climbed] == [("sla:first_response", 1)]
    assert reasons(bus) == [("sla:first_response", 1, "notify")]
    confirmed = repos.conversations.get("cnv_1")
    assert confirmed is not None and confirmed.sla is not None and "in_flight" not in confirmed.sla.record
    assert confirmed.sla.attention_at == format_timestamp(OPENED + 6 * MINUTE)  # level 2's moment


def test_an_in_flight_mark_reads_back_as_written_and_a_malformed_one_is_refused() -> None:
    level = DueLevel(SlaKind.FIRST_RESPONSE, OPENED, 2, SETUP.ladder[1], OPENED + 6 * MINUTE)
    flight = in_flight.mark(level, OPENED + 7 * MINUTE + timedelta(microseconds=1234))
    assert in_flight.same(in_flight.from_record(in_flight.to_record(flight)), flight)
    assert in_flight.from_record(in_flight.to_record(flight)) == flight  # stored to the millisecond already
    assert flight.claimable_at == OPENED + 7 * MINUTE + timedelta(microseconds=1000) + in_flight.STALE_AFTER
    assert in_flight.release(flight).claimable(flight.since)
    assert in_flight.due_level(flight, SETUP.ladder) == replace(level, due_at=flight.since)
    assert in_flight.due_level(replace(flight, level=4), SETUP.ladder) is None
    for malformed in ("level 2", {}, {**in_flight.to_record(flight), "kind": "lunch"},
                      {**in_flight.to_record(flight), "since": "yesterday"}):
        with pytest.raises(ModelError):
            in_flight.from_record(malformed)


def test_the_default_ladder_notifies_as_soon_as_the_sweeper_finds_the_breach(
    repos: Repositories, bus: CountingBus
) -> None:
    without = parse_routing_config({k: v for k, v in CONFIG_DOCUMENT.items() if k != "escalation"}, "plain.json")
    assert without.escalation_is_default
    routed_conversation(repos, sla_setup(without))
    sweep(sweep_ports(repos, without, bus), OPENED + MINUTE)
    assert reasons(bus) == [("sla:first_response", 1, "notify")]


def test_the_sweep_time_is_the_scheduled_events() -> None:
    assert format_timestamp(sweep_time({"time": "2026-03-02T09:01:00Z"})) == "2026-03-02T09:01:00.000Z"
    for event in (None, {}, {"time": "yesterday"}, {"time": 5}, {"time": "9" * 100}):
        assert sweep_time(event).tzinfo is not None  # the clock


def test_a_new_priority_retargets_the_clocks_not_yet_breached(repos: Repositories, bus: CountingBus) -> None:
    routed_conversation(repos, SETUP)
    repos.conversations.record_routing("cnv_1", route="vip", priority=Priority.URGENT, tags=(),
                                       routing=ConversationRouting("assign", "assigned by an agent", "msg_2"))
    written = after_status_change(repos.conversations, "cnv_1", SETUP)
    assert written is not None and written.conversation.sla is not None
    # urgent resolves within 30 minutes of the opening instead of normal's 60
    assert written.conversation.sla.due["resolution"] == format_timestamp(OPENED + 30 * MINUTE)
