"""The conversation worker's handler (inbound.fifo): FIFO with partial batch failures."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.conversations.inbound import WorkerPorts, handle_inbound_event

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse


def handle_inbound_batch(
    event: dict[str, Any], ports: WorkerPorts, context: Any = None
) -> PartialItemFailureResponse:
    # FIFO: when one message of a group fails, its later messages in the batch are not processed
    # (they are reported failed too), so per-sender order holds; other groups carry on.
    processor = SqsFifoPartialProcessor(skip_group_on_error=True)

    def handle_one(record: SQSRecord) -> None:
        handle_inbound_event(json.loads(record.body)["inbox_key"], ports)

    return process_partial_response(event, handle_one, processor, context)
