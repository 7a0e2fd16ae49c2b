"""The embedded AWS's own capacity: seconds per bare call, for the floors of the local-stack benchmarks.

moto runs in process (``mock_aws``, provisioned like the local stack, with the dev stack's tuning
of devstack.moto_tuning, as ``make run`` has it) and each kind of call the hub makes on a message
is timed bare — no hub code around it — on items the size of the hub's: a GetItem of an existing
item, a conditional PutItem of a new one, an UpdateItem with an ADD, a Query of one partition, a
SendMessageBatch of one message to a FIFO queue (kept shallow). A message's floor is then
1 / Σ (calls of that kind × seconds per call): what the embedded AWS alone would allow.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from bench.common import STAGE, apply_environment, bench_environment

OPERATIONS = ("GetItem", "PutItem", "UpdateItem", "Query", "BatchGetItem", "SendMessageBatch")


def _best_mean(call: Callable[[], object], calls: int, rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def seconds_per_call(calls: int = 200) -> dict[str, float]:
    """Wall seconds of one bare call of each kind against moto in process (best of 3 rounds' means)."""
    import boto3
    from moto import mock_aws

    from chalicelib.adapters import resources
    from devstack.moto_tuning import tune_moto
    from devstack.provision import provision

    apply_environment(bench_environment())
    tune_moto()
    with mock_aws():
        session = boto3.session.Session()
        provisioned = provision(session, STAGE)
        dynamodb, sqs = session.client("dynamodb"), session.client("sqs")
        table = resources.table_name(STAGE)
        queue = provisioned.queue_urls[resources.queue_name(STAGE, resources.INBOUND_QUEUE)]
        item = {"pk": {"S": "BENCH#existing"}, "sk": {"S": "META"}, "type": {"S": "bench"},
                "text": {"S": "Hello, my order has not arrived " * 4}, "created_at": {"S": "2026-12-07T06:00:00.000Z"}}
        dynamodb.put_item(TableName=table, Item=item)
        key = {"pk": item["pk"], "sk": item["sk"]}
        sent = 0

        def put() -> object:
            fresh = {**item, "pk": {"S": f"BENCH#{uuid.uuid4().hex}"}}
            return dynamodb.put_item(TableName=table, Item=fresh, ConditionExpression="attribute_not_exists(pk)")

        def send() -> object:
            nonlocal sent, queue
            sent += 1
            if sent % 100 == 0:  # shallow, as the consumed inbound queue is (depth is measured apart);
                # a fresh queue rather than a purge (moto allows one purge per queue per minute)
                queue = sqs.create_queue(QueueName=f"bench-capacity-{sent}.fifo",
                                         Attributes={"FifoQueue": "true"})["QueueUrl"]
            return sqs.send_message_batch(QueueUrl=queue, Entries=[{
                "Id": "0", "MessageBody": '{"inbox_key": "bench"}', "MessageGroupId": "bench",
                "MessageDeduplicationId": uuid.uuid4().hex}])

        timed: dict[str, Callable[[], object]] = {
            "GetItem": lambda: dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True),
            "PutItem": put,
            "UpdateItem": lambda: dynamodb.update_item(TableName=table, Key=key, UpdateExpression="ADD n :one",
                                                       ExpressionAttributeValues={":one": {"N": "1"}}),
            "Query": lambda: dynamodb.query(TableName=table, KeyConditionExpression="pk = :p",
                                            ExpressionAttributeValues={":p": item["pk"]}),
            "BatchGetItem": lambda: dynamodb.batch_get_item(
                RequestItems={table: {"Keys": [key], "ConsistentRead": True}}),
            "SendMessageBatch": send,
        }
        for call in timed.values():
            call()  # the first call of each kind builds moto's parsers
        return {name: _best_mean(call, calls) for name, call in timed.items()}


def messages_per_second(mix: Mapping[str, int], seconds: Mapping[str, float]) -> float:
    """What the embedded AWS alone allows for messages making ``mix`` calls (unknown kinds: a GetItem's)."""
    per_message = sum(calls * seconds.get(operation, seconds["GetItem"]) for operation, calls in mix.items())
    return 1.0 / per_message if per_message else float("inf")


def describe(seconds: Mapping[str, Any]) -> str:
    return ", ".join(f"{name} {seconds[name] * 1e3:.2f} ms" for name in OPERATIONS if name in seconds)
