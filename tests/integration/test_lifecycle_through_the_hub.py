"""Lifecycle events, customer attributes and the conversation actions through the app on moto: every
change on omnihub-{stage}-conversation-events.fifo once, in order, valid against omnihub.event.v1."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest

from tests.conftest import Hub, load_schema
from tests.helpers import api_event, post_api

SUPPORT = {"x-api-key": "support-key"}
SCHEMA = load_schema("omnihub.event.v1")


class Events:
    """Everything read from the events queue so far; each distinct event once, in order."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.seen: dict[str, dict[str, Any]] = {}

    def new(self) -> list[dict[str, Any]]:
        fresh = []
        for body in self.hub.receive_all("conversation-events"):
            jsonschema.validate(body, SCHEMA)
            if body["event_id"] not in self.seen:
                self.seen[body["event_id"]] = body
                fresh.append(body)
        return fresh

    def types(self) -> list[str]:
        return [body["type"] for body in self.new()]


def say(hub: Hub, text: str, sender: str = "maria") -> None:
    assert post_api(hub.client, api_event(sender=sender, text=text)).status_code == 200
    hub.pump.drain()


def call(hub: Hub, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    headers = {**SUPPORT, "Content-Type": "application/json"}
    payload = b"" if body is None else json.dumps(body).encode()
    response = getattr(hub.client.http, method.lower())(path, headers=headers, body=payload)
    return response.status_code, json.loads(response.body)


def customer(hub: Hub, sender: str = "maria") -> dict[str, Any]:
    status, found = call(hub, "GET", f"/customers/lookup?channel=webchat&address={sender}")
    assert status == 200
    return found  # type: ignore[no-any-return]


@pytest.fixture
def events(hub: Hub) -> Events:
    return Events(hub)


def test_a_conversations_life_is_reported_once_per_change(hub: Hub, events: Events) -> None:
    say(hub, "ciao, una domanda")
    opened, routed = events.new()
    assert (opened["type"], routed["type"]) == ("opened", "routed")
    conversation_id = opened["conversation"]["id"]
    assert routed["route"] == "default" and routed["detail"]["by"] == "rule"
    maria = customer(hub)

    # a CRM marks her VIP: the answer and the lookup show it, one customer_updated
    status, answer = call(hub, "PATCH", f"/customers/{maria['id']}",
                          {"tier": "VIP", "tags": ["press", "Press"], "name": " Maria Rossi ", "language": "IT"})
    assert status == 200
    assert (answer["tier"], answer["tags"], answer["name"], answer["language"]) == ("vip", ["press"], "Maria Rossi",
                                                                                  "it")
    assert {k: customer(hub)[k] for k in ("tier", "tags")} == {"tier": "vip", "tags": ["press"]}
    [updated] = events.new()
    assert updated["type"] == "customer_updated" and updated["conversation"] is None and updated["route"] is None
    assert updated["detail"]["changed"] == ["tier", "tags", "name", "language"]
    assert updated["customer"]["tier"] == "vip"
    assert call(hub, "PATCH", f"/customers/{maria['id']}", {"tier": "vip"})[0] == 200
    assert events.new() == []  # no change, no event

    # her next message is routed with the tier the CRM set: vip-legal re-routes and escalates
    say(hub, "parlerò con il mio avvocato")
    assert events.types() == ["rerouted", "escalated"]
    status, conversation = call(hub, "GET", f"/conversations/{conversation_id}")
    assert (conversation["route"], conversation["priority"]) == ("vip", "urgent")

    status, _ = call(hub, "POST", f"/conversations/{conversation_id}/messages", {"text": "We are on it"})
    assert status == 202
    [replied] = events.new()
    assert replied["type"] == "replied" and replied["detail"]["channel"] == "webchat"

    # pending, then the customer answers: open again
    status, pending = call(hub, "POST", f"/conversations/{conversation_id}/pending")
    assert status == 200 and pending["status"] == "pending" and "messages" in pending
    assert call(hub, "POST", f"/conversations/{conversation_id}/pending")[0] == 200  # a retry
    [was_pending] = events.new()
    assert (was_pending["type"], was_pending["detail"]) == ("pending", {"by": "support", "previous_status": "open"})
    say(hub, "ecco la foto")
    [reopened] = events.new()
    assert reopened["type"] == "reopened" and reopened["detail"]["by"] == "customer"
    assert call(hub, "GET", f"/conversations/{conversation_id}")[1]["status"] == "open"

    # support assigns it elsewhere
    status, assigned = call(hub, "POST", f"/conversations/{conversation_id}/assign",
                            {"route": "billing", "priority": "high"})
    assert status == 200 and (assigned["route"], assigned["priority"]) == ("billing", "high")
    assert assigned["routing"]["rule"] is None
    assert call(hub, "POST", f"/conversations/{conversation_id}/assign", {"route": "billing"})[0] == 200
    [moved] = events.new()
    assert moved["type"] == "rerouted" and moved["detail"] == {
        "by": "support", "previous_route": "vip", "previous_priority": "urgent"}
    # billing's tool learns of the case: the customer's last message, under the assignment's id
    [handed_over] = [e for e in hub.receive_all("route-billing") if e["conversation"]["id"] == conversation_id]
    jsonschema.validate(handed_over, load_schema("omnihub.routed.v1"))
    assert handed_over["envelope_id"] == moved["event_id"] and handed_over["message"]["text"] == "ecco la foto"
    assert (handed_over["route"], handed_over["conversation"]["priority"]) == ("billing", "high")
    assert handed_over["conversation"]["opened"] is False

    # resolve, then an impossible move, then reopen
    assert call(hub, "POST", f"/conversations/{conversation_id}/resolve")[1]["status"] == "resolved"
    assert call(hub, "POST", f"/conversations/{conversation_id}/resolve")[0] == 200
    status, refused = call(hub, "POST", f"/conversations/{conversation_id}/pending")
    assert status == 409 and refused["error"] == "conflict"
    status, again = call(hub, "POST", f"/conversations/{conversation_id}/reopen")
    assert status == 200 and again["status"] == "open" and again["resolved_at"] is None
    assert events.types() == ["resolved", "reopened"]
    say(hub, "grazie")  # joins the reopened conversation; the default's priority is below support's
    assert customer(hub)["conversation_ids"] == [conversation_id]
    assert events.types() == []
    assert call(hub, "GET", f"/conversations/{conversation_id}")[1]["route"] == "billing"


def test_a_resolved_conversation_cannot_be_reopened_once_another_is_open(hub: Hub, events: Events) -> None:
    say(hub, "first question", sender="luca")
    first = customer(hub, "luca")["conversation_ids"][0]
    call(hub, "POST", f"/conversations/{first}/resolve")
    say(hub, "second question", sender="luca")
    status, body = call(hub, "POST", f"/conversations/{first}/reopen")
    assert status == 409 and body["error"] == "conflict"
    assert call(hub, "GET", f"/conversations/{first}")[1]["status"] == "resolved"
    # reassigning a resolved case (for the reports) hands nothing to the route's queue
    status, assigned = call(hub, "POST", f"/conversations/{first}/assign", {"route": "sales"})
    assert status == 200 and assigned["route"] == "sales" and assigned["status"] == "resolved"
    assert hub.receive_all("route-sales") == []
    assert [e["type"] for e in events.new()] == ["opened", "routed", "resolved", "opened", "routed", "rerouted"]


@pytest.mark.parametrize("action", ["reopen", "pending", "resolve", "assign"])
def test_unknown_conversations_are_404(hub: Hub, action: str) -> None:
    status, body = call(hub, "POST", f"/conversations/cnv_0000000000000000/{action}", {"priority": "high"})
    assert status == 404 and body["error"] == "not_found"


@pytest.mark.parametrize("body", [
    {"route": "nowhere"}, {"priority": "critical"}, {}, {"route": 3}, {"owner": "x"}, [], "billing", None,
])
def test_a_bad_assignment_is_400_and_changes_nothing(hub: Hub, events: Events, body: Any) -> None:
    say(hub, "hello", sender="anna")
    conversation_id = customer(hub, "anna")["conversation_ids"][0]
    before = call(hub, "GET", f"/conversations/{conversation_id}")[1]
    events.new()
    status, answer = call(hub, "POST", f"/conversations/{conversation_id}/assign", body)
    assert status == 400 and answer["error"] == "bad_request" and isinstance(answer["reason"], str)
    assert call(hub, "GET", f"/conversations/{conversation_id}")[1] == before
    assert events.new() == []


@pytest.mark.parametrize("body", [
    {"tier": ""}, {"tier": "v i p"}, {"tier": "x" * 33}, {"tier": None}, {"tier": 7}, {"tags": "vip"},
    {"tags": ["ok", ""]}, {"tags": [f"t{n}" for n in range(21)]}, {"tags": [{"a": 1}]}, {"name": ""},
    {"name": "x" * 201}, {"name": "bell\u0007"}, {"name": 12}, {"language": "klingon-language-tag-much-too-long"},
    {"language": "1t"}, {"language": 5}, {}, {"email": "a@b.c"}, [], None,
])
def test_a_bad_patch_is_400_and_changes_nothing(hub: Hub, events: Events, body: Any) -> None:
    say(hub, "hello", sender="paolo")
    before = customer(hub, "paolo")
    events.new()
    status, answer = call(hub, "PATCH", f"/customers/{before['id']}", body)
    assert status == 400 and set(answer) == {"error", "reason"} and answer["error"] == "bad_request"
    assert customer(hub, "paolo") == before
    assert events.new() == []


def test_patch_clears_and_unknown_customers_are_404(hub: Hub, events: Events) -> None:
    say(hub, "hello", sender="sara")
    sara = customer(hub, "sara")
    status, answer = call(hub, "PATCH", f"/customers/{sara['id']}", {"tags": ["a"], "language": "pt_BR"})
    assert status == 200 and (answer["tags"], answer["language"]) == (["a"], "pt-br")
    status, answer = call(hub, "PATCH", f"/customers/{sara['id']}", {"tags": [], "language": None})
    assert status == 200 and (answer["tags"], answer["language"]) == ([], None)
    changes = [e for e in events.new() if e["type"] == "customer_updated"]
    assert [e["detail"]["changed"] for e in changes] == [["tags", "language"], ["tags", "language"]]
    assert len({e["event_id"] for e in changes}) == 2
    for unknown in ("cus_0000000000000000", "nobody", "x" * 3000):
        status, body = call(hub, "PATCH", f"/customers/{unknown}", {"tier": "vip"})
        assert status == 404 and body["error"] == "not_found"
