"""The bus and the secret reader: the in-memory twins against SqsBus on moto and SecretSource."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.adapters import resources
from chalicelib.adapters.memory import MemoryBus, MemorySecrets
from chalicelib.adapters.resources import ROUTE_DEFAULT_QUEUE, QueueSpec
from chalicelib.adapters.secrets import SecretSource
from chalicelib.adapters.settings import Settings
from chalicelib.adapters.sqs import Outgoing, PublishFailed, SqsBus

PLAIN_QUEUE = QueueSpec("plain", fifo=False)
MISSING_QUEUE = QueueSpec("missing")
_STAGES = itertools.count()


@dataclass
class Queues:
    """A bus and a consumer's view of its queues."""

    bus: Any
    drain: Any  # spec → every body on the queue, received and deleted
    receive_one: Any  # spec → (body, receipt handle) of the next message, left in flight


@pytest.fixture(params=["memory", "sqs"])
def queues(request: pytest.FixtureRequest) -> Iterator[Queues]:
    if request.param == "memory":
        bus = MemoryBus("contract", queues=[*resources.QUEUES, PLAIN_QUEUE])
        yield Queues(bus, lambda spec: [q.body for q in bus.take(spec)],
                     lambda spec: (bus.messages(spec)[0].body, bus.messages(spec)[0].receipt_handle))
        return
    request.getfixturevalue("aws_env")
    import boto3
    from moto import mock_aws

    with mock_aws():
        sqs = boto3.session.Session().client("sqs")
        stage = f"contract{next(_STAGES)}"
        for spec in (ROUTE_DEFAULT_QUEUE, PLAIN_QUEUE):
            attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "false"} if spec.fifo else {}
            sqs.create_queue(QueueName=resources.queue_name(stage, spec), Attributes=attributes)
        bus = SqsBus(sqs, stage)

        def drain(spec: QueueSpec) -> list[dict[str, Any]]:
            bodies, url = [], bus.queue_url(spec)
            while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                for received in messages:
                    bodies.append(json.loads(received["Body"]))
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=received["ReceiptHandle"])
            return bodies

        def receive_one(spec: QueueSpec) -> tuple[dict[str, Any], str]:
            [received] = sqs.receive_message(QueueUrl=bus.queue_url(spec), MaxNumberOfMessages=1)["Messages"]
            return json.loads(received["Body"]), received["ReceiptHandle"]

        yield Queues(bus, drain, receive_one)


def outgoing(n: int, *, group: str = "cnv_1", dedupe: str | None = None) -> Outgoing:
    return Outgoing({"n": n, "text": "città ✓"}, group_id=group, dedupe_id=dedupe or f"msg_{n}")


def test_a_fifo_queue_keeps_the_order_and_the_json(queues: Queues) -> None:
    for n in range(3):
        queues.bus.publish(ROUTE_DEFAULT_QUEUE, outgoing(n))
    assert queues.drain(ROUTE_DEFAULT_QUEUE) == [{"n": n, "text": "città ✓"} for n in range(3)]


def test_a_fifo_queue_drops_a_deduplication_id_it_has_seen(queues: Queues) -> None:
    long_id = "meta#" + "w" * 200  # longer than SQS allows: sent as a hash, still deduplicated
    for message in (outgoing(1), outgoing(2, dedupe="msg_1"), outgoing(3, dedupe=long_id),
                    outgoing(4, dedupe=long_id), outgoing(5, dedupe=long_id + "x", group="g" * 300)):
        queues.bus.publish(ROUTE_DEFAULT_QUEUE, message)
    assert [body["n"] for body in queues.drain(ROUTE_DEFAULT_QUEUE)] == [1, 3, 5]
    # SQS keeps tracking an id after its message was deleted; moto forgets it, so the twin's own
    # tests check that part (tests/contract/test_memory_twins.py).


def test_a_standard_queue_does_not_deduplicate(queues: Queues) -> None:
    queues.bus.publish_batch(PLAIN_QUEUE, [outgoing(1), outgoing(2, dedupe="msg_1")])
    assert sorted(body["n"] for body in queues.drain(PLAIN_QUEUE)) == [1, 2]


def test_a_batch_goes_in_chunks_of_ten_and_reports_nothing_refused(queues: Queues) -> None:
    assert queues.bus.publish_batch(ROUTE_DEFAULT_QUEUE, [outgoing(n) for n in range(23)]) == []
    assert [body["n"] for body in queues.drain(ROUTE_DEFAULT_QUEUE)] == list(range(23))


def test_a_queue_that_does_not_exist_fails_the_publish(queues: Queues) -> None:
    with pytest.raises(PublishFailed):
        queues.bus.publish(MISSING_QUEUE, outgoing(1))
    assert queues.bus.delay_retry(MISSING_QUEUE, "handle", 30) is False


def test_a_body_json_cannot_carry_is_refused(queues: Queues) -> None:
    with pytest.raises(TypeError):
        queues.bus.publish(ROUTE_DEFAULT_QUEUE, Outgoing({"at": object()}, group_id="g", dedupe_id="d"))


def test_a_retry_is_delayed_only_for_a_message_received(queues: Queues) -> None:
    queues.bus.publish(ROUTE_DEFAULT_QUEUE, outgoing(1))
    body, handle = queues.receive_one(ROUTE_DEFAULT_QUEUE)
    assert body["n"] == 1
    assert queues.bus.delay_retry(ROUTE_DEFAULT_QUEUE, handle, 30) is True
    assert queues.bus.delay_retry(ROUTE_DEFAULT_QUEUE, "not-a-receipt-handle", 30) is False


# ====================================================================== secrets
@pytest.fixture(params=["memory", "environment"])
def secrets(request: pytest.FixtureRequest) -> Any:
    values = {"TWILIO_AUTH_TOKEN": "token", "OMNIHUB_EMPTY_FOR_TEST": ""}
    if request.param == "memory":
        return MemorySecrets(values)
    return SecretSource(Settings.from_environ(values, stage="contract"))


def test_a_secret_is_read_and_an_empty_or_unknown_one_is_missing(secrets: Any) -> None:
    assert secrets.get("TWILIO_AUTH_TOKEN") == "token"
    assert secrets.get("OMNIHUB_EMPTY_FOR_TEST") is None
    assert secrets.get("OMNIHUB_NO_SUCH_SECRET") is None
    assert secrets.get_many(["TWILIO_AUTH_TOKEN", "OMNIHUB_EMPTY_FOR_TEST", "OMNIHUB_NO_SUCH_SECRET"]) == {
        "TWILIO_AUTH_TOKEN": "token"}
