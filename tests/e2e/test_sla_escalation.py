"""End to end through `make run` with a routing file of its own (the shipped rules and routes, a
one-minute SLA round the clock): an unanswered message escalates once the sweeper's clock passes its
deadline, and a VIP's message mentioning a lawyer lands on the vip route, urgent, and on the escalation
queue.

The stack runs its schedules every second (OMNIHUB_LOCAL_SCHEDULE_SECONDS) and takes the sweeper's clock
from a file (OMNIHUB_LOCAL_CLOCK_FILE, devstack.schedule_clock) that the test moves forward by an hour
instead of waiting a minute."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import jsonschema
import pytest

from chalicelib.adapters.dynamo import keys
from chalicelib.routing.config import DEFAULT_CONFIG_PATH
from devstack.launcher import running_local_stack
from tests.conftest import load_schema
from tests.e2e.conftest import LocalStack
from tests.e2e.test_local_stack import simulate

pytestmark = pytest.mark.e2e

SCHEDULE_SECONDS = 1
ONE_MINUTE_ALWAYS = {"calendar": "always", "policies": {
    "normal": {"first_response_minutes": 1, "next_response_minutes": 1, "resolution_minutes": 600},
    "urgent": {"first_response_minutes": 1, "next_response_minutes": 1, "resolution_minutes": 600}}}


@pytest.fixture(scope="module")
def clock_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sla") / "clock"
    path.write_text("0")
    return path


@pytest.fixture(scope="module")
def sla_stack(tmp_path_factory: pytest.TempPathFactory, clock_file: Path) -> Iterator[LocalStack]:
    routing = json.loads(Path(DEFAULT_CONFIG_PATH).read_text())
    routing["sla"] = ONE_MINUTE_ALWAYS
    routing_file = tmp_path_factory.mktemp("sla") / "routing.json"
    routing_file.write_text(json.dumps(routing))
    env = {"OMNIHUB_ROUTING_CONFIG": str(routing_file), "OMNIHUB_LOCAL_SCHEDULE_SECONDS": str(SCHEDULE_SECONDS),
           "OMNIHUB_LOCAL_CLOCK_FILE": str(clock_file)}
    with running_local_stack(env=env) as urls:
        yield LocalStack(urls.api_url, urls.aws_url, urls.sandbox_url, urls.env)


def drain(stack: LocalStack, queue: str) -> list[dict[str, Any]]:
    sqs = stack.sqs()
    url = sqs.get_queue_url(QueueName=f"omnihub-local-{queue}.fifo")["QueueUrl"]
    found = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def wait_for_escalation(stack: LocalStack, conversation_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for envelope in drain(stack, "escalation"):
            if envelope["conversation"]["id"] == conversation_id:
                return envelope
    raise AssertionError(f"no escalation of {conversation_id} within {timeout} s")


def wait_for_timers(stack: LocalStack, conversation: dict[str, Any], timeout: float = 30) -> dict[str, Any]:
    """The conversation once its SLA timers run: the worker stores the message (which is all
    ``wait_for_conversation`` waits for) before it routes the conversation and starts them."""
    deadline = time.monotonic() + timeout
    while conversation["sla"] is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"no SLA timers on {conversation['id']} within {timeout} s")
        time.sleep(0.3)
        status, fresh = stack.get(f"/conversations/{conversation['id']}")
        conversation = fresh if status == 200 else conversation
    return conversation


def test_an_unanswered_message_escalates_once_the_sweepers_clock_passes_its_deadline(
    sla_stack: LocalStack, clock_file: Path
) -> None:
    sender = f"e2e-sla-{uuid.uuid4().hex[:8]}"
    assert 200 <= simulate(sla_stack, "api", sender, "hello, anyone there?") < 300
    conversation = wait_for_timers(sla_stack, sla_stack.wait_for_conversation("webchat", sender))
    due = conversation["sla"]["first_response_due_at"]
    assert due is not None and conversation["sla"]["paused"] is False
    time.sleep(3 * SCHEDULE_SECONDS)  # a few sweeps on the real clock: the deadline is a minute away
    assert [e for e in drain(sla_stack, "escalation") if e["conversation"]["id"] == conversation["id"]] == []
    clock_file.write_text("3600")  # the sweeper's clock an hour on: past the deadline
    try:
        escalation = wait_for_escalation(sla_stack, conversation["id"])
    finally:
        clock_file.write_text("0")
    jsonschema.validate(escalation, load_schema("omnihub.escalation.v1"))
    assert (escalation["reason"], escalation["level"], escalation["deadline"]) == ("sla:first_response", 1, due)


def test_a_vips_message_with_avvocato_lands_on_vip_urgent_and_on_the_escalation_queue(sla_stack: LocalStack) -> None:
    sender = f"e2e-vip-{uuid.uuid4().hex[:8]}"
    assert 200 <= simulate(sla_stack, "api", sender, "buongiorno") < 300
    first = sla_stack.wait_for_conversation("webchat", sender)
    # The CRM marks the customer VIP (PATCH /customers/{id} arrives with the lifecycle work; until then
    # the test writes the tier where that endpoint will).
    table = boto3.session.Session().client(
        "dynamodb", region_name="us-east-1", endpoint_url=sla_stack.aws_url,
        aws_access_key_id="testing", aws_secret_access_key="testing")
    table.update_item(TableName="omnihub-local-main",
                      Key={name: {"S": value} for name, value in keys.customer(first["customer_id"]).items()},
                      UpdateExpression="SET tier = :vip", ExpressionAttributeValues={":vip": {"S": "vip"}})
    assert 200 <= simulate(sla_stack, "api", sender, "Parlerò con il mio avvocato") < 300
    escalation = wait_for_escalation(sla_stack, first["id"])
    jsonschema.validate(escalation, load_schema("omnihub.escalation.v1"))
    assert (escalation["reason"], escalation["level"], escalation["route"]) == ("vip-legal", 1, "vip")
    assert escalation["conversation"]["priority"] == "urgent" and escalation["customer"]["tier"] == "vip"
    routed = [e for e in drain(sla_stack, "route-vip") if e["conversation"]["id"] == first["id"]]
    assert [e["message"]["text"] for e in routed] == ["Parlerò con il mio avvocato"]
    jsonschema.validate(routed[0], load_schema("omnihub.routed.v1"))
    assert routed[0]["conversation"]["priority"] == "urgent" and routed[0]["conversation"]["tags"] == ["legal"]
    status, detail = sla_stack.get(f"/conversations/{first['id']}")
    assert status == 200 and (detail["route"], detail["priority"]) == ("vip", "urgent")
