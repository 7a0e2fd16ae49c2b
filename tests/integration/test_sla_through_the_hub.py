"""SLA timers through the hub on moto: the routed envelope and GET /conversations/{id} show the due
times, the scheduled sweeper (given its event's time, as EventBridge gives it) escalates a breach, an
agent's reply through the REST API cancels the pending levels, resolve stops the clocks."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from chalicelib.core.timestamps import format_timestamp, parse_timestamp
from tests.conftest import Hub, load_schema
from tests.helpers import api_event, post_api

ROUTING = {
    "version": 1,
    "routes": {"default": {}, "vip": {}},
    "rules": [],
    "default": {"route": "default", "priority": "normal"},
    "sla": {"calendar": "always", "policies": {
        "normal": {"first_response_minutes": 1, "next_response_minutes": 1, "resolution_minutes": 600}}},
}
SUPPORT = {"x-api-key": "support-key", "Content-Type": "application/json"}


@pytest.fixture
def routing_file(aws_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "routing.json"
    path.write_text(json.dumps(ROUTING))
    monkeypatch.setenv("OMNIHUB_ROUTING_CONFIG", str(path))
    return path


def sweep_at(hub: Hub, moment: str) -> Any:
    event = {"version": "0", "id": "test", "detail-type": "Scheduled Event", "source": "aws.events",
             "account": "123456789012", "time": moment, "region": "us-east-1",
             "resources": ["arn:aws:events:us-east-1:123456789012:rule/sweep_sla"], "detail": {}}
    return hub.app_module.sweep_sla(event, None)


def later(timestamp: str, seconds: int) -> str:
    return format_timestamp(parse_timestamp(timestamp) + timedelta(seconds=seconds))


def open_conversation(hub: Hub, sender: str) -> dict[str, Any]:
    assert post_api(hub.client, api_event(sender=sender, text="hello")).status_code == 200
    hub.pump.drain()
    [routed] = hub.receive_all("route-default")
    jsonschema.validate(routed, load_schema("omnihub.routed.v1"))
    return dict(routed["conversation"])


def detail(hub: Hub, conversation_id: str) -> dict[str, Any]:
    return dict(json.loads(hub.client.http.get(f"/conversations/{conversation_id}", headers=SUPPORT).body))


def test_an_unanswered_message_escalates_at_the_first_sweep_after_its_deadline(routing_file: Path, hub: Hub) -> None:
    conversation = open_conversation(hub, "nora")
    due = conversation["sla"]["first_response_due_at"]
    assert due == later(conversation["created_at"], 60)
    assert detail(hub, conversation["id"])["sla"]["first_response_due_at"] == due
    assert sweep_at(hub, later(due, -1)) == {"swept": 0, "levels": 0}  # off the index until it falls due
    assert hub.receive_all("escalation") == []
    assert sweep_at(hub, due) == {"swept": 1, "levels": 1}
    [escalation] = hub.receive_all("escalation")
    jsonschema.validate(escalation, load_schema("omnihub.escalation.v1"))
    assert (escalation["reason"], escalation["level"], escalation["action"], escalation["deadline"]) == (
        "sla:first_response", 1, "notify", due)
    assert sweep_at(hub, later(due, 30)) == {"swept": 0, "levels": 0}  # the default ladder's next level: +60 min
    assert hub.receive_all("escalation") == []


def test_an_agent_reply_through_the_api_cancels_and_resolve_stops(routing_file: Path, hub: Hub) -> None:
    conversation = open_conversation(hub, "otto")
    reply = hub.client.http.post(f"/conversations/{conversation['id']}/messages", body=json.dumps({"text": "hi"}),
                                 headers=SUPPORT)
    assert reply.status_code == 202
    assert detail(hub, conversation["id"])["sla"]["first_response_due_at"] is None
    sweep_at(hub, later(conversation["created_at"], 3600))
    assert hub.receive_all("escalation") == []
    resolved = hub.client.http.post(f"/conversations/{conversation['id']}/resolve", headers=SUPPORT)
    assert json.loads(resolved.body)["sla"] == {"first_response_due_at": None, "next_response_due_at": None,
                                                "resolution_due_at": None, "paused": False}
    assert sweep_at(hub, later(conversation["created_at"], 10 * 3600)) == {"swept": 0, "levels": 0}
