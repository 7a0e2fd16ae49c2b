"""The worker's SLA step on the twins: the routed envelope carries the due times, and the customer's third
contact on the same case within 24 hours escalates once (reason ``repeat_contact``)."""

from __future__ import annotations

import jsonschema

from chalicelib.adapters import resources
from chalicelib.adapters.memory import MemoryBus
from chalicelib.conversations.inbound import WorkerPorts, handle_inbound_event
from chalicelib.core.ports import Repositories
from tests.conftest import load_schema
from tests.unit.conversations.test_routing_step import bodies, bus, ports, repos, stored  # noqa: F401 (fixtures)


def escalation_reasons(queues: MemoryBus) -> list[str]:
    return [body["reason"] for body in queues.bodies(resources.ESCALATION_QUEUE)]


def test_the_routed_envelope_carries_the_sla_due_times(repos: Repositories, bus: MemoryBus,  # noqa: F811
                                                       ports: WorkerPorts) -> None:  # noqa: F811
    handle_inbound_event(stored(repos, "wamid.1", "ciao", at="2026-03-02T09:00:00.000Z"), ports)
    [routed] = bodies(bus, "default")
    jsonschema.validate(routed, load_schema("omnihub.routed.v1"))
    # the service levels' business calendar (Europe/Rome, 09-13 and 14-18): normal = 240 working minutes
    assert routed["conversation"]["sla"] == {
        "first_response_due_at": "2026-03-02T14:00:00.000Z", "next_response_due_at": None,
        "resolution_due_at": "2026-03-10T09:00:00.000Z", "paused": False}
    detail = repos.conversations.get(routed["conversation"]["id"])
    assert detail is not None and detail.to_api()["sla"] == routed["conversation"]["sla"]


def test_a_third_contact_within_a_day_escalates_once(repos: Repositories, bus: MemoryBus,  # noqa: F811
                                                     ports: WorkerPorts) -> None:  # noqa: F811
    times = ("09:00", "09:02", "09:40", "11:00", "11:05", "15:00")  # contacts at 09:00, 09:40, 11:00, 15:00
    for number, at in enumerate(times):
        key = stored(repos, f"wamid.{number}", "any news?", at=f"2026-03-02T{at}:00.000Z")
        for _ in range(2):  # each one redelivered
            handle_inbound_event(key, ports)
        assert escalation_reasons(bus) == ([] if at < "11:00" else ["repeat_contact"])
    [escalation] = bus.bodies(resources.ESCALATION_QUEUE)
    jsonschema.validate(escalation, load_schema("omnihub.escalation.v1"))
    assert (escalation["level"], escalation["action"], escalation["deadline"]) == (1, "notify", None)


def test_a_burst_of_chat_lines_is_one_contact(repos: Repositories, bus: MemoryBus,  # noqa: F811
                                              ports: WorkerPorts) -> None:  # noqa: F811
    for number in range(8):
        handle_inbound_event(stored(repos, f"wamid.{number}", "hello?", at=f"2026-03-02T09:0{number}:00.000Z"), ports)
    assert escalation_reasons(bus) == []


def test_contacts_further_apart_than_a_day_do_not_add_up(repos: Repositories, bus: MemoryBus,  # noqa: F811
                                                         ports: WorkerPorts) -> None:  # noqa: F811
    for number, at in enumerate(("2026-03-02T09:00", "2026-03-02T20:00", "2026-03-03T10:00")):
        handle_inbound_event(stored(repos, f"wamid.{number}", "any news?", at=f"{at}:00.000Z"), ports)
    assert escalation_reasons(bus) == []
