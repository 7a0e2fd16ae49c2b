"""``customer_erased`` onto the conversation-events queue (``omnihub.event.v1``), through any bus with
SqsBus's ``publish`` (the SQS adapter, or the in-memory queues of the tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from chalicelib.adapters.observability import count
from chalicelib.adapters.resources import CONVERSATION_EVENTS_QUEUE, QueueSpec
from chalicelib.adapters.sqs import Outgoing


class _Bus(Protocol):
    def publish(self, spec: QueueSpec, message: Outgoing) -> None: ...


class BusErasureNotices:
    def __init__(self, bus: _Bus) -> None:
        self._bus = bus

    def publish(self, body: Mapping[str, Any], *, group_id: str, dedupe_id: str) -> None:
        """Raises PublishFailed (retryable: 503, the DELETE is repeated) when SQS refused it."""
        self._bus.publish(CONVERSATION_EVENTS_QUEUE, Outgoing(dict(body), group_id=group_id, dedupe_id=dedupe_id))
        count("LifecycleEvents", value=1)
