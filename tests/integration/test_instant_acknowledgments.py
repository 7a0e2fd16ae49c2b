"""Acknowledgments carried in the webhook response (Twilio TwiML), through the app on moto."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.providers.twilio import sign_twilio_request
from tests.conftest import TEST_SECRETS, Hub

BASE = "https://hub.example.com"  # PUBLIC_BASE_URL in tests/conftest.py
REFERENCE = re.compile(r"OH-[0-9A-HJKMNP-TV-Z]{5}")


def twilio_sms(hub: Hub, phone: str, text: str, **extra: str) -> Any:
    sid = "SM" + uuid.uuid4().hex
    params = [("MessageSid", sid), ("SmsSid", sid), ("AccountSid", "AC" + "0" * 32), ("From", phone),
              ("To", "+15005550006"), ("Body", text), ("NumMedia", "0"), *extra.items()]
    signature = sign_twilio_request(TEST_SECRETS["TWILIO_AUTH_TOKEN"], BASE + "/webhooks/twilio/messaging", params)
    return hub.client.http.post(
        "/webhooks/twilio/messaging", body=urlencode(params).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
    )


def api_get(hub: Hub, path: str) -> Any:
    return json.loads(hub.client.http.get(path, headers={"x-api-key": "support-key"}).body)


def test_the_acknowledgment_is_in_the_twiml_and_names_the_conversation_opened(hub: Hub) -> None:
    response = twilio_sms(hub, "+393401112233", "Buongiorno, il mio pacco?")
    body = response.body.decode()
    [reference] = REFERENCE.findall(body)
    assert "grazie" in body  # Italian for a +39 number
    hub.pump.drain()
    customer = api_get(hub, "/customers/lookup?channel=sms&address=%2B393401112233")
    conversation = api_get(hub, f"/conversations/{customer['conversation_ids'][0]}")
    assert conversation["reference"] == reference
    [ack] = [m for m in conversation["messages"] if m["direction"] == "outbound"]
    assert ack["status"] == "sent" and reference in ack["text"]
    assert hub.receive_all("outbound") == []  # nothing sent twice through the queue


@pytest.mark.parametrize(("text", "opt_out_type"), [("STOP", None), ("ALTO", "STOP"), ("Stop please", "STOP")])
def test_an_opt_out_gets_no_acknowledgment_and_withdraws_consent(hub: Hub, text: str, opt_out_type: str | None) -> None:
    extra = {"OptOutType": opt_out_type} if opt_out_type else {}
    response = twilio_sms(hub, "+393401112244", text, **extra)
    assert "<Message>" not in response.body.decode()  # Twilio's Advanced Opt-Out answers it
    hub.pump.drain()
    customer = api_get(hub, "/customers/lookup?channel=sms&address=%2B393401112244")
    assert customer["consent"] == {"sms": "withdrawn"}
    conversation = api_get(hub, f"/conversations/{customer['conversation_ids'][0]}")
    assert [m["direction"] for m in conversation["messages"]] == ["inbound"]


def test_a_reference_announced_for_a_conversation_never_opened_still_finds_the_case(hub: Hub) -> None:
    # Two messages before the worker runs: both webhooks announce a new conversation.
    first = REFERENCE.findall(twilio_sms(hub, "+393401112255", "one").body.decode())
    second = REFERENCE.findall(twilio_sms(hub, "+393401112255", "two").body.decode())
    assert first and second and first != second
    hub.pump.drain()
    customer = api_get(hub, "/customers/lookup?channel=sms&address=%2B393401112255")
    [conversation_id] = customer["conversation_ids"]
    for reference in (first[0], second[0]):
        [found] = api_get(hub, f"/conversations?reference={reference}")["conversations"]
        assert found["id"] == conversation_id
    assert api_get(hub, "/conversations?reference=OH-00000")["conversations"] == []
