"""Concurrent SLA sweeps on the twins and on DynamoDB (moto): each ladder level carried out exactly once
and in order, whatever the interleaving, because each is recorded by a write conditional on the timers'
revision before it is carried out, and stays in flight (nobody climbs past it) until its publication is
confirmed by a second conditional write."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from chalicelib.adapters import resources
from chalicelib.adapters.resources import QueueSpec
from chalicelib.adapters.sqs import Outgoing
from chalicelib.core.ports import Repositories
from chalicelib.core.timestamps import format_timestamp
from chalicelib.sla.in_flight import STALE_AFTER
from chalicelib.sla.sweeper import ClimbedLevel, sweep
from chalicelib.sla.timers import after_agent_reply, sla_setup
from tests.contract.conftest import Backend
from tests.sla_fixtures import MINUTE, OPENED, CountingBus, config, routed_conversation, sweep_ports

ROUTING = config()
SWEEPERS = 4


def sweep_concurrently(repos: Repositories, bus: CountingBus, minutes: int) -> list[ClimbedLevel]:
    ports = sweep_ports(repos, ROUTING, bus)
    barrier = threading.Barrier(SWEEPERS)
    climbed: list[ClimbedLevel] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        for _ in range(3):
            report = sweep(ports, OPENED + minutes * MINUTE)
            with lock:
                climbed.extend(report.climbed)

    threads = [threading.Thread(target=run) for _ in range(SWEEPERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return climbed


def test_each_level_exactly_once_under_concurrent_sweeps(repos: Repositories) -> None:
    bus = CountingBus(ROUTING)
    routed_conversation(repos, sla_setup(ROUTING))
    for minutes in (1, 7, 20):
        sweep_concurrently(repos, bus, minutes)
    levels = [(body["reason"], body["level"]) for body in bus.escalations()]
    assert levels == [("sla:first_response", 1), ("sla:first_response", 2), ("sla:first_response", 3)]
    assert set(bus.published.values()) == {1}  # not one publication repeated (the queue's dedupe hides nothing)


def test_a_late_concurrent_sweep_still_climbs_in_order(repos: Repositories) -> None:
    bus = CountingBus(ROUTING)
    routed_conversation(repos, sla_setup(ROUTING))
    climbed = sweep_concurrently(repos, bus, 20)
    assert sorted(c.level for c in climbed) == [1, 2, 3]
    assert [body["level"] for body in bus.escalations()] == [1, 2, 3]
    assert set(bus.published.values()) == {1}


def test_an_agent_reply_racing_the_sweepers_cancels_what_is_left(repos: Repositories) -> None:
    bus = CountingBus(ROUTING)
    setup = sla_setup(ROUTING)
    routed_conversation(repos, setup)
    sweep_concurrently(repos, bus, 2)
    after_agent_reply(repos.conversations, "cnv_1", format_timestamp(OPENED + 3 * MINUTE), setup)
    sweep_concurrently(repos, bus, 20)
    assert [(body["reason"], body["level"]) for body in bus.escalations()] == [("sla:first_response", 1)]


class CuttingInBus(CountingBus):
    """Runs ``cut_in`` (another sweeper) just before it publishes the escalation of ``level``, once: a
    publication slower than the other sweeper's whole climb, the interleaving that once put level 3 on
    the queue before level 2."""

    def __init__(self, level: int) -> None:
        super().__init__(ROUTING)
        self.level = level
        self.cut_in: Callable[[], None] = lambda: None
        self.cut_in_done = False

    def publish(self, spec: QueueSpec, message: Outgoing) -> None:
        if spec == resources.ESCALATION_QUEUE and message.body["level"] == self.level and not self.cut_in_done:
            self.cut_in_done = True
            self.cut_in()
        super().publish(spec, message)


def test_a_sweeper_cutting_in_while_a_level_is_being_published_does_not_climb_past_it(backend: Backend) -> None:
    repos = backend.repositories()
    routed_conversation(repos, sla_setup(ROUTING))
    bus = CuttingInBus(level=2)
    late = OPENED + 20 * MINUTE
    other: list[ClimbedLevel] = []

    def other_sweeper() -> None:  # its own repositories, as another Lambda would have
        other.extend(sweep(sweep_ports(backend.repositories(), ROUTING, bus), late).climbed)

    bus.cut_in = other_sweeper
    first = sweep(sweep_ports(repos, ROUTING, bus), late)
    assert bus.cut_in_done
    assert other == []  # level 2 was in flight: the other sweeper left the conversation alone
    assert [c.level for c in first.climbed] == [1, 2, 3]
    assert [body["level"] for body in bus.escalations()] == [1, 2, 3]
    assert set(bus.published.values()) == {1}


class SweeperKilled(BaseException):
    """The Lambda dying (a timeout, a crash): no handler of the sweeper runs, nothing is released."""


class DyingBus(CountingBus):
    """Kills the sweeper at level 1's escalation, once: before publishing it, or just after."""

    def __init__(self, *, after_publishing: bool) -> None:
        super().__init__(ROUTING)
        self.after_publishing = after_publishing
        self.killed = False

    def publish(self, spec: QueueSpec, message: Outgoing) -> None:
        dies = spec == resources.ESCALATION_QUEUE and message.body["level"] == 1 and not self.killed
        if dies and not self.after_publishing:
            self.killed = True
            raise SweeperKilled
        super().publish(spec, message)
        if dies:
            self.killed = True
            raise SweeperKilled


def kill_a_sweeper_at_level_1(repos: Repositories, bus: DyingBus) -> None:
    """Level 1 recorded at minute 2, its sweeper dead before confirming it: the level stays in flight and
    the conversation on the index at the moment the mark turns stale."""
    with pytest.raises(SweeperKilled):
        sweep(sweep_ports(repos, ROUTING, bus), OPENED + 2 * MINUTE)
    stored = repos.conversations.get("cnv_1", consistent=True)
    assert stored is not None and stored.sla is not None
    assert stored.sla.record["in_flight"]["level"] == 1
    assert stored.sla.attention_at == format_timestamp(OPENED + 2 * MINUTE + STALE_AFTER)
    # a later sweep, before the mark is stale, neither republishes level 1 nor climbs past it
    assert sweep(sweep_ports(repos, ROUTING, bus), OPENED + 2 * MINUTE + STALE_AFTER - MINUTE).climbed == []


@pytest.mark.parametrize("after_publishing", [False, True], ids=["before-publishing", "after-publishing"])
def test_a_level_whose_sweeper_died_is_published_again_once_its_mark_is_stale(
    repos: Repositories, after_publishing: bool
) -> None:
    bus = DyingBus(after_publishing=after_publishing)
    routed_conversation(repos, sla_setup(ROUTING))
    kill_a_sweeper_at_level_1(repos, bus)
    climbed = sweep_concurrently(repos, bus, 20)  # past the stale bound: one sweeper claims level 1
    assert sorted(c.level for c in climbed) == [1, 2, 3]
    assert [body["level"] for body in bus.escalations()] == [1, 2, 3]  # the FIFO queue dropped the repeat
    first = bus.escalations()[0]["envelope_id"]
    repeats = {key: count for key, count in bus.published.items() if count != 1}
    # published again under the same envelope id, and only by one of the sweepers
    assert repeats == ({f"{resources.ESCALATION_QUEUE.logical_name}:{first}": 2} if after_publishing else {})
    stored = repos.conversations.get("cnv_1", consistent=True)
    assert stored is not None and stored.sla is not None and "in_flight" not in stored.sla.record


def test_a_stale_level_whose_clock_a_reply_stopped_is_dropped(repos: Repositories) -> None:
    bus = DyingBus(after_publishing=False)
    setup = sla_setup(ROUTING)
    routed_conversation(repos, setup)
    kill_a_sweeper_at_level_1(repos, bus)
    after_agent_reply(repos.conversations, "cnv_1", format_timestamp(OPENED + 3 * MINUTE), setup)
    replied = repos.conversations.get("cnv_1", consistent=True)
    assert replied is not None and replied.sla is not None and "in_flight" in replied.sla.record  # kept
    assert sweep_concurrently(repos, bus, 20) == []
    assert bus.escalations() == []
    stored = repos.conversations.get("cnv_1", consistent=True)
    assert stored is not None and stored.sla is not None and "in_flight" not in stored.sla.record
    # back to the ladder's own timeline: the resolution clock's breach (60 minutes)
    assert stored.sla.attention_at == format_timestamp(OPENED + 60 * MINUTE)
