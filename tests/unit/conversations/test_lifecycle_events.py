"""The worker's lifecycle events: each change of a conversation reported once, with an id the change
derives, so a redelivery (even past SQS's five-minute deduplication) publishes the same ids."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from chalicelib.adapters import resources
from chalicelib.adapters.memory import MemoryBus
from chalicelib.adapters.sqs import PublishFailed
from chalicelib.conversations.inbound import WorkerPorts, handle_inbound_event
from chalicelib.core.ids import escalation_id_for, message_id_for
from chalicelib.core.model import ConversationStatus
from chalicelib.core.ports import Repositories
from tests.conftest import load_schema
from tests.unit.conftest import test_id_key
from tests.unit.conversations.test_routing_step import CONFIG, repos, stored, the_conversation, vip

__all__ = ["repos"]  # the fixture, shared with the routing step's tests

EVENTS = resources.CONVERSATION_EVENTS_QUEUE
SCHEMA = load_schema("omnihub.event.v1")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bus(clock: Clock) -> MemoryBus:
    return MemoryBus(queues=resources.all_queues(CONFIG), clock=clock)


@pytest.fixture
def ports(repos: Repositories, bus: MemoryBus) -> WorkerPorts:
    return WorkerPorts(repos=repos, bus=bus, id_key=test_id_key, routing=CONFIG)  # type: ignore[arg-type]


def events(bus: MemoryBus) -> list[dict[str, Any]]:
    found = bus.bodies(EVENTS)
    for body in found:
        jsonschema.validate(body, SCHEMA)
    return found


def distinct(bus: MemoryBus) -> list[tuple[str, str]]:
    """(type, event_id) of each distinct event, in the order first published."""
    return list(dict.fromkeys((body["type"], body["event_id"]) for body in events(bus)))


def test_an_escalating_message_is_opened_routed_and_escalated_once_whatever_the_redeliveries(
    repos: Repositories, bus: MemoryBus, ports: WorkerPorts, clock: Clock
) -> None:
    vip(repos)
    key = stored(repos, "wamid.1", "Parlerò con il mio avvocato")
    for _ in range(3):
        handle_inbound_event(key, ports)
        clock.now += 3600  # past SQS's deduplication: only the ids can tell a repeat
    conversation = the_conversation(repos, bus)
    assert [kind for kind, _ in distinct(bus)] == ["opened", "routed", "escalated"]
    assert len(events(bus)) == 9  # three publications of the same three events
    first = events(bus)[:3]
    assert all(body["conversation"]["id"] == conversation.id for body in first)
    assert {queued.group_id for queued in bus.messages(EVENTS)} == {conversation.id}
    assert [q.dedupe_id for q in bus.messages(EVENTS)][:3] == [body["event_id"] for body in first]
    opened, routed, escalated = first
    message_id = message_id_for(key)
    assert opened["detail"] == {"message_id": message_id, "by": "customer"}
    assert opened["occurred_at"] == conversation.created_at
    assert routed["detail"] == {"message_id": message_id, "by": "rule"} and routed["route"] == "vip"
    assert routed["conversation"]["priority"] == "urgent"
    assert routed["conversation"]["routing"] == {"rule": "vip-legal",
                                                 "reason": 'tier=vip and text matched "avvocat\\w*"'}
    assert (routed["customer"]["tier"], routed["customer"]["tags"]) == ("vip", ["press"])
    assert escalated["detail"] == {"reason": "vip-legal", "level": 1,
                                   "escalation_id": escalation_id_for(conversation.id, "vip-legal", 1)}


def test_a_later_message_of_higher_priority_is_rerouted_and_others_change_nothing(
    repos: Repositories, bus: MemoryBus, ports: WorkerPorts
) -> None:
    texts = ["C'è un errore nella fattura", "Un'altra fattura", "Outage: nothing works", "news?"]
    for n, text in enumerate(texts):
        handle_inbound_event(stored(repos, f"wamid.{n}", text, f"2026-11-18T09:0{n}:00.000Z"), ports)
    assert [kind for kind, _ in distinct(bus)] == ["opened", "routed", "rerouted"]
    rerouted = events(bus)[-1]
    assert rerouted["route"] == "crisis" and rerouted["occurred_at"] == "2026-11-18T09:02:00.000Z"
    assert rerouted["detail"]["message_id"] == message_id_for("meta#wamid.2")


def test_a_customer_message_reopens_a_pending_conversation_once(
    repos: Repositories, bus: MemoryBus, ports: WorkerPorts, clock: Clock
) -> None:
    handle_inbound_event(stored(repos, "wamid.1", "hello"), ports)
    conversation = the_conversation(repos, bus)
    repos.conversations.set_status(conversation.id, ConversationStatus.PENDING, "2026-11-18T09:01:00.000Z")
    answer = stored(repos, "wamid.2", "here is the photo", "2026-11-18T09:05:00.000Z")
    for _ in range(2):
        handle_inbound_event(answer, ports)
        clock.now += 3600
    assert [kind for kind, _ in distinct(bus)] == ["opened", "routed", "reopened"]
    reopened = events(bus)[-1]
    assert reopened["conversation"]["status"] == "open" and reopened["occurred_at"] == "2026-11-18T09:05:00.000Z"
    assert reopened["detail"] == {"by": "customer", "message_id": message_id_for(answer), "previous_status": "pending"}
    stored_conversation = repos.conversations.get(conversation.id)
    assert stored_conversation is not None and stored_conversation.status is ConversationStatus.OPEN
    # The next message on the open conversation changes nothing
    handle_inbound_event(stored(repos, "wamid.3", "and another", "2026-11-18T09:07:00.000Z"), ports)
    assert [kind for kind, _ in distinct(bus)] == ["opened", "routed", "reopened"]


def test_events_sqs_refused_are_published_by_the_redelivery(
    repos: Repositories, bus: MemoryBus, ports: WorkerPorts
) -> None:
    key = stored(repos, "wamid.1", "fattura sbagliata")
    handle_inbound_event(key, ports)
    [(_, opened_id), (_, routed_id)] = distinct(bus)
    bus.take(EVENTS)
    # A second store's worker, where SQS refuses the events: the message fails and is retried.
    fresh = MemoryBus(queues=resources.all_queues(CONFIG))
    fresh.refusing.add(routed_id)
    retry_ports = WorkerPorts(repos=repos, bus=fresh, id_key=test_id_key, routing=CONFIG)  # type: ignore[arg-type]
    with pytest.raises(PublishFailed):
        handle_inbound_event(key, retry_ports)
    fresh.refusing.clear()
    handle_inbound_event(key, retry_ports)
    # opened went through the first time (SQS drops its repeat); routed comes with the retry
    assert [body["event_id"] for body in fresh.bodies(EVENTS)] == [opened_id, routed_id]


def test_a_late_redelivery_of_a_message_older_than_pending_does_not_reopen(
    repos: Repositories, bus: MemoryBus, ports: WorkerPorts, clock: Clock
) -> None:
    first = stored(repos, "wamid.1", "hello")
    handle_inbound_event(first, ports)
    conversation = the_conversation(repos, bus)
    repos.conversations.set_status(conversation.id, ConversationStatus.PENDING, "2026-11-18T09:30:00.000Z",
                                   event_id="evt_pending")
    clock.now += 3600
    handle_inbound_event(first, ports)  # redelivered after support set it pending
    still = repos.conversations.get(conversation.id)
    assert still is not None and still.status is ConversationStatus.PENDING
    assert [kind for kind, _ in distinct(bus)] == ["opened", "routed"]
