"""Routing through the hub on moto: a routing file named by OMNIHUB_ROUTING_CONFIG makes its route
queues, and a message matching a rule lands on its route (and, escalating, on the escalation queue)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from tests.conftest import Hub, load_schema
from tests.helpers import api_event, post_api

ROUTING = {
    "version": 1,
    "routes": {"default": {}, "legal-desk": {"description": "lawyers and complaints"}, "billing": {}},
    "rules": [
        {"name": "legal", "if": {"channel": ["webchat"], "text_matches": ["avvocat\\w*", "lawyer"]},
         "then": {"route": "legal-desk", "priority": "urgent", "tags": ["legal"], "escalate": True}},
        {"name": "billing", "if": {"text_matches": ["invoice"]}, "then": {"route": "billing"}},
    ],
    "default": {"route": "default", "priority": "normal"},
}
SUPPORT = {"x-api-key": "support-key"}


@pytest.fixture
def routing_file(aws_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "routing.json"
    path.write_text(json.dumps(ROUTING))
    monkeypatch.setenv("OMNIHUB_ROUTING_CONFIG", str(path))
    return path


def test_the_configured_routes_are_provisioned_with_their_dlqs(routing_file: Path, hub: Hub) -> None:
    for route in ("default", "legal-desk", "billing"):
        assert f"omnihub-local-route-{route}.fifo" in hub.provisioned.queue_urls
        assert f"omnihub-local-route-{route}-dlq.fifo" in hub.provisioned.queue_urls
    assert "omnihub-local-route-logistics.fifo" not in hub.provisioned.queue_urls  # the shipped file's, not this one


def test_a_matching_message_lands_on_its_route_and_escalates_once(routing_file: Path, hub: Hub) -> None:
    post_api(hub.client, api_event(sender="lena", text="Scriverò al mio avvocato"))
    post_api(hub.client, api_event(sender="lena", text="Also the invoice is wrong"))  # normal: no re-route
    hub.pump.drain()
    first, second = hub.receive_all("route-legal-desk")
    for envelope in (first, second):
        jsonschema.validate(envelope, load_schema("omnihub.routed.v1"))
    assert (first["route"], first["conversation"]["priority"], first["conversation"]["tags"]) == (
        "legal-desk", "urgent", ["legal"])
    assert first["conversation"]["routing"] == {
        "rule": "legal", "reason": 'channel=webchat and text matched "avvocat\\w*"'}
    assert second["message"]["text"] == "Also the invoice is wrong" and second["conversation"]["opened"] is False
    assert hub.receive_all("route-default") == [] and hub.receive_all("route-billing") == []
    [escalation] = hub.receive_all("escalation")
    jsonschema.validate(escalation, load_schema("omnihub.escalation.v1"))
    assert (escalation["reason"], escalation["level"], escalation["conversation"]["id"]) == (
        "legal", 1, first["conversation"]["id"])
    detail = json.loads(hub.client.http.get(f"/conversations/{first['conversation']['id']}", headers=SUPPORT).body)
    assert (detail["route"], detail["priority"], detail["routing"]["rule"]) == ("legal-desk", "urgent", "legal")


def test_an_invalid_routing_file_keeps_make_run_from_starting(tmp_path: Path) -> None:
    from devstack.run import configuration_problems

    broken = {**ROUTING, "rules": [{**ROUTING["rules"][0], "then": {"route": "nowhere"}}]}  # type: ignore[dict-item]
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    [problem] = configuration_problems({"OMNIHUB_API_KEYS": "ops:k:admin", "OMNIHUB_ROUTING_CONFIG": str(path)})
    assert str(path) in problem and 'rules[0] "legal": then.route' in problem and "nowhere" in problem
