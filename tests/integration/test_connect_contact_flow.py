"""Amazon Connect through the app's handlers: the contact flow's function answers a flat map of strings
(Connect's STRING_MAP rule) built from the caller's customer, and records the call; the contact event
completes the call's one message."""

from __future__ import annotations

import copy
import json
from argparse import Namespace
from pathlib import Path
from typing import Any

import pytest

from chalicelib.providers.connect import is_flat_string_map
from devstack.cli import SIMULATORS
from tests.conftest import TEST_SECRETS, Hub

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "voice"
CALLER = "+393331234567"


@pytest.fixture(autouse=True)
def inbound_only(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIHUB_URL", "https://hub.example.com")
    hub.pump._handlers = {k: v for k, v in hub.pump._handlers.items() if k != "handle_outbound"}


def documented_invocation(address: str) -> dict[str, Any]:
    """The invocation event of the Connect documentation, for this caller."""
    event = json.loads((FIXTURES / "connect_invocation.json").read_text())
    event["Details"]["ContactData"]["CustomerEndpoint"]["Address"] = address
    event["Details"]["ContactData"]["InitiationMethod"] = "INBOUND"
    return dict(event)


def known_by_sms(hub: Hub) -> dict[str, Any]:
    builder, _ = SIMULATORS["twilio-sms"]
    request = builder(Namespace(sender=CALLER, text="my parcel never arrived", name=None, language=None,
                                event_id=None, option=None), dict(TEST_SECRETS))
    assert hub.client.http.post(request.path, body=request.body, headers=request.headers).status_code == 200
    hub.pump.drain()
    [meta] = [item for item in hub.table_items() if item["sk"] == "META"]
    return dict(meta)


def conversation(hub: Hub, conversation_id: str) -> dict[str, Any]:
    response = hub.client.http.get(f"/conversations/{conversation_id}", headers={"x-api-key": "support-key"})
    assert response.status_code == 200
    return dict(json.loads(response.body))


def test_a_known_caller_gets_their_attributes_and_the_call_joins_their_conversation(hub: Hub) -> None:
    meta = known_by_sms(hub)
    event = documented_invocation(CALLER)
    answer = hub.app_module.connect_contact_flow(event, None)
    assert is_flat_string_map(answer), answer
    assert answer["known"] == "true" and answer["reference"] == meta["reference"]
    assert answer["language"] == "it" and answer["tier"] == "standard"
    assert answer["crisis_active"] == "false" and answer["crisis_status"] == ""
    assert answer["suggested_queue"]  # the routing rules' route for this caller (default at least)
    hub.pump.drain()
    [message] = [m for m in conversation(hub, meta["id"])["messages"] if m["channel"] == "voice"]
    assert message["call"]["outcome"] == "in_progress"

    disconnected = json.loads((FIXTURES / "connect_contact_disconnected.json").read_text())
    contact_id = event["Details"]["ContactData"]["ContactId"]
    disconnected["detail"]["contactId"] = disconnected["detail"]["initialContactId"] = contact_id
    for _ in range(2):  # EventBridge delivers at least once
        hub.app_module.connect_contact_events(copy.deepcopy(disconnected), None)
    hub.pump.drain()
    [message] = [m for m in conversation(hub, meta["id"])["messages"] if m["channel"] == "voice"]
    assert message["call"]["outcome"] == "answered" and message["call"]["ended"] == "true"


def test_the_documented_event_of_an_unknown_caller_is_answered_with_every_key_a_string(hub: Hub) -> None:
    event = json.loads((FIXTURES / "connect_invocation.json").read_text())  # exactly as documented
    answer = hub.app_module.connect_contact_flow(event, None)
    assert is_flat_string_map(answer) and answer["known"] == "false" and answer["reference"] == ""
    assert set(answer) == {"known", "customer_name", "language", "tier", "reference", "crisis_active",
                           "crisis_status", "suggested_queue"}


@pytest.mark.parametrize("event", [None, [], "x", {"Details": {}},
                                   {"Details": {"ContactData": {"ContactId": {"id": 7}}}},
                                   {"Details": {"ContactData": {"ContactId": "c" * 100_000}}}])
def test_anything_else_still_gets_a_flat_answer_and_stores_nothing(hub: Hub, event: Any) -> None:
    answer = hub.app_module.connect_contact_flow(event, None)
    assert is_flat_string_map(answer) and answer["known"] == "false"
    assert hub.table_items() == []


def test_the_caller_is_answered_when_the_store_is_unavailable(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.adapters import runtime
    from chalicelib.core.errors import StoreUnavailable

    def unavailable(*args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("the store is unavailable")

    repos = runtime.repositories()
    monkeypatch.setattr(repos.inbox, "put", unavailable)
    monkeypatch.setattr(repos.customers, "identity_owners", unavailable)
    answer = hub.app_module.connect_contact_flow(documented_invocation(CALLER), None)
    assert is_flat_string_map(answer) and answer["known"] == "false"


def test_while_an_incident_runs_the_flow_hears_its_latest_status_line_in_the_callers_language(hub: Hub) -> None:
    from chalicelib.adapters import runtime
    from chalicelib.core.incident import Audience, Incident, IncidentStatus, IncidentUpdate

    known_by_sms(hub)
    store = runtime.crisis_store()
    at = "2026-12-07T08:00:00.000Z"
    assert store.create_incident(Incident(id="inc_1", title="Outage", status=IncidentStatus.IDENTIFIED,
                                          keywords=("rete",), audience=Audience(), created_at=at, updated_at=at))
    assert store.add_update(IncidentUpdate(incident_id="inc_1", id="upd_1", status=IncidentStatus.IDENTIFIED,
                                           message={"it": "Rete giù a Milano, stiamo intervenendo.",
                                                    "en": "Network down in Milan, we are on it."},
                                           created_at=at))
    answer = hub.app_module.connect_contact_flow(documented_invocation(CALLER), None)
    assert is_flat_string_map(answer), answer
    assert answer["crisis_active"] == "true"
    assert answer["crisis_status"] == "Rete giù a Milano, stiamo intervenendo."
    store.cancel_incident("inc_1", at)
    from chalicelib.crisis.surge import clear_surge_cache

    clear_surge_cache()
    answer = hub.app_module.connect_contact_flow(documented_invocation(CALLER), None)
    assert answer["crisis_active"] == "false" and answer["crisis_status"] == ""
