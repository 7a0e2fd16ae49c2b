"""The worker routes on the twins: the decision recorded once, re-routes only upwards, envelopes on the
route's queue and, for an escalating rule, once on the escalation queue."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jsonschema
import pytest

from chalicelib.adapters import resources
from chalicelib.adapters.memory import MemoryBus, MemoryStore, memory_repositories
from chalicelib.adapters.sqs import PublishFailed
from chalicelib.conversations.inbound import WorkerPorts, handle_inbound_event
from chalicelib.conversations.routing import routing_facts
from chalicelib.conversations.threading import thread_message
from chalicelib.core.ids import escalation_id_for, message_id_for
from chalicelib.core.model import Channel, Conversation, Customer, EventKind, Identity, InboundEvent, Priority, Sender
from chalicelib.core.ports import Repositories
from chalicelib.routing import RoutingConfig, parse_routing_config
from tests.conftest import load_schema
from tests.unit.conftest import test_id_key

PHONE = Identity(Channel.WHATSAPP, "+393331234567")
CONFIG = parse_routing_config({
    "version": 1,
    "routes": {"default": {}, "billing": {"description": "invoices, payments"}, "vip": {}, "crisis": {}},
    "rules": [
        {"name": "vip-legal", "if": {"tier": ["vip"], "text_matches": ["avvocat\\w*", "lawyer"]},
         "then": {"route": "vip", "priority": "urgent", "tags": ["legal"], "escalate": True}},
        {"name": "outage", "if": {"text_matches": ["\\boutage\\b"]},
         "then": {"route": "crisis", "priority": "high", "tags": ["outage"]}},
        {"name": "billing", "if": {"text_matches": ["fattur\\w*", "invoice"]}, "then": {"route": "billing"}},
        {"name": "repeat", "if": {"repeat_contact": {"conversations": 2, "days": 7}},
         "then": {"priority": "high", "tags": ["repeat"]}},
    ],
    "default": {"route": "default", "priority": "normal"},
}, source="test-routing.json")
QUEUES = {spec.logical_name: spec for spec in resources.route_queue_specs(CONFIG)}


class CountingConversations:
    """The memory twin, counting the routing writes that took effect."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.applied = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def record_routing(self, conversation_id: str, **kwargs: Any) -> Conversation | None:
        result = self._inner.record_routing(conversation_id, **kwargs)
        self.applied += result is not None
        return result


@pytest.fixture
def repos() -> Repositories:
    base = memory_repositories(MemoryStore())
    return Repositories(base.inbox, base.customers, base.references, CountingConversations(base.conversations),  # type: ignore[arg-type]
                        base.messages, base.deliveries, base.idempotency)


@pytest.fixture
def bus() -> MemoryBus:
    return MemoryBus(queues=resources.all_queues(CONFIG))


@pytest.fixture
def ports(repos: Repositories, bus: MemoryBus) -> WorkerPorts:
    return WorkerPorts(repos=repos, bus=bus, id_key=test_id_key, routing=CONFIG)  # type: ignore[arg-type]  # MemoryBus: SqsBus in memory


def vip(repos: Repositories) -> None:
    repos.customers.create(Customer(id="cus_vip", name="Dott. Rossi", language="it", tier="vip", identities=(PHONE,),
                                    created_at="2026-11-01T00:00:00.000Z", tags=("press",)))
    assert repos.customers.claim_identity(PHONE, "cus_vip") == "cus_vip"


def stored(repos: Repositories, event_id: str, text: str, at: str = "2026-11-18T09:00:00.000Z", **metadata: str
           ) -> str:
    event = InboundEvent(provider="meta", event_id=event_id, kind=EventKind.MESSAGE, channel=Channel.WHATSAPP,
                         occurred_at=at, sender=Sender(PHONE, name="Maria"), text=text,
                         metadata={"phone_number_id": "1065", **metadata})
    repos.inbox.put(event, endpoint="meta", received_at=at, raw_body=b"{}", content_type="application/json")
    return event.inbox_key


def bodies(bus: MemoryBus, route: str) -> list[dict[str, Any]]:
    return bus.bodies(QUEUES[f"route-{route}"])


def the_conversation(repos: Repositories, bus: MemoryBus) -> Conversation:
    conversation_ids = {b["conversation"]["id"] for route in ("default", "billing", "vip", "crisis")
                        for b in bodies(bus, route)}
    [conversation_id] = conversation_ids
    found = repos.conversations.get(conversation_id, consistent=True)
    assert found is not None
    return found


def applied(repos: Repositories) -> int:
    return repos.conversations.applied  # type: ignore[attr-defined, no-any-return]


# ------------------------------------------------------------------ the decision
def test_a_vip_mentioning_a_lawyer_goes_to_vip_urgent_and_is_escalated_once(repos: Repositories, bus: MemoryBus,
                                                                             ports: WorkerPorts) -> None:
    vip(repos)
    key = stored(repos, "wamid.1", "Parlerò con il mio avvocato domani")
    for _ in range(3):  # redeliveries
        assert handle_inbound_event(key, ports) == "routed+not_acknowledged"
    conversation = the_conversation(repos, bus)
    assert (conversation.route, conversation.priority, conversation.tags) == ("vip", Priority.URGENT, ("legal",))
    assert conversation.to_api()["routing"] == {"rule": "vip-legal",
                                                "reason": 'tier=vip and text matched "avvocat\\w*"'}
    assert applied(repos) == 1
    [routed] = bus.messages(QUEUES["route-vip"])
    jsonschema.validate(routed.body, load_schema("omnihub.routed.v1"))
    assert routed.body["route"] == "vip" and routed.group_id == conversation.id
    assert routed.body["conversation"]["priority"] == "urgent" and routed.body["conversation"]["tags"] == ["legal"]
    assert routed.body["conversation"]["routing"]["rule"] == "vip-legal"
    assert (routed.body["customer"]["tier"], routed.body["customer"]["tags"]) == ("vip", ["press"])
    assert bodies(bus, "default") == []
    [escalation] = bus.messages(resources.ESCALATION_QUEUE)
    jsonschema.validate(escalation.body, load_schema("omnihub.escalation.v1"))
    expected_id = escalation_id_for(conversation.id, "vip-legal", 1)
    assert (escalation.body["envelope_id"], escalation.dedupe_id, escalation.group_id) == (
        expected_id, expected_id, conversation.id)
    assert (escalation.body["reason"], escalation.body["level"]) == ("vip-legal", 1)
    assert escalation.body["conversation"]["priority"] == "urgent" and escalation.body["customer"]["id"] == "cus_vip"


def test_the_same_words_from_a_standard_customer_stay_on_the_default(repos: Repositories, bus: MemoryBus,
                                                                     ports: WorkerPorts) -> None:
    handle_inbound_event(stored(repos, "wamid.1", "Parlerò con il mio avvocato"), ports)
    conversation = the_conversation(repos, bus)
    assert (conversation.route, conversation.priority, conversation.routing and conversation.routing.rule) == (
        "default", Priority.NORMAL, None)
    assert bus.messages(resources.ESCALATION_QUEUE) == []


def test_a_later_message_reroutes_only_on_a_higher_priority(repos: Repositories, bus: MemoryBus,
                                                            ports: WorkerPorts) -> None:
    texts = ["C'è un errore nella fattura", "Un'altra fattura sbagliata", "Outage: nothing works",
             "Any news on the invoice?"]
    for n, text in enumerate(texts):
        handle_inbound_event(stored(repos, f"wamid.{n}", text, f"2026-11-18T09:0{n}:00.000Z"), ports)
    conversation = the_conversation(repos, bus)
    assert (conversation.route, conversation.priority) == ("crisis", Priority.HIGH)
    assert conversation.tags == ("outage",)
    assert conversation.routing is not None and conversation.routing.message_id == message_id_for("meta#wamid.2")
    assert applied(repos) == 2  # opened on billing, then the outage; equal or lower priorities left it
    assert [b["message"]["text"] for b in bodies(bus, "billing")] == texts[:2]
    assert [b["message"]["text"] for b in bodies(bus, "crisis")] == texts[2:]
    assert [b["conversation"]["opened"] for b in bodies(bus, "billing")] == [True, False]


def test_a_redelivery_after_a_reroute_does_not_move_the_conversation_back(repos: Repositories, bus: MemoryBus,
                                                                          ports: WorkerPorts) -> None:
    first = stored(repos, "wamid.1", "fattura sbagliata")
    handle_inbound_event(first, ports)
    handle_inbound_event(stored(repos, "wamid.2", "outage!", "2026-11-18T09:05:00.000Z"), ports)
    handle_inbound_event(first, ports)  # a late redelivery of the first message
    conversation = the_conversation(repos, bus)
    assert (conversation.route, conversation.priority, applied(repos)) == ("crisis", Priority.HIGH, 2)


def test_a_crash_before_publishing_is_finished_by_the_redelivery(repos: Repositories, bus: MemoryBus,
                                                                 ports: WorkerPorts) -> None:
    vip(repos)
    key = stored(repos, "wamid.1", "I will call my lawyer")
    bus.refusing.add(message_id_for(key))  # SQS fails after the routing was recorded
    with pytest.raises(PublishFailed):
        handle_inbound_event(key, ports)
    assert applied(repos) == 1 and bus.messages(resources.ESCALATION_QUEUE) == []
    bus.refusing.clear()
    handle_inbound_event(key, ports)
    assert applied(repos) == 1  # the redelivery recognised its own routing
    assert len(bodies(bus, "vip")) == 1 and len(bus.messages(resources.ESCALATION_QUEUE)) == 1


# ------------------------------------------------------------------ the facts
def facts_of(repos: Repositories, key: str) -> Any:
    record = repos.inbox.get(key)
    assert record is not None
    return routing_facts(thread_message(repos, record, id_key=test_id_key), repos.conversations)


def test_the_facts_come_from_the_event_the_customer_and_the_calendar(repos: Repositories) -> None:
    vip(repos)
    monday_morning = "2026-11-16T09:30:00.000Z"  # 10:30 in Rome
    sunday = "2026-11-15T09:30:00.000Z"
    facts = facts_of(repos, stored(repos, "wamid.1", "ciao", monday_morning, public="true"))
    assert (facts.channel, facts.tier, tuple(facts.customer_tags), facts.language, facts.public) == (
        Channel.WHATSAPP, "vip", ("press",), "it", True)
    assert facts.business_hours is True and facts.mailbox is None and facts.consent is None
    assert facts_of(repos, stored(repos, "wamid.2", "ciao", sunday)).business_hours is False


def test_repeat_contact_counts_the_customers_recent_conversations(repos: Repositories, bus: MemoryBus,
                                                                  ports: WorkerPorts) -> None:
    first = stored(repos, "wamid.1", "hello", "2026-11-18T09:00:00.000Z")
    handle_inbound_event(first, ports)
    conversation = the_conversation(repos, bus)
    repos.conversations.set_status(conversation.id, conversation.status.RESOLVED, "2026-11-18T10:00:00.000Z")
    second = stored(repos, "wamid.2", "hello again", "2026-11-19T09:00:00.000Z")
    handle_inbound_event(second, ports)
    [_, latest] = bodies(bus, "default")
    assert latest["conversation"]["opened"] is True and latest["conversation"]["priority"] == "high"
    assert latest["conversation"]["routing"] == {
        "rule": "repeat", "reason": "repeat_contact=2 conversations within 7 days"}


@pytest.mark.parametrize("routes", [["default", "billing"], ["billing"]])
def test_route_queues_follow_the_configuration(routes: Sequence[str]) -> None:
    config: RoutingConfig = parse_routing_config({
        "version": 1, "routes": {name: {} for name in routes}, "rules": [],
        "default": {"route": routes[0], "priority": "normal"}})
    names = [spec.logical_name for spec in resources.route_queue_specs(config)]
    assert names == [f"route-{name}" for name in routes]
    assert resources.route_queue_spec("default", config) is resources.ROUTE_DEFAULT_QUEUE  # always kept
    assert resources.queue_name("prod", resources.route_queue_spec("billing", config)) == (
        "omnihub-prod-route-billing.fifo")
    every = [spec.logical_name for spec in resources.all_queues(config)]
    assert every.count("route-default") == 1 and "route-billing" in every
    with pytest.raises(KeyError):
        resources.route_queue_spec("sales", config)


# ------------------------------------------------------------------ a crisis
def test_a_vips_message_caught_by_an_active_incident_is_escalated_at_once_and_once(
        repos: Repositories, bus: MemoryBus) -> None:
    from chalicelib.conversations.routing import route_threaded

    vip(repos)
    record = repos.inbox.get(stored(repos, "wamid.1", "la rete non va da stamattina"))
    assert record is not None
    for _ in range(2):  # a redelivery
        threaded = thread_message(repos, record, id_key=test_id_key)
        routed = route_threaded(threaded, repos.conversations, bus, CONFIG, surge_tag="incident:inc_1")
    assert routed.conversation.route == "crisis" and "incident:inc_1" in routed.conversation.tags
    [escalation] = bus.messages(resources.ESCALATION_QUEUE)
    jsonschema.validate(escalation.body, load_schema("omnihub.escalation.v1"))
    assert (escalation.body["reason"], escalation.body["level"]) == ("incident:inc_1", 1)


def test_a_standard_customers_crisis_message_is_kept_apart_but_not_escalated(
        repos: Repositories, bus: MemoryBus) -> None:
    from chalicelib.conversations.routing import route_threaded

    record = repos.inbox.get(stored(repos, "wamid.1", "la rete non va da stamattina"))
    assert record is not None
    routed = route_threaded(thread_message(repos, record, id_key=test_id_key), repos.conversations, bus, CONFIG,
                            surge_tag="incident:inc_1")
    assert routed.conversation.route == "crisis" and not routed.escalated
    assert bus.messages(resources.ESCALATION_QUEUE) == []


def test_an_incidents_keywords_move_an_already_routed_conversation_to_crisis_once(
        repos: Repositories, bus: MemoryBus) -> None:
    from chalicelib.conversations.routing import route_threaded

    def route(event_id: str, text: str, at: str, surge: str | None, config: RoutingConfig = CONFIG) -> Any:
        record = repos.inbox.get(stored(repos, event_id, text, at))
        assert record is not None
        return route_threaded(thread_message(repos, record, id_key=test_id_key), repos.conversations, bus, config,
                              surge_tag=surge)

    route("wamid.1", "C'è un errore nella fattura", "2026-11-18T09:00:00.000Z", None)
    assert the_conversation(repos, bus).route == "billing"
    for _ in range(2):  # a redelivery publishes the same, moves nothing again
        moved = route("wamid.2", "e adesso la rete non va", "2026-11-18T09:01:00.000Z", "incident:inc_1")
    assert moved.applied and moved.conversation.route == "crisis"
    assert moved.conversation.tags == ("incident:inc_1",) and moved.conversation.priority is Priority.NORMAL
    route("wamid.3", "la rete ancora giù", "2026-11-18T09:02:00.000Z", "incident:inc_1")  # already there: stays
    assert applied(repos) == 2
    # The routed envelopes follow it to route-crisis (the redelivery's copy: the same dedupe id, dropped).
    assert [b["message"]["text"] for b in bodies(bus, "crisis")] == ["e adesso la rete non va", "la rete ancora giù"]
    events = [b for b in bus.bodies(resources.CONVERSATION_EVENTS_QUEUE) if b["type"] == "rerouted"]
    assert {e["event_id"] for e in events} == {events[0]["event_id"]}  # one event (published twice, one id)
    assert events[0]["detail"]["reason"] == "incident:inc_1" and events[0]["route"] == "crisis"
    for event in bus.bodies(resources.CONVERSATION_EVENTS_QUEUE):
        jsonschema.validate(event, load_schema("omnihub.event.v1"))


def test_without_a_crisis_route_a_routed_conversation_keeps_its_route_but_is_not_moved(
        repos: Repositories, bus: MemoryBus) -> None:
    from chalicelib.conversations.routing import route_threaded

    no_crisis = parse_routing_config({"version": 1, "routes": {"default": {}, "billing": {}}, "rules": [
        {"name": "billing", "if": {"text_matches": ["fattur\\w*"]}, "then": {"route": "billing"}}],
        "default": {"route": "default", "priority": "normal"}}, source="no-crisis.json")
    for event_id, text, surge in (("wamid.1", "fattura", None), ("wamid.2", "la rete", "incident:inc_1")):
        record = repos.inbox.get(stored(repos, event_id, text, f"2026-11-18T09:0{event_id[-1]}:00.000Z"))
        assert record is not None
        routed = route_threaded(thread_message(repos, record, id_key=test_id_key), repos.conversations, bus,
                                no_crisis, surge_tag=surge)
    assert routed.conversation.route == "billing" and not routed.applied
