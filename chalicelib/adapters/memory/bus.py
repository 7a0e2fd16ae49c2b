"""The queues in memory, with :class:`chalicelib.adapters.sqs.SqsBus`'s public methods.

Only the queues it was given exist (``resources.all_queues()`` by default: the hub's and the
routes'), as only provisioned queues exist in SQS. A FIFO queue drops a message whose deduplication
id it took in the last five minutes; ids become tokens the way SqsBus sends them. Bodies are kept as
the JSON a consumer would read, so a body SQS could not carry fails here too.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Sequence
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
    receipt_handle: str


@dataclass(frozen=True, slots=True)
class DelayedRetry:
    queue: str
    receipt_handle: str
    seconds: int


class MemoryBus:
    def __init__(
        self,
        stage: str = "local",
        *,
        queues: Iterable[QueueSpec] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._stage = stage
        self._clock = clock
        self._lock = threading.Lock()
        self._queues: dict[str, list[Queued]] = {
            spec.logical_name: [] for spec in (resources.all_queues() if queues is None else queues)
        }
        self._taken: dict[str, dict[str, float]] = {name: {} for name in self._queues}  # dedupe token → when
        self._handles: set[tuple[str, str]] = set()  # (queue, receipt handle) of every message it held
        self._sent = 0
        self.delays: list[DelayedRetry] = []
        self.refusing: set[str] = set()  # dedupe ids the queue will refuse (a test's failing SQS)

    def queue_url(self, spec: QueueSpec, *, dlq: bool = False) -> str:
        if spec.logical_name not in self._queues:
            raise PublishFailed(f"queue {resources.queue_name(self._stage, spec)} unreachable")
        name = resources.dlq_name(self._stage, spec) if dlq else resources.queue_name(self._stage, spec)
        return f"memory://{name}"

    def publish(self, spec: QueueSpec, message: Outgoing) -> None:
        failed = self.publish_batch(spec, [message])
        if failed:
            raise PublishFailed(f"SQS refused a message for {spec.logical_name}: {failed[0]}")

    def publish_batch(self, spec: QueueSpec, messages: Sequence[Outgoing]) -> list[str]:
        """Returns the dedupe ids refused (empty when all went); a duplicate is accepted and dropped."""
        self.queue_url(spec)
        bodies = [json.loads(json.dumps(m.body, separators=(",", ":"), ensure_ascii=False)) for m in messages]
        refused: list[str] = []
        with self._lock:
            queue, taken, now = self._queues[spec.logical_name], self._taken[spec.logical_name], self._clock()
            for message, body in zip(messages, bodies, strict=True):
                if message.dedupe_id in self.refusing:
                    refused.append(message.dedupe_id)
                    continue
                token = fifo_token(message.dedupe_id) if spec.fifo else None
                if token is not None:
                    if now - taken.get(token, float("-inf")) < DEDUPLICATION_SECONDS:
                        continue
                    taken[token] = now
                self._sent += 1
                handle = f"{spec.logical_name}-{self._sent}"
                self._handles.add((spec.logical_name, handle))
                group = fifo_token(message.group_id) if spec.fifo else None
                queue.append(Queued(body, group, token, handle))
        return refused

    def delay_retry(self, spec: QueueSpec, receipt_handle: str, seconds: int) -> bool:
        """False for a queue or a receipt handle it does not know (SqsBus: SQS refused)."""
        with self._lock:
            if (spec.logical_name, receipt_handle) not in self._handles:
                return False
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
            taken = self._queues.get(spec.logical_name)
            if taken is None:
                return []
            self._queues[spec.logical_name] = []
            return taken
