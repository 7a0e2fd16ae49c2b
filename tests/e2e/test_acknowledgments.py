"""Acknowledgments and agent replies end to end through the local stack and the provider sandbox."""

from __future__ import annotations

import json
import re
import time
import uuid
from argparse import Namespace
from typing import Any

import pytest

from devstack.cli import SIMULATORS
from devstack.simulators.base import SimulatedResponse, send
from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.e2e
REFERENCE = re.compile(r"OH-[0-9A-HJKMNP-TV-Z]{5}")


def simulate(stack: LocalStack, provider: str, sender: str, text: str, **kwargs: Any) -> SimulatedResponse:
    builder, _ = SIMULATORS[provider]
    args = Namespace(sender=sender, text=text, name=kwargs.get("name"), language=kwargs.get("language"),
                     event_id=None, option=None)
    import os

    os.environ["OMNIHUB_URL"] = stack.api_url
    return send(stack.api_url, builder(args, stack.secrets()))


def phone() -> str:
    return "+39333" + str(uuid.uuid4().int)[:7]


def outbound_of(conversation: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in conversation["messages"] if m["direction"] == "outbound"]


def wait_for_outbound(stack: LocalStack, channel: str, address: str, inbound: int = 1) -> dict[str, Any]:
    """The conversation once it holds an outbound message and ``inbound`` inbound ones."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        conversation = stack.wait_for_conversation(channel, address)
        inbound_count = len([m for m in conversation["messages"] if m["direction"] == "inbound"])
        if outbound_of(conversation) and inbound_count >= inbound:
            return conversation
        time.sleep(0.3)
    raise AssertionError(f"no outbound message recorded for {channel}:{address}")


def test_twilio_whatsapp_is_acknowledged_in_the_twiml_response_in_italian(local_stack: LocalStack) -> None:
    number = phone()
    response = simulate(local_stack, "twilio-whatsapp", number, "Ciao, dov'è il mio ordine?", name="Giulia")
    body = response.body.decode()
    assert response.status == 200 and "<Message>" in body
    assert "Giulia" in body and "Ciao" in body  # personal, and Italian for a +39 number
    [reference] = REFERENCE.findall(body)
    conversation = wait_for_outbound(local_stack, "whatsapp", number)
    assert conversation["reference"] == reference  # the worker opened the conversation it announced
    [ack] = outbound_of(conversation)
    assert ack["text"] in body.replace("&apos;", "'") and ack["status"] == "sent"


def test_a_second_message_soon_after_gets_no_acknowledgment(local_stack: LocalStack) -> None:
    number = phone()
    first = simulate(local_stack, "twilio-sms", number, "hello", name=None)
    assert "<Message>" in first.body.decode()
    local_stack.wait_for_conversation("sms", number)
    second = simulate(local_stack, "twilio-sms", number, "are you there?")
    assert "<Message>" not in second.body.decode()
    conversation = wait_for_outbound(local_stack, "sms", number, inbound=2)
    assert len(outbound_of(conversation)) == 1


def test_stop_gets_no_acknowledgment_and_withdraws_consent(local_stack: LocalStack) -> None:
    number = phone()
    response = simulate(local_stack, "twilio-sms", number, "STOP")
    assert "<Message>" not in response.body.decode()
    local_stack.wait_for_conversation("sms", number)
    _, customer = local_stack.get(f"/customers/lookup?channel=sms&address=%2B{number[1:]}")
    assert customer["consent"]["sms"] == "withdrawn"


def test_telegram_is_acknowledged_with_a_method_reply(local_stack: LocalStack) -> None:
    chat = str(uuid.uuid4().int)[:12]
    response = simulate(local_stack, "telegram", chat, "hi, my parcel is late", name="Bob", language="en")
    reply = response.json()
    assert isinstance(reply, dict)
    assert reply["method"] == "sendMessage" and reply["chat_id"] == chat
    assert "Bob" in reply["text"] and REFERENCE.search(reply["text"])


def test_whatsapp_cloud_is_acknowledged_through_the_provider_api(local_stack: LocalStack) -> None:
    number = phone()
    simulate(local_stack, "whatsapp", number[1:], "Buongiorno", name="Maria")
    sent = local_stack.wait_for_outbox(lambda e: e.get("provider") == "meta" and e["body"].get("to") == number[1:])
    text = sent["body"]["text"]["body"]
    assert "Maria" in text and "Ciao" in text
    conversation = wait_for_outbound(local_stack, "whatsapp", number)
    assert conversation["reference"] in text
    deadline = time.monotonic() + 10
    while not outbound_of(conversation)[0]["provider_message_id"] and time.monotonic() < deadline:
        time.sleep(0.3)
        conversation = local_stack.wait_for_conversation("whatsapp", number)
    [ack] = outbound_of(conversation)
    # Meta answers "accepted" (queued); its "sent" and "delivered" arrive as status webhooks.
    assert ack["status"] in ("queued", "sent") and ack["provider_message_id"].startswith("wamid.")


def test_an_agent_reply_reaches_the_customer_on_their_channel(local_stack: LocalStack) -> None:
    number = phone()
    simulate(local_stack, "whatsapp", number[1:], "I need help", name="Luca")
    conversation = wait_for_outbound(local_stack, "whatsapp", number)
    status, accepted = local_stack.post(f"/conversations/{conversation['id']}/messages", {"text": "On it, Luca!"})
    assert status == 202 and accepted["status"] == "queued" and accepted["channel"] == "whatsapp"
    sent = local_stack.wait_for_outbox(  # other providers' entries (Viber, Telegram...) have a text string
        lambda e: isinstance(e["body"].get("text"), dict) and e["body"]["text"].get("body") == "On it, Luca!")
    assert sent["body"]["to"] == number[1:]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        _, detail = local_stack.get(f"/conversations/{conversation['id']}")
        reply = next(m for m in detail["messages"] if m["id"] == accepted["id"])
        if reply["provider_message_id"]:
            break
        time.sleep(0.3)
    assert reply["provider_message_id"] and reply["status"] in ("queued", "sent")
    status, resolved = local_stack.post(f"/conversations/{conversation['id']}/resolve", {})
    assert status == 200 and resolved["status"] == "resolved"


# simulator → (customer address as the simulator takes it, the provider path the acknowledgment must reach,
# how that request names the customer (None: LINE answers with the event's reply token), carries a name)
THROUGH_THE_OUTBOUND_QUEUE = {
    "whatsapp": ("39333{n}", "/v21.0/", lambda body: body.get("to"), True),
    "line": ("U{h}", "/v2/bot/message/reply", None, False),  # LINE gives no display name in the event
    "viber": ("{h}=", "/pa/send_message", lambda body: body.get("receiver"), True),
    "vonage-sms": ("44770{n}", "/v1/messages", lambda body: body.get("to"), False),  # SMS carries no name
    "vonage-whatsapp": ("44771{n}", "/v1/messages", lambda body: body.get("to"), True),
}


@pytest.mark.parametrize("provider", sorted(THROUGH_THE_OUTBOUND_QUEUE))
def test_every_queued_channel_gets_its_acknowledgment_at_the_provider(local_stack: LocalStack, provider: str) -> None:
    pattern, path, recipient, named = THROUGH_THE_OUTBOUND_QUEUE[provider]
    sender = pattern.format(n=str(uuid.uuid4().int)[:7], h=uuid.uuid4().hex)
    before = max((e["seq"] for e in local_stack.outbox()), default=0)
    response = simulate(local_stack, provider, sender, "Hello, I need help", name="Ada", language="en")
    assert 200 <= response.status < 300

    def is_ours(entry: dict[str, Any]) -> bool:
        if entry["seq"] <= before or not entry["path"].startswith(path):
            return False
        return recipient is None or recipient(entry["body"]) in (sender, sender.lstrip("+"))

    sent = local_stack.wait_for_outbox(is_ours)
    text = json.dumps(sent["body"], ensure_ascii=False)
    assert REFERENCE.search(text), text
    assert ("Ada" in text) is named, text
