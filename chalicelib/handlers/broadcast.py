"""The broadcast queue's handler: planner jobs and one recipient per message (a standard queue).

The incident is read once per batch, so a cancellation stops every worker within one batch.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from chalicelib.adapters.observability import count, logger
from chalicelib.adapters.resources import BROADCAST_QUEUE
from chalicelib.core.errors import PermanentError
from chalicelib.core.incident import Incident, IncidentUpdate
from chalicelib.crisis.delivery import Deferred, RecipientJob, deliver_to_recipient
from chalicelib.crisis.planner import plan_update
from chalicelib.crisis.ports import CrisisPorts

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse


def handle_broadcast_batch(
    event: dict[str, Any], ports: CrisisPorts, bus: Any, context: Any = None
) -> PartialItemFailureResponse:
    processor = BatchProcessor(event_type=EventType.SQS)
    read: dict[tuple[str, str], tuple[Incident, IncidentUpdate] | None] = {}

    def time_left() -> float:
        return float(context.get_remaining_time_in_millis()) / 1000 if context is not None else 60.0

    def one(record: SQSRecord) -> None:
        outcome = handle_broadcast_message(json.loads(record.body), ports, read, time_left)
        count(f"Broadcast{outcome.partition(':')[0].capitalize()}")

    def guarded(record: SQSRecord) -> None:
        try:
            one(record)
        except Deferred as err:
            bus.delay_retry(BROADCAST_QUEUE, record.receipt_handle, max(1, int(err.seconds) + 1))
            raise
        except PermanentError as err:
            logger.warning("broadcast message dropped", extra={"reason": err.reason})

    return process_partial_response(event, guarded, processor, context)


def handle_broadcast_message(
    body: Any,
    ports: CrisisPorts,
    read: dict[tuple[str, str], tuple[Incident, IncidentUpdate] | None] | None = None,
    time_left: Any = None,
) -> str:
    """One message of the broadcast queue; ``read`` caches the incident per batch."""
    if not isinstance(body, dict) or body.get("type") not in ("plan", "recipient"):
        raise PermanentError("not a broadcast message")
    if body["type"] == "plan":
        job = RecipientJob.from_body({**body, "customer_id": "-", "channel": "-"})
        state = plan_update(ports, job.incident_id, job.update_id, time_left=time_left)
        return f"planned:{state.phase}"
    job = RecipientJob.from_body(body)
    cache = read if read is not None else {}
    key = (job.incident_id, job.update_id)
    if key not in cache:
        incident = ports.store.get_incident(job.incident_id)
        update = ports.store.get_update(job.incident_id, job.update_id)
        cache[key] = (incident, update) if incident is not None and update is not None else None
    found = cache[key]
    if found is None:
        return "unknown_update"
    return deliver_to_recipient(ports, job, *found)
