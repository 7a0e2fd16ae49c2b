"""The REST actions' events on the twins: a change whose event SQS refused is published by the retry
under the same id; a reply without an Idempotency-Key is never failed by its event; concurrent PATCHes
each report their own change."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters import resources
from chalicelib.adapters.memory import MemoryBus, MemoryStore, memory_repositories
from chalicelib.adapters.sqs import PublishFailed
from chalicelib.api.customers import update_customer, validated_profile
from chalicelib.api.lifecycle import resolve_conversation, set_pending, validated_assignment
from chalicelib.api.replies import reply_to_conversation
from chalicelib.core.errors import BadRequest
from chalicelib.core.model import Channel, Conversation, ConversationStatus, Customer, Identity, Priority
from chalicelib.core.ports import Repositories

EVENTS = resources.CONVERSATION_EVENTS_QUEUE
AT = "2026-11-18T09:00:00.000Z"


class Clock:
    now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bus(clock: Clock) -> MemoryBus:
    return MemoryBus(queues=resources.QUEUES, clock=clock)


@pytest.fixture
def repos() -> Repositories:
    repos = memory_repositories(MemoryStore())
    repos.customers.create(Customer(id="cus_1", name="Maria", language="it", tier="standard",
                                    identities=(Identity(Channel.WEBCHAT, "maria"),), created_at=AT))
    repos.customers.claim_open_conversation("cus_1", "cnv_1", None)
    repos.conversations.create(Conversation(
        id="cnv_1", reference="OH-AAAAA", status=ConversationStatus.OPEN, priority=Priority.NORMAL, route="default",
        customer_id="cus_1", channel=Channel.WEBCHAT, created_at=AT, updated_at=AT, last_inbound_at=AT))
    return repos


def refuse_everything(bus: MemoryBus, monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(spec: Any, messages: Any) -> list[str]:
        return [m.dedupe_id for m in messages]

    monkeypatch.setattr(bus, "publish_batch", refused)


def test_a_resolve_whose_event_sqs_refused_publishes_it_on_the_retry(
    repos: Repositories, bus: MemoryBus, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patched:
        refuse_everything(bus, patched)
        with pytest.raises(PublishFailed):  # 503 to the client; the change is stored
            resolve_conversation(repos, "cnv_1", bus=bus)  # type: ignore[arg-type]
    stored = repos.conversations.get("cnv_1")
    assert stored is not None and stored.status is ConversationStatus.RESOLVED and stored.status_event_id
    clock.now += 3600
    for _ in range(2):  # the client's retries
        assert resolve_conversation(repos, "cnv_1", bus=bus)["status"] == "resolved"  # type: ignore[arg-type]
        clock.now += 3600
    republished = bus.bodies(EVENTS)
    assert {(e["type"], e["event_id"], e["occurred_at"]) for e in republished} == {
        ("resolved", stored.status_event_id, stored.status_changed_at)}


def test_a_status_asked_for_again_without_a_recorded_change_publishes_nothing(
    repos: Repositories, bus: MemoryBus
) -> None:
    from chalicelib.api.lifecycle import reopen_conversation

    assert reopen_conversation(repos, "cnv_1", bus=bus)["status"] == "open"  # type: ignore[arg-type]
    assert bus.bodies(EVENTS) == []
    set_pending(repos, "cnv_1", bus=bus)  # type: ignore[arg-type]
    assert [e["type"] for e in bus.bodies(EVENTS)] == ["pending"]


def test_a_reply_without_a_key_stands_when_its_event_is_refused_and_with_a_key_fails(
    repos: Repositories, bus: MemoryBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    refuse_everything(bus, monkeypatch)
    body = {"text": "On it"}
    accepted = reply_to_conversation(repos, "cnv_1", body, environ={}, bus=bus)  # type: ignore[arg-type]
    assert accepted["status"] == "sent"  # web chat: read from the conversation
    with pytest.raises(PublishFailed):
        reply_to_conversation(repos, "cnv_1", body, environ={}, idempotency_key="k-1", bus=bus)  # type: ignore[arg-type]
    monkeypatch.undo()
    again = reply_to_conversation(repos, "cnv_1", body, environ={}, idempotency_key="k-1", bus=bus)  # type: ignore[arg-type]
    [replied] = bus.bodies(EVENTS)
    assert replied["type"] == "replied" and replied["detail"]["message_id"] == again["id"]


def test_a_patch_racing_another_reads_again_and_reports_its_own_change(
    repos: Repositories, bus: MemoryBus, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = repos.customers.update_profile
    raced = []

    def racing(customer_id: str, changes: Any, *, expected_version: int) -> Any:
        if not raced:  # another PATCH lands between our read and our write
            raced.append(original(customer_id, {"tags": ("loyal",)}, expected_version=expected_version))
        return original(customer_id, changes, expected_version=expected_version)

    monkeypatch.setattr(repos.customers, "update_profile", racing)
    answer = update_customer(repos, "cus_1", {"tier": "gold"}, bus=bus)  # type: ignore[arg-type]
    assert (answer["tier"], answer["tags"]) == ("gold", ["loyal"])
    [event] = bus.bodies(EVENTS)
    assert event["detail"]["changed"] == ["tier"] and event["customer"]["tier"] == "gold"


@pytest.mark.parametrize(("body", "expected"), [
    ({"tier": " Gold "}, {"tier": "gold"}),
    ({"tags": ["A", "a", "b-2"]}, {"tags": ("a", "b-2")}),
    ({"name": "  Ann  ", "language": "EN_gb"}, {"name": "Ann", "language": "en-gb"}),
    ({"name": None, "language": None, "tags": []}, {"name": None, "language": None, "tags": ()}),
])
def test_a_profile_is_normalized(body: dict[str, Any], expected: dict[str, Any]) -> None:
    assert validated_profile(body) == expected


def test_an_assignment_names_a_configured_route_and_a_known_priority() -> None:
    routes = {"default": {}, "billing": {}}
    assert validated_assignment({"route": "billing"}, routes) == ("billing", None)
    assert validated_assignment({"priority": "urgent"}, routes) == (None, Priority.URGENT)
    for bad in ({"route": "vip"}, {"priority": "URGENT"}, {}, {"route": "billing", "x": 1}, ["billing"]):
        with pytest.raises(BadRequest):
            validated_assignment(bad, routes)


def test_an_assignment_whose_publications_sqs_refused_publishes_them_on_the_retry(
    repos: Repositories, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.api.lifecycle import assign_conversation
    from chalicelib.core.model import DeliveryStatus, Direction, Message
    from chalicelib.routing import parse_routing_config

    config = parse_routing_config({"version": 1, "routes": {"default": {}, "billing": {}},
                                   "rules": [], "default": {"route": "default", "priority": "normal"}}, source="t")
    bus = MemoryBus(queues=resources.all_queues(config), clock=clock)
    repos.messages.put(Message(id="msg_1", conversation_id="cnv_1", direction=Direction.INBOUND,
                               channel=Channel.WEBCHAT, created_at=AT, text="my invoice",
                               status=DeliveryStatus.RECEIVED))
    body = {"route": "billing", "priority": "high"}
    with monkeypatch.context() as patched:
        refuse_everything(bus, patched)
        with pytest.raises(PublishFailed):
            assign_conversation(repos, "cnv_1", body, bus=bus, config=config)  # type: ignore[arg-type]
    clock.now += 3600
    for _ in range(2):
        assert assign_conversation(repos, "cnv_1", body, bus=bus, config=config)["route"] == "billing"  # type: ignore[arg-type]
        clock.now += 3600
    events = bus.bodies(EVENTS)
    assert len({e["event_id"] for e in events}) == 1 and len(events) == 2
    assert events[0]["detail"] == {"by": "support", "previous_route": "default", "previous_priority": "normal"}
    handed = bus.bodies(resources.route_queue_spec("billing", config))
    assert [e["envelope_id"] for e in handed] == [events[0]["event_id"]] * 2
    assert handed[0]["message"]["text"] == "my invoice"
    stored = repos.conversations.get("cnv_1")
    assert stored is not None and stored.assignment is not None and stored.assignment.previous_route == "default"
