"""The stream relay: new inbox events → inbound.fifo, new outbound messages' jobs → outbound.fifo.

Reports partial batch failures: a record that fails is retried alone. Idempotent: the FIFO dedupe
id is derived from the inbox key (or is the outbound id). An inbound event's FIFO group and dedupe
id are keyed HMACs of the sender and the inbox key (chalicelib/core/ids.py), computed here rather
than stored on the inbox item: the webhook path reads no id key, and items written before keep
working as they are. Without the key an inbox record fails and is retried; outbound jobs still go.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord

from chalicelib.adapters.dynamo.stream import NewInboxEvent, NewOutboundJob, decode_stream_record
from chalicelib.adapters.id_keys import id_key
from chalicelib.adapters.observability import count
from chalicelib.adapters.resources import INBOUND_QUEUE, OUTBOUND_QUEUE, QueueSpec
from chalicelib.adapters.sqs import Outgoing, SqsBus
from chalicelib.api.envelopes import inbound_envelope
from chalicelib.core.ids import fifo_dedupe_id_for, fifo_group_for
from chalicelib.core.model import EventKind

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse

_RELAYED_KINDS = {EventKind.MESSAGE, EventKind.DELIVERY_STATUS, EventKind.LIFECYCLE, EventKind.CALL}


def relay_outgoing(record: dict[str, Any], key: Callable[[], bytes]) -> tuple[QueueSpec, Outgoing] | None:
    """Where one stream record goes; anything that is not a new event or a new job goes nowhere."""
    change = decode_stream_record(record)
    if isinstance(change, NewOutboundJob):
        job = json.loads(change.job_json)
        return OUTBOUND_QUEUE, Outgoing(job, group_id=job["conversation_id"], dedupe_id=job["outbound_id"])
    if isinstance(change, NewInboxEvent) and EventKind(change.kind) in _RELAYED_KINDS:
        secret = key()
        return INBOUND_QUEUE, Outgoing(
            body=inbound_envelope(change.inbox_key, change.kind),
            group_id=fifo_group_for(change.ordering_key, secret),
            dedupe_id=fifo_dedupe_id_for(change.inbox_key, secret),
        )
    return None


def relay_stream_batch(
    event: dict[str, Any], bus: SqsBus, context: Any = None, *, key: Callable[[], bytes] = id_key
) -> PartialItemFailureResponse:
    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)

    def relay_one(record: DynamoDBRecord) -> None:
        routed = relay_outgoing(record.raw_event, key)
        if routed is not None:
            queue, outgoing = routed
            bus.publish(queue, outgoing)
            count("Relayed", channel=None)

    return process_partial_response(event, relay_one, processor, context)
