"""Event-source use cases: the inbox stream relay and the conversation worker.

Both report partial batch failures (Powertools batch processing): a record that fails is retried
alone, the rest of the batch is not redone. Both are idempotent: the relay's FIFO dedupe id is
the inbox key, and the worker's writes are conditional (see conversations.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.acknowledgments import Policy
from chalicelib.acknowledgments.flow import acknowledgment_job, acknowledgment_message, decide_for_threaded
from chalicelib.adapters import resources
from chalicelib.adapters.dynamo.store import DynamoStore
from chalicelib.adapters.observability import count, logger
from chalicelib.adapters.sqs import Outgoing, SqsBus
from chalicelib.api.envelopes import inbound_envelope, routed_envelope
from chalicelib.conversations.threading import Threaded, apply_status, is_threadable, resolve_customer, thread_message
from chalicelib.core.consent import lifecycle_consent
from chalicelib.core.errors import PermanentError
from chalicelib.core.model import DeliveryStatus, EventKind
from chalicelib.outbound.delivery import (
    OutboundPorts,
    deliver_outbound_job,
    enqueue_outbound,
    relay_job,
    retry_delay_seconds,
)
from chalicelib.outbound.errors import TransientSendError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

_RELAYED_KINDS = {EventKind.MESSAGE, EventKind.DELIVERY_STATUS, EventKind.LIFECYCLE}


@dataclass(frozen=True, slots=True)
class WorkerPorts:
    store: DynamoStore
    bus: SqsBus
    environ: Mapping[str, str] = field(default_factory=dict)  # configuration (providers, templates)
    ack_policy: Policy | None = None  # None: acknowledgments off (tests of the spine alone)


# ------------------------------------------------------------------ the relay (DynamoDB stream → inbound.fifo)
def relay_outgoing(record: dict[str, Any]) -> tuple[resources.QueueSpec, Outgoing] | None:
    """Where one stream record goes: a new inbox event → inbound.fifo, a new outbound message with
    its job → outbound.fifo; anything else → nowhere."""
    if record.get("eventName") not in ("INSERT", "MODIFY"):
        return None
    image = record.get("dynamodb", {}).get("NewImage") or {}
    sort_key = image.get("sk", {}).get("S", "")
    if sort_key.startswith("MSG#") and "job" in image and record.get("eventName") == "INSERT":
        return resources.OUTBOUND_QUEUE, relay_job(image["job"]["S"])
    if sort_key != "INBOX" or "thread" in image:
        # MODIFY with a thread is the worker recording its decision, not a new event. A MODIFY
        # without one is an expired inbox item overwritten by a new delivery: relay it.
        return None
    kind = EventKind(image["kind"]["S"])
    if kind not in _RELAYED_KINDS:
        return None
    inbox_key = image["pk"]["S"].removeprefix("INBOX#")
    return resources.INBOUND_QUEUE, Outgoing(
        body=inbound_envelope(inbox_key, kind.value),
        group_id=image["ordering_key"]["S"],
        dedupe_id=inbox_key,
    )


def relay_stream_batch(event: dict[str, Any], bus: SqsBus, context: Any = None) -> PartialItemFailureResponse:
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

    def relay_one(record: DynamoDBRecord) -> None:
        routed = relay_outgoing(record.raw_event)
        if routed is not None:
            queue, outgoing = routed
            bus.publish(queue, outgoing)
            count("Relayed", channel=None)

    return process_partial_response(event, relay_one, processor, context)


# ------------------------------------------------------------------ the conversation worker (inbound.fifo)
def handle_inbound_envelope(body: dict[str, Any], ports: WorkerPorts) -> str:
    """Handle one relayed inbox event; returns what was done (for logs and tests)."""
    inbox_key = body["inbox_key"]
    record = ports.store.get_inbox(inbox_key)
    if record is None:
        raise PermanentError(f"inbox item {inbox_key} not found")
    event = record.event
    logger.append_keys(inbox_key=inbox_key)
    try:
        if is_threadable(event):
            threaded = thread_message(ports.store, record)
            logger.append_keys(conversation_id=threaded.conversation.id)
            envelope = routed_envelope(
                threaded.conversation, threaded.customer, threaded.message, opened=threaded.opened
            )
            ports.bus.publish(
                resources.route_queue_spec(threaded.conversation.route),
                Outgoing(envelope, group_id=threaded.conversation.id, dedupe_id=threaded.message.id),
            )
            count("MessagesRouted", channel=event.channel.value)
            logger.info("message threaded and routed", extra={"opened": threaded.opened})
            acknowledged = acknowledge_threaded(threaded, record.acknowledgment, ports)
            return f"routed+{acknowledged}"
        if event.kind is EventKind.DELIVERY_STATUS:
            return "status_applied" if apply_status(ports.store, event) else "status_ignored"
        if event.kind is EventKind.LIFECYCLE and event.sender is not None:
            state = lifecycle_consent(event.metadata.get("lifecycle"))
            if state:
                customer_id = resolve_customer(ports.store, event.sender, record.received_at)
                ports.store.set_consent(customer_id, event.channel, state, event.occurred_at)
                return f"consent_{state}"
        return "ignored"
    finally:
        logger.remove_keys(["inbox_key", "conversation_id"])


def acknowledge_threaded(threaded: Threaded, carried: dict[str, Any] | None, ports: WorkerPorts) -> str:
    """Store the acknowledgment the webhook response carried, or decide one and queue it."""
    if carried:
        message = acknowledgment_message(
            threaded, carried["text"], status=DeliveryStatus.SENT, provider=threaded.event.provider
        )
        ports.store.put_message(message, extra={"kind": "acknowledgment", "delivered_in": "webhook_response"})
        return "acknowledged_in_response"
    if ports.ack_policy is None:
        return "not_acknowledged"
    decision = decide_for_threaded(threaded, ports.ack_policy)
    logger.info("acknowledgment decision", extra={"send": decision.send, "reason": str(decision.reason)})
    if not decision.send or not decision.text:
        return f"not_acknowledged:{decision.reason}"
    job = acknowledgment_job(threaded, decision, ports.environ)
    if job is None:
        # No sender serves this channel (web chat): the widget reads the acknowledgment from the
        # conversation, where it is stored like any outbound message.
        message = acknowledgment_message(threaded, decision.text, status=DeliveryStatus.SENT, provider=None)
        ports.store.put_message(message, extra={"kind": "acknowledgment", "delivered_in": "conversation"})
        return "acknowledged_in_conversation"
    enqueue_outbound(ports.store, job)
    count("AcknowledgmentsQueued", channel=job.channel.value)
    return "acknowledgment_queued"


def handle_inbound_batch(
    event: dict[str, Any], ports: WorkerPorts, context: Any = None
) -> PartialItemFailureResponse:
    # FIFO: when one message of a group fails, its later messages in the batch are not processed
    # (they are reported failed too), so per-sender order holds; other groups carry on.
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)

    def handle_one(record: SQSRecord) -> None:
        handle_inbound_envelope(json.loads(record.body), ports)

    return process_partial_response(event, handle_one, processor, context)


# ------------------------------------------------------------------ the outbound worker (outbound.fifo)
def handle_outbound_batch(
    event: dict[str, Any], ports: OutboundPorts, bus: SqsBus, context: Any = None
) -> PartialItemFailureResponse:
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)
    delayed: set[str] = set()

    def deliver_one(record: SQSRecord) -> None:
        try:
            outcome = deliver_outbound_job(json.loads(record.body), ports)
        except TransientSendError as err:
            delay = retry_delay_seconds(_receive_count(record.raw_event), err.retry_after)
            if bus.delay_retry(resources.OUTBOUND_QUEUE, record.receipt_handle, delay):
                delayed.add(record.message_id)
            logger.warning("outbound delivery will be retried", extra={"delay_seconds": delay, "reason": err.reason})
            count("OutboundRetried")
            raise
        count(f"Outbound{outcome.state.value.capitalize()}", channel=outcome.job.channel.value)
        logger.info(
            "outbound delivery",
            extra={"outbound_id": outcome.outbound_id, "state": outcome.state.value, "error_code": outcome.error_code},
        )

    try:
        response = process_partial_response(event, deliver_one, processor, context)
    finally:
        # The records skipped behind a failure in their conversation come back with the same backoff,
        # not after the queue's full visibility timeout.
        _delay_skipped(event, delayed, bus)
    return response


def _receive_count(raw_record: dict[str, Any]) -> int:
    return int(raw_record.get("attributes", {}).get("ApproximateReceiveCount") or 1)


def _delay_skipped(event: dict[str, Any], delayed: set[str], bus: SqsBus) -> None:
    failed_groups = {
        r.get("attributes", {}).get("MessageGroupId") for r in event.get("Records", []) if r["messageId"] in delayed
    }
    for raw in event.get("Records", []):
        group = raw.get("attributes", {}).get("MessageGroupId")
        if raw["messageId"] not in delayed and group in failed_groups:
            delay = retry_delay_seconds(_receive_count(raw), None)
            bus.delay_retry(resources.OUTBOUND_QUEUE, raw["receiptHandle"], delay)
