"""The queues in memory, with :class:`chalicelib.adapters.sqs.SqsBus`'s public methods.

A FIFO queue drops a message whose deduplication id it has taken within the last five minutes, as
SQS does; ids are turned into tokens the way SqsBus sends them. Bodies are kept as the JSON a
consumer would read, so a body SQS could not carry fails here too.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters import resources
from chalicelib.adapters.resources import QueueSpec
from chalicelib.adapters.sqs import Outgoing, PublishFailed, fifo_token

DEDUPLICATION_SECONDS = 300  # SQS FIFO's deduplication interval


@dataclass(frozen=True, slots=True)
class Queued:
    """One message as a consumer would receive it."""

    body: dict[str, Any]
    group_id: str | None  # None on a standard queue
    dedupe_id: str | None


@dataclass(frozen=True, slots=True)
class DelayedRetry:
    queue: str
    receipt_handle: str
    seconds: int


class MemoryBus:
    def __init__(self, stage: str = "local", *, clock: Callable[[], float] = time.time) -> None:
        self._stage = stage
        self._clock = clock
        self._lock = threading.Lock()
        self._queues: dict[str, list[Queued]] = {}
        self._taken: dict[str, dict[str, float]] = {}  # queue → dedupe token → when it was taken
        self.delays: list[DelayedRetry] = []
        self.refusing: set[str] = set()  # dedupe ids the queue will refuse (a test's failing SQS)

    def queue_url(self, spec: QueueSpec, *, dlq: bool = False) -> str:
        name = resources.dlq_name(self._stage, spec) if dlq else resources.queue_name(self._stage, spec)
        return f"memory://{name}"

    def publish(self, spec: QueueSpec, message: Outgoing) -> None:
        failed = self.publish_batch(spec, [message])
        if failed:
            raise PublishFailed(f"SQS refused a message for {spec.logical_name}: {failed[0]}")

    def publish_batch(self, spec: QueueSpec, messages: Sequence[Outgoing]) -> list[str]:
        """Returns the dedupe ids refused (empty when all went); a duplicate is accepted and dropped."""
        refused: list[str] = []
        with self._lock:
            queue = self._queues.setdefault(spec.logical_name, [])
            taken = self._taken.setdefault(spec.logical_name, {})
            now = self._clock()
            for message in messages:
                body = json.loads(json.dumps(message.body, separators=(",", ":"), ensure_ascii=False))
                if message.dedupe_id in self.refusing:
                    refused.append(message.dedupe_id)
                    continue
                if not spec.fifo:
                    queue.append(Queued(body, None, None))
                    continue
                token = fifo_token(message.dedupe_id)
                if now - taken.get(token, float("-inf")) < DEDUPLICATION_SECONDS:
                    continue
                taken[token] = now
                queue.append(Queued(body, fifo_token(message.group_id), token))
        return refused

    def delay_retry(self, spec: QueueSpec, receipt_handle: str, seconds: int) -> bool:
        with self._lock:
            self.delays.append(DelayedRetry(spec.logical_name, receipt_handle, seconds))
        return True

    # ----------------------------------------------------------------- for tests
    def messages(self, spec: QueueSpec) -> list[Queued]:
        """What the queue holds, in the order it was sent."""
        with self._lock:
            return list(self._queues.get(spec.logical_name, []))

    def bodies(self, spec: QueueSpec) -> list[dict[str, Any]]:
        return [queued.body for queued in self.messages(spec)]

    def take(self, spec: QueueSpec) -> list[Queued]:
        """Receive and delete everything on the queue (deduplication ids stay remembered)."""
        with self._lock:
            return self._queues.pop(spec.logical_name, [])
