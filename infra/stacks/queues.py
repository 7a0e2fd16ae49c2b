"""Every SQS queue of chalicelib/adapters/resources.py with its DLQ, plus the infra-only failure queues."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib.adapters import resources
from chalicelib.adapters.resources import QueueSpec
from infra.stacks.settings import DeploySettings

# Where failures of the two non-SQS triggers land. Standard queues: a DynamoDB stream's
# on-failure destination and EventBridge/Lambda async DLQs do not accept FIFO queues.
RELAY_FAILURES = QueueSpec("relay-failures", fifo=False, retention_seconds=14 * 24 * 3600)
SWEEP_FAILURES = QueueSpec("sweep-failures", fifo=False, retention_seconds=14 * 24 * 3600)
# Amazon Connect contact events EventBridge could not deliver (or the function failed on every retry).
CONTACT_EVENT_FAILURES = QueueSpec("contact-event-failures", fifo=False, retention_seconds=14 * 24 * 3600)


@dataclass(frozen=True, slots=True)
class QueuePair:
    spec: QueueSpec
    queue: sqs.Queue
    dlq: sqs.Queue


def _queue_id(spec: QueueSpec) -> str:
    return "".join(part.capitalize() for part in spec.logical_name.split("-"))


def build_queue(scope: Construct, settings: DeploySettings, spec: QueueSpec) -> QueuePair:
    name = _queue_id(spec)
    dlq = sqs.Queue(
        scope,
        f"{name}Dlq",
        queue_name=resources.dlq_name(settings.stage, spec),
        fifo=spec.fifo or None,
        retention_period=Duration.seconds(spec.dlq_retention_seconds),
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
    )
    queue = sqs.Queue(
        scope,
        f"{name}Queue",
        queue_name=resources.queue_name(settings.stage, spec),
        fifo=spec.fifo or None,
        content_based_deduplication=False if spec.fifo else None,
        retention_period=Duration.seconds(spec.retention_seconds),
        visibility_timeout=Duration.seconds(spec.visibility_timeout_seconds),
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=spec.max_receive_count),
    )
    return QueuePair(spec=spec, queue=queue, dlq=dlq)


def build_failure_queue(scope: Construct, settings: DeploySettings, spec: QueueSpec) -> sqs.Queue:
    """A terminal queue (itself a DLQ): nothing consumes it automatically, an alarm watches it."""
    return sqs.Queue(
        scope,
        f"{_queue_id(spec)}Queue",
        queue_name=resources.queue_name(settings.stage, spec),
        retention_period=Duration.seconds(spec.retention_seconds),
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
    )


def build_queues(scope: Construct, settings: DeploySettings) -> dict[str, QueuePair]:
    return {spec.logical_name: build_queue(scope, settings, spec) for spec in resources.all_queues()}
