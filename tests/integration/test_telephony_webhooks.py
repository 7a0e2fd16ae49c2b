"""Twilio Voice and Vonage Voice through the app: the answer personalised from storage, forged calls
refused with nothing stored, and a caller answered even when the store fails."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from argparse import Namespace
from typing import Any

import pytest

from devstack.cli import SIMULATORS
from devstack.simulators.voice import simulate_twilio_voice_call, simulate_vonage_voice_call
from tests.conftest import TEST_SECRETS, Hub

CALLER = "+393331234567"


@pytest.fixture(autouse=True)
def inbound_only(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIHUB_URL", "https://hub.example.com")  # the URL ./hub's simulators sign
    hub.pump._handlers = {k: v for k, v in hub.pump._handlers.items() if k != "handle_outbound"}


def send(hub: Hub, request: Any) -> Any:
    if request.method == "GET":
        return hub.client.http.get(request.path, headers=request.headers)
    return hub.client.http.post(request.path, body=request.body, headers=request.headers)


def inbox(hub: Hub) -> list[dict[str, Any]]:
    return [item for item in hub.table_items() if item["sk"] == "INBOX"]


def known_by_sms(hub: Hub) -> str:
    """Anna wrote by SMS from the number that now calls: the worker made her a customer with a case."""
    builder, _ = SIMULATORS["twilio-sms"]
    request = builder(Namespace(sender=CALLER, text="my invoice is wrong", name="Anna", language="it",
                                event_id=None, option=None), dict(TEST_SECRETS))
    assert send(hub, request).status_code == 200
    hub.pump.drain()
    [conversation] = [item for item in hub.table_items() if item["sk"] == "META"]
    return str(conversation["reference"])


def test_a_known_caller_hears_their_language_and_case_reference_and_the_call_is_stored(hub: Hub) -> None:
    reference = known_by_sms(hub)
    call = simulate_twilio_voice_call(dict(TEST_SECRETS), CALLER, public_base_url="https://hub.example.com")[0]
    response = send(hub, call)
    headers = {k.lower(): v for k, v in response.headers.items()}
    assert response.status_code == 200 and headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.body)  # noqa: S314 - the hub's own answer
    says = " ".join(s.text or "" for s in root.iter("Say"))
    assert ", ".join(ch for ch in reference if ch.isalnum()) in says
    assert {s.get("language") for s in root.iter("Say")} == {"it-IT"}
    assert [item["endpoint"] for item in inbox(hub) if item["endpoint"].startswith("twilio_voice")] == ["twilio_voice"]


def test_the_vonage_answer_url_get_is_verified_and_answered_with_an_ncco(hub: Hub) -> None:
    answer = simulate_vonage_voice_call(dict(TEST_SECRETS), CALLER, public_base_url="https://hub.example.com")[0]
    assert answer.method == "GET"
    response = send(hub, answer)
    assert response.status_code == 200, response.body
    ncco = json.loads(response.body)
    assert ncco[0]["action"] == "talk" and ncco[-1]["action"] in ("record", "connect")
    assert [item["endpoint"] for item in inbox(hub)] == ["vonage_voice_answer"]


@pytest.mark.parametrize("forgery", ["unsigned", "wrong secret", "stale", "body changed"])
def test_forged_call_webhooks_are_refused_and_store_nothing(hub: Hub, forgery: str) -> None:
    secrets = dict(TEST_SECRETS)
    if forgery == "wrong secret":
        secrets = {**secrets, "TWILIO_AUTH_TOKEN": "not-the-token",
                   "VONAGE_SIGNATURE_SECRET": "not-the-signature-secret-of-32-bytes"}
    twilio = simulate_twilio_voice_call(secrets, CALLER, public_base_url="https://hub.example.com")
    vonage = simulate_vonage_voice_call(secrets, CALLER, public_base_url="https://hub.example.com",
                                        issued_at=1_700_000_000 if forgery == "stale" else None)
    for request in [*twilio, *vonage]:
        headers = dict(request.headers)
        body = request.body
        if forgery == "unsigned":
            headers.pop("X-Twilio-Signature", None)
            headers.pop("Authorization", None)
        if forgery == "body changed":
            body = body.replace(b"393331234567", b"393330000000") if body else body
        if forgery == "stale" and "X-Twilio-Signature" in headers:
            continue  # Twilio signs no time
        if forgery == "body changed" and body == request.body:
            continue  # nothing to change (a GET's query is not covered by Vonage's token, its age is)
        response = send(hub, type(request)(request.method, request.path, headers, body))
        assert response.status_code in (401, 403), (request.path, response.status_code, response.body)
    assert hub.table_items() == []


def test_a_call_is_answered_even_when_its_event_cannot_be_stored(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.adapters import runtime
    from chalicelib.core.errors import RetryableError

    def unavailable(*args: Any, **kwargs: Any) -> bool:
        raise RetryableError("throttled")

    monkeypatch.setattr(runtime.repositories().inbox, "put", unavailable)
    call = simulate_twilio_voice_call(dict(TEST_SECRETS), CALLER, public_base_url="https://hub.example.com")[0]
    response = send(hub, call)
    assert response.status_code == 200
    root = ET.fromstring(response.body)  # noqa: S314
    assert [e.tag for e in root] == ["Say", "Say", "Record", "Hangup"]
    assert inbox(hub) == []


def conversation_of(hub: Hub) -> dict[str, Any]:
    [meta] = [item for item in hub.table_items() if item["sk"] == "META"]
    response = hub.client.http.get(f"/conversations/{meta['id']}", headers={"x-api-key": "support-key"})
    assert response.status_code == 200, response.body
    return dict(json.loads(response.body))


@pytest.mark.parametrize("order", ["as sent", "reversed and repeated"])
def test_a_whole_twilio_call_becomes_one_voicemail_message_in_the_callers_conversation(hub: Hub, order: str) -> None:
    requests = simulate_twilio_voice_call(dict(TEST_SECRETS), CALLER, "Please call me about the invoice",
                                          public_base_url="https://hub.example.com")
    if order != "as sent":
        requests = [*reversed(requests), *requests]
    for request in requests:
        assert send(hub, request).status_code == 200
        hub.pump.drain()
    conversation = conversation_of(hub)
    [message] = conversation["messages"]
    assert message["channel"] == "voice" and message["direction"] == "inbound"
    assert message["text"] == "Please call me about the invoice"
    assert message["call"]["outcome"] == "voicemail" and message["call"]["duration_seconds"] == "42"
    assert message["attachments"][0]["url"].startswith("https://api.twilio.com/")


def test_a_vonage_call_nobody_answered_is_a_missed_call_tagged_callback(hub: Hub) -> None:
    requests = simulate_vonage_voice_call(dict(TEST_SECRETS), CALLER, public_base_url="https://hub.example.com")
    without_voicemail = [r for r in requests if b"recording_uuid" not in r.body]
    for request in without_voicemail:
        assert send(hub, request).status_code == 200
        hub.pump.drain()
    conversation = conversation_of(hub)
    [message] = conversation["messages"]
    assert message["text"] == "missed call, no voicemail" and message["call"]["outcome"] == "missed"
    assert "callback" in conversation["tags"]


def missed_call(hub: Hub) -> dict[str, Any]:
    requests = simulate_twilio_voice_call(dict(TEST_SECRETS), CALLER, public_base_url="https://hub.example.com")
    for request in (requests[0], requests[1], requests[5]):  # ringing, nobody answered, completed
        assert send(hub, request).status_code == 200
        hub.pump.drain()
    return conversation_of(hub)


def reply(hub: Hub, conversation_id: str, body: dict[str, Any]) -> Any:
    return hub.client.http.post(f"/conversations/{conversation_id}/messages", body=json.dumps(body),
                                headers={"x-api-key": "support-key", "Content-Type": "application/json"})


def test_a_reply_to_a_call_goes_by_sms_to_the_same_number_from_the_number_called(hub: Hub) -> None:
    conversation = missed_call(hub)
    response = reply(hub, conversation["id"], {"text": "Sorry we missed you, how can we help?"})
    assert response.status_code == 202, response.body
    assert json.loads(response.body)["channel"] == "sms"
    [job] = [json.loads(item["job"]) for item in hub.table_items() if item.get("job")]
    assert job["channel"] == "sms" and job["to"] == CALLER and job["provider"] == "twilio"
    assert job["sender_hints"] == {"from": "+15017122661"}  # the number the customer called


def test_a_reply_to_a_call_is_refused_with_the_reason_without_sms_consent(hub: Hub) -> None:
    from chalicelib.adapters import runtime
    from chalicelib.core.model import Channel

    conversation = missed_call(hub)
    runtime.repositories().customers.set_consent(conversation["customer_id"], Channel.SMS, "withdrawn",
                                                 "2026-01-01T00:00:00.000Z")
    refused = reply(hub, conversation["id"], {"text": "hello"})
    assert refused.status_code == 409 and "consent" in json.loads(refused.body)["reason"]
    assert not [item for item in hub.table_items() if item.get("job")]


def test_a_call_whose_routing_failed_once_is_routed_on_the_retry(hub: Hub) -> None:
    """The worker writes the call's message, then the route queue refuses the envelope: the retry folds
    the same callbacks and must still route the call (found by the ledger test)."""
    from botocore.exceptions import ClientError

    from chalicelib.adapters import runtime

    refused: list[str] = []

    def refuse_route_once(params: dict[str, Any], **_: Any) -> None:
        if "route-default" in str(params) and not refused:  # the serialized request names the queue
            refused.append("route-default")
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessageBatch")

    runtime.aws_client("sqs").meta.events.register("before-call.sqs.SendMessageBatch", refuse_route_once)
    for request in simulate_twilio_voice_call(dict(TEST_SECRETS), CALLER, "Please call me back",
                                              public_base_url="https://hub.example.com"):
        assert send(hub, request).status_code == 200
    hub.pump._retry_visibility = 0
    hub.pump.drain(timeout=60)
    assert refused, "the route queue was never refused: the test did not test anything"
    routed = hub.receive_all("route-default")
    assert [e["message"]["text"] for e in routed] == ["Please call me back"]
