"""Where the lifecycle events meet the SLA timers and public conversations (twins): every escalation
(rule, repeat contact, ladder level) reports ``escalated`` exactly once with its envelope's id; the REST
actions move the clocks (pending pauses, reopen resumes, assign re-targets); a customer's message on a
pending conversation resumes them; reopening a public conversation claims no direct-conversation pointer."""

from __future__ import annotations

from collections import Counter
from typing import Any

import jsonschema
import pytest

from chalicelib.adapters import resources
from chalicelib.adapters.memory import MemoryBus, MemoryStore, memory_repositories
from chalicelib.api.lifecycle import assign_conversation, reopen_conversation, resolve_conversation, set_pending
from chalicelib.conversations.inbound import WorkerPorts, handle_inbound_event
from chalicelib.core.model import Channel, Conversation, ConversationStatus, Customer, Identity, Priority
from chalicelib.core.ports import Repositories
from chalicelib.core.routing_record import ConversationRouting
from chalicelib.core.timestamps import format_timestamp, utc_now
from chalicelib.routing import load_routing_config
from chalicelib.sla.sweeper import sweep
from chalicelib.sla.timers import after_customer_message, current_sla_setup, sla_setup
from tests.conftest import load_schema
from tests.sla_fixtures import MINUTE, OPENED, CountingBus, config, routed_conversation, sweep_ports
from tests.unit.conftest import test_id_key
from tests.unit.conversations.test_routing_step import CONFIG, stored, the_conversation, vip

EVENTS = resources.CONVERSATION_EVENTS_QUEUE
SCHEMA = load_schema("omnihub.event.v1")


def escalated_events(bus: MemoryBus) -> list[dict[str, Any]]:
    found = [body for body in bus.bodies(EVENTS) if body["type"] == "escalated"]
    for body in found:
        jsonschema.validate(body, SCHEMA)
    return found


def assert_one_event_per_escalation(bus: MemoryBus) -> None:
    """Each escalation envelope has exactly one distinct ``escalated`` event naming it, and no event
    names an envelope that was not published."""
    envelopes = {body["envelope_id"]: body for body in bus.bodies(resources.ESCALATION_QUEUE)}
    by_envelope = Counter(event["detail"]["escalation_id"] for event in
                          {e["event_id"]: e for e in escalated_events(bus)}.values())
    assert set(by_envelope) == set(envelopes) and set(by_envelope.values()) <= {1}
    for event in escalated_events(bus):
        envelope = envelopes[event["detail"]["escalation_id"]]
        assert (event["detail"]["reason"], event["detail"]["level"]) == (envelope["reason"], envelope["level"])


# ------------------------------------------------------------------ escalations
def test_each_sla_ladder_level_reports_escalated_once() -> None:
    routing = config()
    repos, bus = memory_repositories(), CountingBus(routing)
    routed_conversation(repos, sla_setup(routing))
    ports = sweep_ports(repos, routing, bus)
    for minute in range(20):
        sweep(ports, OPENED + minute * MINUTE)
        sweep(ports, OPENED + minute * MINUTE)  # a re-run publishes nothing more
    events = escalated_events(bus)
    assert [(e["detail"]["reason"], e["detail"]["level"]) for e in events] == [
        ("sla:first_response", 1), ("sla:first_response", 2), ("sla:first_response", 3)]
    assert len({e["event_id"] for e in events}) == 3
    assert events[0]["occurred_at"] == format_timestamp(OPENED + MINUTE)  # when the level fell due
    assert events[1]["conversation"]["priority"] == "urgent" and events[1]["route"] == "vip"  # after the re-route
    assert all(count == 1 for key, count in bus.published.items() if key.startswith("conversation-events"))
    assert_one_event_per_escalation(bus)


@pytest.fixture
def worker() -> tuple[Repositories, MemoryBus, WorkerPorts]:
    repos = memory_repositories(MemoryStore())
    bus = MemoryBus(queues=resources.all_queues(CONFIG))
    return repos, bus, WorkerPorts(repos=repos, bus=bus, id_key=test_id_key, routing=CONFIG)  # type: ignore[arg-type]


def test_a_rule_escalation_reports_escalated_once_after_the_routing_events(
    worker: tuple[Repositories, MemoryBus, WorkerPorts],
) -> None:
    repos, bus, ports = worker
    vip(repos)
    key = stored(repos, "wamid.1", "Parlerò con il mio avvocato")
    handle_inbound_event(key, ports)
    assert [body["type"] for body in bus.bodies(EVENTS)] == ["opened", "routed", "escalated"]
    assert_one_event_per_escalation(bus)


def test_a_repeat_contact_reports_escalated_once(worker: tuple[Repositories, MemoryBus, WorkerPorts]) -> None:
    repos, bus, ports = worker
    for number, at in enumerate(("09:00", "09:40", "11:00", "15:00")):
        key = stored(repos, f"wamid.{number}", "any news?", at=f"2026-03-02T{at}:00.000Z")
        for _ in range(2):
            handle_inbound_event(key, ports)
    [event] = {e["event_id"]: e for e in escalated_events(bus)}.values()
    assert (event["detail"]["reason"], event["detail"]["level"]) == ("repeat_contact", 1)
    assert event["occurred_at"] == "2026-03-02T11:00:00.000Z"
    assert_one_event_per_escalation(bus)


def test_a_customer_message_on_a_pending_conversation_resumes_the_clocks(
    worker: tuple[Repositories, MemoryBus, WorkerPorts],
) -> None:
    repos, bus, ports = worker
    handle_inbound_event(stored(repos, "wamid.1", "hello", at="2026-03-02T09:00:00.000Z"), ports)
    conversation = the_conversation(repos, bus)
    repos.conversations.set_status(conversation.id, ConversationStatus.PENDING, "2026-03-02T09:01:00.000Z")
    paused = repos.conversations.get(conversation.id)
    handle_inbound_event(stored(repos, "wamid.2", "here it is", at="2026-03-02T10:01:00.000Z"), ports)
    resumed = repos.conversations.get(conversation.id)
    assert paused is not None and resumed is not None and resumed.sla is not None
    assert resumed.status is ConversationStatus.OPEN
    assert not resumed.sla.paused and resumed.sla.attention_at is not None  # back on the sweeper's index
    assert resumed.to_api()["sla"]["first_response_due_at"] is not None


# ------------------------------------------------------------------ the REST actions
AT = "2026-11-18T09:00:00.000Z"


def rest_repos(*, public: bool = False) -> Repositories:
    repos = memory_repositories(MemoryStore())
    repos.customers.create(Customer(id="cus_1", name="Maria", language="it", tier="standard",
                                    identities=(Identity(Channel.WEBCHAT, "maria"),), created_at=AT))
    if not public:
        repos.customers.claim_open_conversation("cus_1", "cnv_1", None)
    now = utc_now()
    repos.conversations.create(Conversation(
        id="cnv_1", reference="OH-AAAAA", status=ConversationStatus.OPEN, priority=Priority.NORMAL, route="default",
        customer_id="cus_1", channel=Channel.WEBCHAT, created_at=now, updated_at=now, last_inbound_at=now,
        public=public, post_id="post_1" if public else None))
    repos.conversations.record_routing("cnv_1", route="default", priority=Priority.NORMAL, tags=(),
                                       routing=ConversationRouting(None, "the default", "msg_1"))
    after_customer_message(repos.conversations, "cnv_1", now, current_sla_setup())
    return repos


def sla_of(repos: Repositories) -> dict[str, Any]:
    found = repos.conversations.get("cnv_1")
    assert found is not None and found.sla is not None
    return {**found.to_api()["sla"], "attention_at": found.sla.attention_at}


def test_pending_pauses_reopen_resumes_and_resolve_stops_the_clocks() -> None:
    repos, bus = rest_repos(), MemoryBus(queues=resources.QUEUES)
    assert not sla_of(repos)["paused"]
    assert set_pending(repos, "cnv_1", bus=bus)["sla"]["paused"] is True
    assert sla_of(repos)["attention_at"] is None  # off the sweeper's index
    reopened = reopen_conversation(repos, "cnv_1", bus=bus)
    assert reopened["status"] == "open" and reopened["sla"]["paused"] is False
    assert sla_of(repos)["attention_at"] is not None
    resolved = resolve_conversation(repos, "cnv_1", bus=bus)
    assert resolved["sla"]["first_response_due_at"] is None and resolved["sla"]["resolution_due_at"] is None
    assert sla_of(repos)["attention_at"] is None


def test_assign_retargets_the_clocks_to_the_new_priority_before_the_hand_over() -> None:
    repos, bus = rest_repos(), MemoryBus(queues=resources.all_queues(load_routing_config()))
    before = sla_of(repos)["first_response_due_at"]
    answer = assign_conversation(repos, "cnv_1", {"priority": "urgent"}, bus=bus)
    assert answer["priority"] == "urgent"
    assert answer["sla"]["first_response_due_at"] < before  # urgent answers sooner
    [event] = bus.bodies(EVENTS)
    jsonschema.validate(event, SCHEMA)
    assert event["conversation"]["sla"] == answer["sla"]


def test_reopening_a_public_conversation_claims_no_direct_pointer() -> None:
    repos, bus = rest_repos(public=True), MemoryBus(queues=resources.QUEUES)
    resolve_conversation(repos, "cnv_1", bus=bus)
    repos.customers.claim_open_conversation("cus_1", "cnv_direct", None)  # the customer's direct conversation
    reopened = reopen_conversation(repos, "cnv_1", bus=bus)
    assert reopened["status"] == "open" and reopened["public"] is True
    customer = repos.customers.get("cus_1")
    assert customer is not None and customer.open_conversation_id == "cnv_direct"
    for event in bus.bodies(EVENTS):
        jsonschema.validate(event, SCHEMA)
        assert event["conversation"]["public"] is True and event["conversation"]["post_id"] == "post_1"
