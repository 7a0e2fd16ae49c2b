"""The dev stack's tuning of moto changes what a send costs, never what SQS answers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from devstack.moto_tuning import DEFAULT_RETENTION, retention, trim_unconsumed, tune_moto


@pytest.fixture
def sqs() -> Iterator[Any]:
    tune_moto()
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def _fifo(sqs: Any, name: str = "q.fifo", content_based: bool = False) -> str:
    attributes = {"FifoQueue": "true", "ContentBasedDeduplication": "true" if content_based else "false"}
    return str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


def _depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def test_fifo_deduplication_still_holds(sqs: Any) -> None:
    url = _fifo(sqs)
    for _ in range(2):
        sqs.send_message(QueueUrl=url, MessageBody="a", MessageGroupId="g", MessageDeduplicationId="same")
    sqs.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "1", "MessageBody": "b", "MessageGroupId": "g", "MessageDeduplicationId": "same"},
        {"Id": "2", "MessageBody": "c", "MessageGroupId": "g", "MessageDeduplicationId": "other"},
    ])
    assert _depth(sqs, url) == 2


def test_content_based_deduplication_and_its_validation_still_hold(sqs: Any) -> None:
    content = _fifo(sqs, "content.fifo", content_based=True)
    for _ in range(2):
        sqs.send_message(QueueUrl=content, MessageBody="same body", MessageGroupId="g")
    assert _depth(sqs, content) == 1
    explicit = _fifo(sqs, "explicit.fifo")
    with pytest.raises(sqs.exceptions.ClientError):  # neither a deduplication id nor content-based
        sqs.send_message(QueueUrl=explicit, MessageBody="x", MessageGroupId="g")


def test_queue_attributes_stay_whole_and_exact(sqs: Any) -> None:
    url = _fifo(sqs)
    for index in range(3):
        sqs.send_message(QueueUrl=url, MessageBody="m", MessageGroupId="g", MessageDeduplicationId=str(index))
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "3"
    assert attributes["ContentBasedDeduplication"] == "false" and attributes["FifoQueue"] == "true"
    assert "QueueArn" in attributes and "VisibilityTimeout" in attributes


def test_trim_keeps_the_newest_messages_of_the_named_queues_only(sqs: Any) -> None:
    trimmed, kept = _fifo(sqs, "route.fifo"), _fifo(sqs, "consumed.fifo")
    for url in (trimmed, kept):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": f"m{i}", "MessageGroupId": "g", "MessageDeduplicationId": str(i)}
            for i in range(10)])
    assert trim_unconsumed(["route.fifo", "absent.fifo"], keep=4) == 6
    assert (_depth(sqs, trimmed), _depth(sqs, kept)) == (4, 10)
    bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=trimmed, MaxNumberOfMessages=10)["Messages"]]
    assert bodies == ["m6", "m7", "m8", "m9"]
    assert trim_unconsumed(["route.fifo"], keep=0) == 0  # 0 keeps everything


def test_retention_setting() -> None:
    assert retention({}) == DEFAULT_RETENTION
    assert retention({"OMNIHUB_LOCAL_QUEUE_RETENTION": "0"}) == 0
    assert retention({"OMNIHUB_LOCAL_QUEUE_RETENTION": "250"}) == 250
    assert retention({"OMNIHUB_LOCAL_QUEUE_RETENTION": "lots"}) == DEFAULT_RETENTION


def test_named_attributes_and_receives_answer_as_before(sqs: Any) -> None:
    url = _fifo(sqs, "named.fifo")
    for index in range(4):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{index}", MessageGroupId=f"g{index}",
                         MessageDeduplicationId=str(index))
    every = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    named = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible", "MessageRetentionPeriod"]
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=named)["Attributes"] == {n: every[n] for n in named}
    with pytest.raises(sqs.exceptions.ClientError):  # an unknown name is still moto's (and SQS's) error
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["NoSuchAttribute"])
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in received) == ["m0", "m1", "m2", "m3"]
    after = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=named[:2])["Attributes"]
    assert after == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "4"}


def test_a_message_past_the_retention_period_is_not_received(sqs: Any) -> None:
    url = str(sqs.create_queue(QueueName="short", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"])
    sqs.send_message(QueueUrl=url, MessageBody="old")
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    [message] = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].queues["short"]._messages
    message.sent_timestamp -= 61_000  # sent 61 s ago, as moto counts (milliseconds)
    assert "Messages" not in sqs.receive_message(QueueUrl=url)


# What moto 5.2's BotocoreStubber.process_request reads: a change to it must be read before the
# request tuning (which repeats its routing's tail for a URL already routed) is trusted again.
ROUTING_NAMES = {
    "BackendDict", "DEFAULT_ACCOUNT_ID", "HTTPException", "ServiceNotWhitelisted", "_record_request", "backend_index",
    "backend_url_patterns", "backends", "code", "compile", "get_backend", "get_body",
    "get_equivalent_url_in_aws_domain", "get_headers", "headers", "isinstance", "items", "match", "moto.backends",
    "moto.core", "moto.core.exceptions", "moto.moto_api", "netloc", "normalize_request", "passthrough_service",
    "passthrough_url", "path", "raw_url", "re", "recorder", "scheme", "service_whitelisted", "url", "urls"}


def test_the_moto_internals_the_tunings_recognise_are_still_there() -> None:
    """The tunings find moto's callers by name: a moto upgrade that renamed one would silently turn a
    tuning off (the answers stay right, only the cost comes back). This fails first instead."""
    from moto.core import responses
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.parsing import validators
    from moto.sqs.models import Queue, SQSBackend

    assert {"hash_key", "index_name"} <= set(Table.query.__code__.co_varnames)
    assert "all_items" in Table.query.__code__.co_names
    for reader in (SQSBackend._validate_message, SQSBackend.send_message, Queue.add_message):
        assert reader.__name__ in {"_validate_message", "send_message", "add_message"}
        assert "attributes" in reader.__code__.co_names
    from moto.core.botocore_stubber import BotocoreStubber

    from devstack import moto_request_tuning

    routing = moto_request_tuning.moto_process_request or BotocoreStubber.process_request
    assert set(routing.__code__.co_names) == ROUTING_NAMES  # its routing and tail, which the URL cache repeats
    assert hasattr(validators, "deepcopy") and hasattr(responses, "method_names_from_class")
    from moto.dynamodb.parsing import ast_nodes

    assert "traverse_node_recursively" in ast_nodes.DepthFirstTraverser.traverse.__code__.co_names
    assert {"nodes_to_be_processed", "pre_processing_of_child", "process"} <= set(vars(ast_nodes.DepthFirstTraverser))
    assert "find_clauses" in validators.ActionCountValidator.verify_action_counts.__code__.co_names
    from moto.dynamodb.comparisons import ConditionExpressionParser

    assert "_lex_condition_expression" in ConditionExpressionParser.parse.__code__.co_names
    import inspect

    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    for update in (DynamoDBBackend.update_item, inspect.unwrap(DynamoHandler.update_item)):
        assert update.__name__ == "update_item" and "deepcopy" in update.__code__.co_names  # the snapshots' callers
    tune_moto()
    walk = ast_nodes.DepthFirstTraverser.traverse_node_recursively
    assert walk.__module__ == ast_nodes.Node.find_clauses.__module__ == "devstack.moto_expression_tuning"
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser  # type: ignore[attr-defined]

    assert hasattr(UpdateExpressionParser.make, "cache_info")  # the parse cache is in place
