"""The dev stack's setup of moto: a send's cost that does not grow with the queue's depth, and a
bounded local retention for the queues nobody consumes locally.

Where moto 5.2's SQS send cost grows (profiled: ``python -m cProfile`` of ``send_message`` at depths
0, 150 and 1,000): every FIFO send reads ``Queue.attributes`` four times (twice in
``_validate_message``, once in ``send_message``, once in ``add_message``) only to look at
``ContentBasedDeduplication``, and that property computes every attribute, including the three
``ApproximateNumberOfMessages*`` counts — each a pass over all the queue's messages with two or
four datetime conversions per message. So a send costs O(depth): 2 ms at depth 0, 18 ms at 150
and 75 ms at 1,000 for a FIFO queue (1, 4 and 47 ms for a standard one) on the development
machine. :func:`tune_moto` answers those four reads with the one attribute they look at; every
other reader (GetQueueAttributes, ``./hub queues``) still gets the full, exact attributes. What
is left per send is moto's deduplication scan (a plain attribute comparison per message of a
FIFO queue, ~50 ns each), which :func:`trim_unconsumed` bounds.

A receive checks each message it returns against the retention period through
``get_queue_attributes``, which builds every attribute (the O(depth) counts included) twice per
message returned: the check now reads the one attribute, and named attributes are built once per
call. The DynamoDB tunings are in devstack/moto_dynamodb_tuning.py, the way a call takes into moto
in process (signing, routing) in devstack/moto_request_tuning.py.

Upstream (moto): ``SQSBackend._validate_message``, ``SQSBackend.send_message`` and
``Queue.add_message`` should read ``queue.content_based_deduplication`` instead of building
``queue.attributes``; the approximate counts could be kept as counters; and the FIFO
deduplication scan could be a dict of deduplication id → sent time; the retention check could
read ``queue.message_retention_period``.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from devstack.moto_dynamodb_tuning import tune_dynamodb
from devstack.moto_request_tuning import tune_requests

# Locally nobody consumes the route queues (agents' desktops would): keep at most this many messages
# per such queue, the oldest dropped first. 0 keeps everything (moto's own behaviour).
RETENTION_SETTING = "OMNIHUB_LOCAL_QUEUE_RETENTION"
DEFAULT_RETENTION = 1000
# moto's functions that read Queue.attributes only for ContentBasedDeduplication
_DEDUPLICATION_READERS = frozenset({"_validate_message", "send_message", "add_message"})
_lock = threading.Lock()
_tuned = False


def tune_moto() -> None:
    """Make moto's SQS send path independent of queue depth (idempotent; process-wide)."""
    global _tuned
    with _lock:
        if _tuned:
            return
        from moto.sqs.models import Queue

        full: Callable[[Any], dict[str, Any]] = Queue.attributes.fget  # type: ignore[attr-defined]

        def attributes(queue: Any) -> dict[str, Any]:
            caller = sys._getframe(1).f_code  # the one reader to answer cheaply
            if caller.co_name in _DEDUPLICATION_READERS and caller.co_filename.endswith(("sqs/models.py",)):
                return {"ContentBasedDeduplication": str(bool(queue.content_based_deduplication)).lower()}
            return full(queue)

        Queue.attributes = property(attributes)  # type: ignore[method-assign,assignment]
        _tune_receive()
        tune_requests()
        _one_operation_at_a_time()
        tune_dynamodb()
        _tuned = True


def _tune_receive() -> None:
    """A receive checks each message it returns against the queue's retention period, which moto
    reads through ``get_queue_attributes``: every attribute, the O(depth) counts included, built
    twice per message returned. Named attributes are now built once per call, and the retention
    check reads the one attribute it needs."""
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    every_attribute: Callable[..., dict[str, Any]] = SQSBackend.get_queue_attributes

    def retained(backend: Any, queue_name: str, message: Any) -> bool:
        period = int(backend.get_queue(queue_name).message_retention_period)
        return bool(period + message.sent_timestamp / 1000 > unix_time())

    def get_queue_attributes(backend: Any, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
        queue = backend.get_queue(queue_name)
        valid = {"All", *queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES}
        if not attribute_names or "All" in attribute_names or any(name not in valid for name in attribute_names):
            return every_attribute(backend, queue_name, attribute_names)  # all, or moto's own error
        attributes = queue.attributes
        return {name: attributes[name] for name in attribute_names if attributes.get(name) is not None}

    SQSBackend.is_message_valid_based_on_retention_period = retained  # type: ignore[method-assign,assignment]
    SQSBackend.get_queue_attributes = get_queue_attributes  # type: ignore[method-assign,assignment]


def _one_operation_at_a_time() -> None:
    """moto's backends have no lock: an operation iterates the items or messages another thread may be
    changing. With the pump in the server's process (devstack.run), a Scan answered by the server
    thread while the pump wrote failed with "dictionary changed size during iteration" (a 500 to
    ``make load``'s ledger check, more often once the GIL switched every 0.5 ms). One lock makes
    every operation atomic against the others, in process and through the server alike, as AWS's
    are; reentrant, for an operation that calls another in the same thread."""
    from moto.core.responses import BaseResponse

    operate: Callable[..., Any] = BaseResponse._dispatch
    lock = threading.RLock()

    def _dispatch(response: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return operate(response, *args, **kwargs)

    BaseResponse._dispatch = _dispatch  # type: ignore[method-assign,assignment]


def retention(environ: dict[str, str] | None = None) -> int:
    raw = (environ if environ is not None else os.environ).get(RETENTION_SETTING, "")
    try:
        return max(0, int(raw)) if raw.strip() else DEFAULT_RETENTION
    except ValueError:
        return DEFAULT_RETENTION


def trim_unconsumed(queue_names: Iterable[str], keep: int) -> int:
    """Drop the oldest messages of these (in-process moto) queues beyond ``keep`` each; returns how many.

    Only for queues nothing consumes locally: a dropped message is one no local reader would take."""
    if keep <= 0:
        return 0
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    dropped = 0
    backend = sqs_backends[DEFAULT_ACCOUNT_ID][os.environ.get("AWS_DEFAULT_REGION", "us-east-1")]
    for name in queue_names:
        queue = backend.queues.get(name)
        if queue is None or len(queue._messages) <= keep:
            continue
        with queue._messages_lock:  # moto's own lock around its message list
            excess = len(queue._messages) - keep
            if excess > 0:
                del queue._messages[:excess]
                dropped += excess
    return dropped
