"""SQS publishing: FIFO groups, deduplication ids, batches. Domain errors out, never botocore's."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters import resources
from chalicelib.adapters.aws_errors import log_aws_failure
from chalicelib.adapters.resources import QueueSpec
from chalicelib.core.errors import RetryableError

_BATCH = 10


class PublishFailed(RetryableError):
    """SQS did not take a message; the caller's batch item fails and is retried.

    Its reason is ours; what SQS or botocore said is logged where it happened.
    """


@dataclass(frozen=True, slots=True)
class Outgoing:
    body: dict[str, Any]
    group_id: str  # FIFO order is kept within a group
    dedupe_id: str  # the same id within 5 minutes is dropped by SQS; consumers dedupe beyond that


def fifo_token(value: str) -> str:
    """Group and dedupe ids allow 128 characters of a limited alphabet: hash anything else.

    A format rule, not a privacy boundary (the hash is unkeyed): what names a person is keyed before
    it gets here (the relay's inbound group and dedupe ids, chalicelib/core/ids.py).
    """
    if len(value) <= 128 and all(c.isalnum() or c in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~" for c in value):
        return value
    return hashlib.sha256(value.encode()).hexdigest()


class SqsBus:
    def __init__(self, client: Any, stage: str, *, queue_url_prefix: str | None = None) -> None:
        self._client = client
        self._stage = stage
        self._prefix = queue_url_prefix
        self._urls: dict[str, str] = {}

    def queue_url(self, spec: QueueSpec, *, dlq: bool = False) -> str:
        name = resources.dlq_name(self._stage, spec) if dlq else resources.queue_name(self._stage, spec)
        if name not in self._urls:
            if self._prefix:
                self._urls[name] = self._prefix.rstrip("/") + "/" + name
            else:
                try:
                    self._urls[name] = self._client.get_queue_url(QueueName=name)["QueueUrl"]
                except (ClientError, BotoCoreError) as err:
                    log_aws_failure("SQS", "get_queue_url", err)
                    raise PublishFailed(f"queue {name} unreachable") from err
        return self._urls[name]

    def publish(self, spec: QueueSpec, message: Outgoing) -> None:
        failed = self.publish_batch(spec, [message])
        if failed:
            raise PublishFailed(f"SQS refused a message for {spec.logical_name}: {failed[0]}")

    def publish_batch(self, spec: QueueSpec, messages: Sequence[Outgoing]) -> list[str]:
        """Send in batches of ten; returns the dedupe ids SQS refused (empty when all went)."""
        url = self.queue_url(spec)
        refused: list[str] = []
        for start in range(0, len(messages), _BATCH):
            chunk = messages[start : start + _BATCH]
            entries = []
            for index, message in enumerate(chunk):
                entry: dict[str, Any] = {
                    "Id": str(index),
                    "MessageBody": json.dumps(message.body, separators=(",", ":"), ensure_ascii=False),
                }
                if spec.fifo:
                    entry["MessageGroupId"] = fifo_token(message.group_id)
                    entry["MessageDeduplicationId"] = fifo_token(message.dedupe_id)
                entries.append(entry)
            try:
                response = self._client.send_message_batch(QueueUrl=url, Entries=entries)
            except (ClientError, BotoCoreError) as err:
                log_aws_failure("SQS", "send_message_batch", err)
                raise PublishFailed(f"SQS did not take a batch for {spec.logical_name}") from err
            refused.extend(chunk[int(f["Id"])].dedupe_id for f in response.get("Failed", []))
        return refused

    def delay_retry(self, spec: QueueSpec, receipt_handle: str, seconds: int) -> bool:
        """Backoff through visibility: the failed message comes back after ``seconds``.

        False when SQS refused; not fatal, the message still returns when its visibility ends.
        """
        try:
            self._client.change_message_visibility(
                QueueUrl=self.queue_url(spec), ReceiptHandle=receipt_handle, VisibilityTimeout=seconds
            )
        except (ClientError, BotoCoreError, PublishFailed):
            return False
        return True
