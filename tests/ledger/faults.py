"""The ledger's faults, injected where production meets them: AWS calls, Lambda batches, the providers.

- DynamoDB writes throttled: a botocore ``before-call`` hook on the hub's own DynamoDB client raises
  ``ProvisionedThroughputExceededException`` on some PutItem/UpdateItem calls (the webhook path answers
  503 and the provider retries; a worker's batch fails and SQS redelivers it);
- SQS sends failing after the inbox write: the same hook on the hub's SQS client fails some sends (the
  relay's, after the stream carried the inbox item; the worker's route and event sends);
- a worker that crashes after its writes and before its delete: the handler runs, then the invocation
  raises, so the pump deletes nothing and every message of the batch comes back;
- SQS redelivering a message: some batches carry a record twice (another ``messageId``, the same body);
- a poisoned event: the worker fails it until it lands in the DLQ (then the test replays it);
- provider send failures: the provider sandbox answers rate limits and server errors.
"""

from __future__ import annotations

import json
import random
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

Handler = Callable[[dict[str, Any], Any], Any]


class SimulatedCrash(RuntimeError):
    """The Lambda's process died after its writes, before the event source deleted the batch."""


@dataclass
class FaultCounts:
    throttled_writes: int = 0
    failed_sends: int = 0
    crashes: int = 0
    redeliveries: int = 0
    poisoned_attempts: int = 0


@dataclass
class Faults:
    seed: int = 16
    throttle_every: int = 97  # about 1 % of the hub's DynamoDB writes (each fails its record, and its group, once)
    fail_send_every: int = 61  # under 2 % of its SQS sends
    crash_every: int = 13  # one worker batch in thirteen crashes after its writes
    redeliver_every: int = 7  # one batch in seven carries a message twice
    counts: FaultCounts = field(default_factory=FaultCounts)
    poisoned: set[str] = field(default_factory=set)  # inbox keys the worker fails while set
    armed: bool = True
    _writes: int = 0
    _sends: int = 0
    _batches: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    # ------------------------------------------------------------------ AWS calls
    def install(self, dynamodb_client: Any, sqs_client: Any) -> None:
        for operation in ("PutItem", "UpdateItem"):
            dynamodb_client.meta.events.register(f"before-call.dynamodb.{operation}", self._throttle)
        for operation in ("SendMessage", "SendMessageBatch"):
            sqs_client.meta.events.register(f"before-call.sqs.{operation}", self._fail_send)

    def _throttle(self, model: Any, **_: Any) -> None:
        self._writes += 1
        if self.armed and self._writes % self.throttle_every == 0:
            self.counts.throttled_writes += 1
            raise ClientError({"Error": {"Code": "ProvisionedThroughputExceededException",
                                         "Message": "Rate of requests exceeds the allowed throughput."}},
                              model.name)

    def _fail_send(self, model: Any, **_: Any) -> None:
        self._sends += 1
        if self.armed and self._sends % self.fail_send_every == 0:
            self.counts.failed_sends += 1
            raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "Service is unavailable."}},
                              model.name)

    # ------------------------------------------------------------------ Lambda batches
    def wrap_worker(self, handler: Handler) -> Handler:
        """The inbound worker, crashing after some batches and receiving some records twice."""

        def worker(event: dict[str, Any], context: Any) -> Any:
            self._batches += 1
            records = list(event["Records"])
            if self.armed and records and self._batches % self.redeliver_every == 0:
                again = dict(self._rng.choice(records), messageId=str(uuid.uuid4()))
                records.append(again)  # at-least-once: the same body under another messageId
                self.counts.redeliveries += 1
            response = handler({**event, "Records": records}, context)
            if self.armed and self._batches % self.crash_every == 0:
                self.counts.crashes += 1
                raise SimulatedCrash("the worker died before its batch was deleted")
            return response

        return worker

    def poison(self, use_case: Callable[..., str]) -> Callable[..., str]:
        """The worker's use case, failing the poisoned inbox keys (a bug the DLQ must hold)."""
        from chalicelib.core.errors import RetryableError

        def poisoned(inbox_key: str, ports: Any) -> str:
            if inbox_key in self.poisoned:
                self.counts.poisoned_attempts += 1
                raise RetryableError("poisoned by the ledger test")
            return use_case(inbox_key, ports)

        return poisoned

    def wrap_handlers(self, handlers: Mapping[str, Handler]) -> dict[str, Handler]:
        return {name: self.wrap_worker(h) if name == "handle_inbound" else h for name, h in handlers.items()}


def arm_provider_failures(sandbox_url: str, plan: list[dict[str, Any]]) -> int:
    """Ask the provider sandbox to fail the next sends (``/_sandbox/fail``); returns how many."""
    armed = 0
    for failure in plan:
        request = urllib.request.Request(f"{sandbox_url}/_sandbox/fail", data=json.dumps(failure).encode(),
                                         method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5):  # the loopback sandbox
            armed += int(failure.get("count", 1))
    return armed
