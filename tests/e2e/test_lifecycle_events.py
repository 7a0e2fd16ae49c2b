"""End to end through the local stack: a CRM marks a customer VIP, their message about a lawyer is
re-routed and escalated, an agent replies and resolves; every change reaches
omnihub-local-conversation-events.fifo once, valid against omnihub.event.v1."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

import jsonschema
import pytest

from tests.conftest import load_schema
from tests.e2e.conftest import LocalStack
from tests.e2e.test_local_stack import simulate

pytestmark = pytest.mark.e2e


def patch(stack: LocalStack, path: str, body: dict[str, Any]) -> tuple[int, Any]:
    request = urllib.request.Request(
        stack.api_url + path, data=json.dumps(body).encode(), method="PATCH",
        headers={"x-api-key": "dev-support-key", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def events_of(stack: LocalStack, subjects: set[str], wanted: int, timeout: float = 30) -> list[dict[str, Any]]:
    """The distinct events about ``subjects`` (conversation or customer ids), in queue order."""
    sqs = stack.sqs()
    url = sqs.get_queue_url(QueueName="omnihub-local-conversation-events.fifo")["QueueUrl"]
    found: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(found) < wanted:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
                "Messages", []):
            body = json.loads(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            subject = body["conversation"]["id"] if body["conversation"] else body["customer"]["id"]
            if subject in subjects:
                found.setdefault(body["event_id"], body)
    return list(found.values())


def test_a_vip_case_is_reported_on_the_conversation_events_queue(local_stack: LocalStack) -> None:
    schema = load_schema("omnihub.event.v1")
    sender = f"e2e-lifecycle-{uuid.uuid4().hex[:8]}"
    assert 200 <= simulate(local_stack, "api", sender, "buongiorno") < 300
    conversation = local_stack.wait_for_conversation("webchat", sender)
    conversation_id = conversation["id"]
    customer_id = conversation["customer_id"]

    status, customer = patch(local_stack, f"/customers/{customer_id}", {"tier": "vip", "tags": ["press"]})
    assert status == 200 and (customer["tier"], customer["tags"]) == ("vip", ["press"])
    assert 200 <= simulate(local_stack, "api", sender, "parlerò con il mio avvocato") < 300
    deadline = time.monotonic() + 30
    while local_stack.get(f"/conversations/{conversation_id}")[1]["route"] != "vip":
        assert time.monotonic() < deadline, "the VIP's message was not re-routed"
        time.sleep(0.3)
    assert local_stack.post(f"/conversations/{conversation_id}/messages", {"text": "Ci pensiamo noi"})[0] == 202
    status, resolved = local_stack.post(f"/conversations/{conversation_id}/resolve", {})
    assert status == 200 and resolved["status"] == "resolved"

    events = events_of(local_stack, {conversation_id, customer_id}, wanted=7)
    for event in events:
        jsonschema.validate(event, schema)
    # FIFO order holds within a group: the conversation's events, and the customer's
    of_conversation = [e for e in events if e["conversation"]]
    assert [e["type"] for e in of_conversation] == ["opened", "routed", "rerouted", "escalated", "replied", "resolved"]
    assert [e["type"] for e in events if not e["conversation"]] == ["customer_updated"]
    rerouted = of_conversation[2]
    assert (rerouted["route"], rerouted["conversation"]["priority"], rerouted["customer"]["tier"]) == (
        "vip", "urgent", "vip")
    assert of_conversation[3]["detail"]["reason"] == "vip-legal"
