"""The outbound worker's handler (outbound.fifo): delivery with backoff through the queue's visibility."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.adapters.observability import count, logger
from chalicelib.adapters.resources import OUTBOUND_QUEUE
from chalicelib.adapters.sqs import SqsBus
from chalicelib.outbound.delivery import OutboundPorts, deliver_outbound_job, retry_delay_seconds
from chalicelib.outbound.errors import TransientSendError

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse


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
            if bus.delay_retry(OUTBOUND_QUEUE, record.receipt_handle, delay):
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
            bus.delay_retry(OUTBOUND_QUEUE, raw["receiptHandle"], delay)
