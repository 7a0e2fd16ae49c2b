"""Event-source use cases: the inbox stream relay and the conversation worker.

Both report partial batch failures (Powertools batch processing): a record that fails is retried
alone, the rest of the batch is not redone. Both are idempotent: the relay's FIFO dedupe id is
the inbox key, and the worker's writes are conditional (see conversations.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib import resources
from chalicelib.bus import Outgoing, SqsBus
from chalicelib.conversations import ConversationStore, apply_status, is_threadable, resolve_customer, thread_message
from chalicelib.envelopes import inbound_envelope, routed_envelope
from chalicelib.errors import PermanentError
from chalicelib.model import EventKind
from chalicelib.observability import count, logger

_RELAYED_KINDS = {EventKind.MESSAGE, EventKind.DELIVERY_STATUS, EventKind.LIFECYCLE}
_WITHDRAWING_LIFECYCLE = {"unfollow", "unsubscribed", "blocked", "kicked"}
_GRANTING_LIFECYCLE = {"follow", "subscribed", "unblocked", "conversation_started"}


@dataclass(frozen=True, slots=True)
class WorkerPorts:
    store: ConversationStore
    bus: SqsBus


# ------------------------------------------------------------------ the relay (DynamoDB stream → inbound.fifo)
def relay_outgoing(record: dict[str, Any]) -> Outgoing | None:
    """The inbound.fifo message for one stream record, or None when the record is not a new inbox event."""
    if record.get("eventName") not in ("INSERT", "MODIFY"):
        return None
    image = record.get("dynamodb", {}).get("NewImage") or {}
    if image.get("sk", {}).get("S") != "INBOX" or "thread" in image:
        # MODIFY with a thread is the worker recording its decision, not a new event. A MODIFY
        # without one is an expired inbox item overwritten by a new delivery: relay it.
        return None
    kind = EventKind(image["kind"]["S"])
    if kind not in _RELAYED_KINDS:
        return None
    inbox_key = image["pk"]["S"].removeprefix("INBOX#")
    return Outgoing(
        body=inbound_envelope(inbox_key, kind.value),
        group_id=image["ordering_key"]["S"],
        dedupe_id=inbox_key,
    )


def relay_stream_batch(event: dict[str, Any], bus: SqsBus, context: Any = None) -> dict[str, Any]:
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

    def relay_one(record: DynamoDBRecord) -> None:
        outgoing = relay_outgoing(record.raw_event)
        if outgoing is not None:
            bus.publish(resources.INBOUND_QUEUE, outgoing)
            count("InboxRelayed")

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
            threaded = thread_message(ports.store, inbox_key, event, record.received_at)
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
            return "routed"
        if event.kind is EventKind.DELIVERY_STATUS:
            return "status_applied" if apply_status(ports.store, event) else "status_ignored"
        if event.kind is EventKind.LIFECYCLE and event.sender is not None:
            lifecycle = event.metadata.get("lifecycle", "")
            state = "withdrawn" if lifecycle in _WITHDRAWING_LIFECYCLE else None
            state = "granted" if lifecycle in _GRANTING_LIFECYCLE else state
            if state:
                customer_id = resolve_customer(ports.store, event.sender, record.received_at)
                ports.store.set_consent(customer_id, event.channel, state, event.occurred_at)
                return f"consent_{state}"
        return "ignored"
    finally:
        logger.remove_keys(["inbox_key", "conversation_id"])


def handle_inbound_batch(event: dict[str, Any], ports: WorkerPorts, context: Any = None) -> dict[str, Any]:
    # FIFO: when one message of a group fails, its later messages in the batch are not processed
    # (they are reported failed too), so per-sender order holds; other groups carry on.
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)

    def handle_one(record: SQSRecord) -> None:
        handle_inbound_envelope(json.loads(record.body), ports)

    return process_partial_response(event, handle_one, processor, context)
