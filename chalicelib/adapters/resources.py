"""The one definition of every AWS resource: used by the local stack, the tests and infra/.

Names carry the stage (``omnihub-{stage}-...``) so dev, prod and local never collide.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GlobalIndex:
    name: str
    partition_key: str
    sort_key: str


@dataclass(frozen=True, slots=True)
class TableSpec:
    logical_name: str
    partition_key: str = "pk"
    sort_key: str = "sk"
    indexes: tuple[GlobalIndex, ...] = ()
    ttl_attribute: str = "expires_at"
    stream_view: str = "NEW_IMAGE"  # the inbox stream is the outbox: only new items matter


@dataclass(frozen=True, slots=True)
class QueueSpec:
    logical_name: str  # e.g. "inbound" → omnihub-dev-inbound.fifo
    fifo: bool = True
    consumer_timeout_seconds: int = 30  # the consuming Lambda's timeout
    max_receive_count: int = 5  # then the DLQ
    retention_seconds: int = 4 * 24 * 3600
    dlq_retention_seconds: int = 14 * 24 * 3600
    consumer: str | None = None  # the app.py handler that consumes it, if any
    batch_size: int = 10

    @property
    def visibility_timeout_seconds(self) -> int:
        # AWS guidance for Lambda event sources: at least 6 × the function timeout.
        return 6 * self.consumer_timeout_seconds


@dataclass(frozen=True, slots=True)
class BucketSpec:
    logical_name: str
    raw_payload_days: int = 90


TABLE = TableSpec(
    logical_name="main",
    indexes=(
        # Conversations by status (and route, filtered), newest activity first.
        GlobalIndex(name="gsi1", partition_key="gsi1pk", sort_key="gsi1sk"),
    ),
)

INBOUND_QUEUE = QueueSpec("inbound", consumer="handle_inbound")
ROUTE_DEFAULT_QUEUE = QueueSpec("route-default")  # consumed by support tools, not by the hub
# A provider outage is ridden out with backoff (5 s doubling to 5 min): 12 receives ≈ 40 minutes.
OUTBOUND_QUEUE = QueueSpec("outbound", consumer="handle_outbound", consumer_timeout_seconds=60, max_receive_count=12)
ESCALATION_QUEUE = QueueSpec("escalation")

QUEUES: tuple[QueueSpec, ...] = (INBOUND_QUEUE, ROUTE_DEFAULT_QUEUE, OUTBOUND_QUEUE, ESCALATION_QUEUE)

PAYLOAD_BUCKET = BucketSpec("payloads")

# The stream relay and the scheduled sweeper, as app.py names them.
STREAM_CONSUMER = "relay_inbox_stream"
SCHEDULE_HANDLERS: tuple[tuple[str, int], ...] = (("sweep_sla", 60),)


def table_name(stage: str) -> str:
    return f"omnihub-{stage}-{TABLE.logical_name}"


def queue_name(stage: str, spec: QueueSpec) -> str:
    return f"omnihub-{stage}-{spec.logical_name}" + (".fifo" if spec.fifo else "")


def dlq_name(stage: str, spec: QueueSpec) -> str:
    return f"omnihub-{stage}-{spec.logical_name}-dlq" + (".fifo" if spec.fifo else "")


def bucket_name(stage: str, account_suffix: str = "") -> str:
    suffix = f"-{account_suffix}" if account_suffix else ""
    return f"omnihub-{stage}-{PAYLOAD_BUCKET.logical_name}{suffix}"


def route_queue_spec(route: str) -> QueueSpec:
    """Routed envelopes go to one queue per route; only ``default`` exists until routing grows."""
    if route != "default":
        raise KeyError(f"unknown route {route!r}")
    return ROUTE_DEFAULT_QUEUE
