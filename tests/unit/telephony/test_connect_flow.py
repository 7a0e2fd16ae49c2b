"""Amazon Connect: the invocation event of the Lambda docs, the flat string answer, contact events.

``connect_invocation.json`` is the example request event of the AWS Lambda developer guide ("Using
Lambda with Amazon Connect"), verbatim. ``connect_contact_disconnected.json`` follows the contact
events data model (EventBridge envelope, ``detail`` with eventType, contactId, initialContactId,
agentInfo); where its recording is reported (``detail.recording.location``) is the hub's reading and is
also accepted as ``detail.recordings[]``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.conversations.calls import CallOutcome, fold_call_events
from chalicelib.core import calls
from chalicelib.core.model import EventKind, Priority
from chalicelib.providers import connect
from chalicelib.providers.base import PayloadError
from chalicelib.routing.rules import RoutingDecision
from devstack.simulators.voice import simulate_connect_invocation

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "voice"


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def test_the_documented_invocation_event_yields_the_caller_and_the_contact() -> None:
    invocation = connect.parse_invocation(fixture("connect_invocation.json"))
    assert invocation.caller is not None and invocation.caller.key == "voice#+1234567890"
    assert invocation.contact_id == invocation.call_id == "4a573372-1f28-4e26-b97b-XXXXXXXXXXX"
    assert invocation.channel == "VOICE" and invocation.parameters == {"sentAttributeKey": "sentAttributeValue"}
    event = connect.invocation_event(invocation, "2026-01-01T10:03:00.000Z")
    assert event.kind is EventKind.CALL and event.metadata[calls.CALL_ID] == invocation.call_id
    assert event.sender is not None and event.sender.identity == invocation.caller


def test_the_simulated_invocation_has_the_documented_shape() -> None:
    documented, simulated = fixture("connect_invocation.json"), simulate_connect_invocation(None, "+393331234567")
    assert simulated.keys() == documented.keys()
    assert simulated["Details"]["ContactData"].keys() == documented["Details"]["ContactData"].keys()
    assert connect.parse_invocation(simulated).caller is not None


@pytest.mark.parametrize("address", ["anonymous", "", "+0000"])
def test_a_withheld_number_still_gets_an_answer(address: str) -> None:
    event = simulate_connect_invocation(None, address)
    invocation = connect.parse_invocation(event)
    assert invocation.caller is None
    assert connect.invocation_event(invocation).metadata[calls.CALLER] == "anonymous"


@pytest.mark.parametrize("event", [None, [], {"Details": {}}, {"Details": {"ContactData": {"ContactId": 7.5}}}])
def test_what_is_not_an_invocation_is_a_payload_error(event: Any) -> None:
    with pytest.raises(PayloadError):
        connect.parse_invocation(event)


def decision(route: str) -> RoutingDecision:
    return RoutingDecision(route=route, priority=Priority.HIGH, tags=(), escalate=False, rule="vip", reason="tier=vip")


def test_the_answer_is_a_flat_map_of_strings_the_flow_can_branch_on() -> None:
    lookup = connect.CallerLookup(known=True, customer_name="Anna Bianchi", language="it", tier="vip",
                                  reference="OH-7K3M", crisis_active=True,
                                  crisis_status="Outage in Milan: fix by 18:00")
    answer = connect.flow_attributes(lookup, decision("billing"))
    assert answer == {"known": "true", "customer_name": "Anna Bianchi", "language": "it", "tier": "vip",
                      "reference": "OH-7K3M", "crisis_active": "true",
                      "crisis_status": "Outage in Milan: fix by 18:00", "suggested_queue": "billing"}
    assert connect.is_flat_string_map(answer)
    unknown = connect.flow_attributes(None)
    assert connect.is_flat_string_map(unknown) and unknown["known"] == "false" and unknown["crisis_active"] == "false"
    assert json.loads(json.dumps(unknown)) == unknown  # what Lambda serializes is what the flow reads


@settings(max_examples=80, deadline=None)
@given(name=st.text(max_size=20_000), status=st.text(max_size=20_000), language=st.text(max_size=300),
       tier=st.text(max_size=300), route=st.text(max_size=300), reference=st.text(max_size=300))
def test_any_lookup_gives_an_answer_within_connects_limits(name: str, status: str, language: str, tier: str,
                                                           route: str, reference: str) -> None:
    lookup = connect.CallerLookup(known=True, customer_name=name, language=language, tier=tier,
                                  reference=reference, crisis_active=True, crisis_status=status)
    answer = connect.flow_attributes(lookup, decision(route))
    assert connect.is_flat_string_map(answer)
    assert all("\n" not in value and "\x00" not in value for value in answer.values())


def test_contact_events_complete_the_call_and_others_are_ignored() -> None:
    disconnected = fixture("connect_contact_disconnected.json")
    (ended,) = connect.parse_contact_event(disconnected)
    assert ended.metadata[calls.CALL_STATE] == "completed" and ended.metadata[calls.AGENT_ANSWERED] == "true"
    assert ended.metadata["recording_location"].endswith(".wav")
    connected = json.loads(json.dumps(disconnected))
    connected["detail"]["eventType"] = "CONNECTED_TO_AGENT"
    (agent,) = connect.parse_contact_event(connected)
    invocation = {**simulate_connect_invocation(None, "+393331234567",
                                                contact_id=disconnected["detail"]["contactId"])}
    first = connect.invocation_event(connect.parse_invocation(invocation), "2026-01-01T10:03:00.000Z")
    record = fold_call_events([ended, first, agent, ended])
    assert record.outcome is CallOutcome.ANSWERED and record.customer is not None
    queued = json.loads(json.dumps(disconnected))
    queued["detail"]["eventType"] = "QUEUED"
    assert connect.parse_contact_event(queued) == []
    with pytest.raises(PayloadError):
        connect.parse_contact_event({**disconnected, "source": "aws.other"})


def test_a_call_nobody_took_is_missed_and_asks_for_a_callback() -> None:
    abandoned = fixture("connect_contact_disconnected.json")
    del abandoned["detail"]["agentInfo"], abandoned["detail"]["recording"]
    record = fold_call_events(connect.parse_contact_event(abandoned))
    assert record.outcome is CallOutcome.MISSED and record.tags == ("callback",)
