"""Escalations counted in the KPIs where they are published: the sweeper's ladder levels (re-runs count
nothing) and the worker's repeat contact (redeliveries count nothing); with the messages around them."""

from __future__ import annotations

import pytest

from chalicelib.adapters.memory import MemoryBus, memory_repositories
from chalicelib.conversations.inbound import WorkerPorts, handle_inbound_event
from chalicelib.core.ports import Repositories
from chalicelib.reports.kpis import kpi_report
from chalicelib.reports.recorder import business_day
from chalicelib.sla.sweeper import sweep
from chalicelib.sla.timers import sla_setup
from tests.sla_fixtures import MINUTE, OPENED, CountingBus, config, routed_conversation, sweep_ports
from tests.unit.conftest import test_id_key
from tests.unit.conversations.test_routing_step import CONFIG, bus, stored  # noqa: F401 (a fixture)


@pytest.fixture
def repos() -> Repositories:
    return memory_repositories()


@pytest.fixture
def ports(repos: Repositories, bus: MemoryBus) -> WorkerPorts:  # noqa: F811
    return WorkerPorts(repos=repos, bus=bus, id_key=test_id_key, routing=CONFIG)  # type: ignore[arg-type]


def test_the_sweepers_ladder_levels_are_counted_once() -> None:
    routing = config()
    sweeping = memory_repositories()
    routed_conversation(sweeping, sla_setup(routing))
    sweep_bus = CountingBus(routing)
    for minute in range(0, 20):
        sweep(sweep_ports(sweeping, routing, sweep_bus), OPENED + minute * MINUTE)
        sweep(sweep_ports(sweeping, routing, sweep_bus), OPENED + minute * MINUTE)
    assert len(sweep_bus.escalations()) == 3
    day = business_day(OPENED.isoformat().replace("+00:00", "Z"))
    assert kpi_report(sweeping, {"from": day, "to": day})["escalations"] == 3


def test_a_repeat_contact_is_counted_once_with_its_messages(repos: Repositories, ports: WorkerPorts) -> None:
    for number, at in enumerate(("09:00", "09:40", "11:00")):
        key = stored(repos, f"wamid.{number}", "any news?", at=f"2026-03-02T{at}:00.000Z")
        for _ in range(2):
            handle_inbound_event(key, ports)
    report = kpi_report(repos, {"from": "2026-03-02", "to": "2026-03-02", "group_by": "channel"})
    assert report["escalations"] == 1
    assert report["messages"]["inbound"] == 3 and report["conversations"]["opened"] == 1
    assert report["groups"]["whatsapp"]["escalations"] == 1


@pytest.mark.parametrize("query", [{}, {"from": "2026-03-02"}, {"from": "2026-03-02", "to": "2026-03-01"},
                                   {"from": "2026-3-2", "to": "2026-03-02"}, {"from": "2024-01-01", "to": "2026-03-02"},
                                   {"from": "2026-03-02", "to": "2026-03-02", "group_by": "customer"}])
def test_a_bad_period_or_grouping_is_a_bad_request(query: dict[str, str]) -> None:
    from chalicelib.core.errors import BadRequest

    with pytest.raises(BadRequest):
        kpi_report(memory_repositories(), query)
