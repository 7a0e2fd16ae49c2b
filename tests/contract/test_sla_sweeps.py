"""Concurrent SLA sweeps on the twins and on DynamoDB (moto): each ladder level carried out exactly once
and in order, whatever the interleaving, because each is recorded by a write conditional on the timers'
revision before it is carried out."""

from __future__ import annotations

import threading

from chalicelib.core.ports import Repositories
from chalicelib.core.timestamps import format_timestamp
from chalicelib.sla.sweeper import ClimbedLevel, sweep
from chalicelib.sla.timers import after_agent_reply, sla_setup
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
