"""End to end through `make run`: simulate → customer, conversation, message → envelope on the route queue."""

from __future__ import annotations

import uuid
from argparse import Namespace

import jsonschema
import pytest

from devstack.cli import SIMULATORS
from devstack.simulators.base import send
from tests.conftest import load_schema
from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.e2e

# simulator → (the customer's address as the simulator takes it, the identity the hub must record)
CASES = {
    "api": ("e2e-webchat-user", ("webchat", "e2e-webchat-user")),
    "twilio-sms": ("+393331110001", ("sms", "+393331110001")),
    "twilio-whatsapp": ("+393331110002", ("whatsapp", "+393331110002")),
    "whatsapp": ("393331110003", ("whatsapp", "+393331110003")),
    "telegram": ("9007199254740993", ("telegram", "9007199254740993")),
    "line": ("U4af4980629a1b2c3d4e5f60718293a4b", ("line", "U4af4980629a1b2c3d4e5f60718293a4b")),
    "viber": ("01234567890A=", ("viber", "01234567890A=")),
    "vonage-sms": ("447700900001", ("sms", "+447700900001")),
    "vonage-whatsapp": ("447700900002", ("whatsapp", "+447700900002")),
}


def simulate(stack: LocalStack, provider: str, sender: str, text: str) -> int:
    builder, _ = SIMULATORS[provider]
    import os

    os.environ["OMNIHUB_URL"] = stack.api_url
    args = Namespace(sender=sender, text=text, name="Giulia Rossi", language="it", event_id=None, option=None)
    response = send(stack.api_url, builder(args, stack.secrets()))
    return response.status


def test_health_is_served(local_stack: LocalStack) -> None:
    status, body = local_stack.get("/health")
    assert status == 200 and body["status"] == "ok"


def test_every_channel_reaches_a_conversation_and_the_route_queue(local_stack: LocalStack) -> None:
    schema = load_schema("omnihub.routed.v1")
    texts = {}
    for provider, (sender, _) in CASES.items():
        texts[provider] = f"{provider} says hello {uuid.uuid4().hex[:6]}"
        assert 200 <= simulate(local_stack, provider, sender, texts[provider]) < 300, provider
    for provider, (_, (channel, address)) in CASES.items():
        conversation = local_stack.wait_for_conversation(channel, address)
        assert texts[provider] in [m["text"] for m in conversation["messages"]], provider
        assert conversation["channel"] == channel
    envelopes = local_stack.route_envelopes()
    by_text = {e["message"]["text"]: e for e in envelopes}
    for provider, text in texts.items():
        assert text in by_text, f"no routed envelope for {provider}"
        jsonschema.validate(by_text[text], schema)


def test_a_phone_seen_on_sms_and_whatsapp_is_one_customer(local_stack: LocalStack) -> None:
    phone = "+393339990001"
    simulate(local_stack, "twilio-sms", phone, "by sms")
    local_stack.wait_for_conversation("sms", phone)
    simulate(local_stack, "twilio-whatsapp", phone, "by whatsapp")
    local_stack.wait_for_conversation("whatsapp", phone)
    _, by_sms = local_stack.get(f"/customers/lookup?channel=sms&address=%2B{phone[1:]}")
    _, by_whatsapp = local_stack.get(f"/customers/lookup?channel=whatsapp&address=%2B{phone[1:]}")
    assert by_sms["id"] == by_whatsapp["id"]
    assert {(i["channel"], i["address"]) for i in by_sms["identities"]} >= {("sms", phone), ("whatsapp", phone)}
