"""Dead letters back to their queue (``./hub replay <queue>-dlq``), as one function the tests call too."""

from __future__ import annotations

import uuid
from typing import Any

from chalicelib.adapters import resources


def replay_dead_letters(sqs: Any, stage: str, dlq: str) -> tuple[str, int]:
    """Move every message of the DLQ named ``dlq`` back to its source queue; returns (that queue, moved).

    A FIFO message keeps its group and gets a fresh deduplication id (the original one may still be
    inside SQS's five-minute window, which would drop the replay). The consumers are idempotent: a
    replayed message that had in fact been handled lands once (same derived ids, conditional writes).
    """
    spec = next((s for s in resources.all_queues() if resources.dlq_name(stage, s) == dlq), None)
    if spec is None:
        raise ValueError(f"{dlq} is not a dead-letter queue")
    target = resources.queue_name(stage, spec)
    source_url = sqs.get_queue_url(QueueName=dlq)["QueueUrl"]
    target_url = sqs.get_queue_url(QueueName=target)["QueueUrl"]
    moved = 0
    while True:
        messages = sqs.receive_message(
            QueueUrl=source_url, MaxNumberOfMessages=10, WaitTimeSeconds=0, AttributeNames=["All"]
        ).get("Messages", [])
        if not messages:
            return target, moved
        for message in messages:
            entry: dict[str, Any] = {"QueueUrl": target_url, "MessageBody": message["Body"]}
            if spec.fifo:
                entry["MessageGroupId"] = message.get("Attributes", {}).get("MessageGroupId", "replay")
                entry["MessageDeduplicationId"] = uuid.uuid4().hex
            sqs.send_message(**entry)
            sqs.delete_message(QueueUrl=source_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
