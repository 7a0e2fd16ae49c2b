"""The one definition of every AWS resource: used by the local stack, the tests and infra/.

Names carry the stage (``omnihub-{stage}-...``) so dev, prod and local never collide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from chalicelib.core import bucket_layout

if TYPE_CHECKING:
    from chalicelib.routing.config import RoutingConfig


@dataclass(frozen=True, slots=True)
class GlobalIndex:
    name: str
    partition_key: str
    sort_key: str
    projection: str = "ALL"  # or "KEYS_ONLY": the table's keys and the index's


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
class Retention:
    """How long each kind of data is kept, in days: the one setting, enforced by DynamoDB TTL (the
    items' ``expires_at``) and by the payload bucket's lifecycle rules (one per prefix, below).
    Customers and conversations are kept until erased (DELETE /customers/{id})."""

    # Inbox items (the raw payload, the normalized event and the dedupe record: a provider retry older than
    # this is taken as new) and the objects under raw/ and inbound-mail/. Overridable per deployment with
    # OMNIHUB_INBOX_RETENTION_DAYS for the items; the bucket's rules follow this value.
    raw_payload_days: int = 30
    message_days: int = 730  # message items (inbound and outbound; TTL counted from when each was stored)
    attachment_days: int = 730  # kept email attachments (attachments/), as long as the messages naming them
    report_days: int = 400  # the weekly KPI reports (reports/: counts, no personal data)


RETENTION = Retention()


@dataclass(frozen=True, slots=True)
class ExpiryRule:
    """One S3 lifecycle rule: objects under ``prefix`` expire ``days`` after they were written."""

    rule_id: str
    prefix: str
    days: int


@dataclass(frozen=True, slots=True)
class BucketSpec:
    logical_name: str

    @property
    def expiry_rules(self) -> tuple[ExpiryRule, ...]:
        """Per prefix, never the whole bucket: a raw payload's 30 days must not take an attachment along."""
        return (
            ExpiryRule("expire-raw-payloads", bucket_layout.RAW_PAYLOAD_PREFIX, RETENTION.raw_payload_days),
            ExpiryRule("expire-mail-objects", bucket_layout.MAIL_OBJECTS_PREFIX, RETENTION.raw_payload_days),
            ExpiryRule("expire-attachments", bucket_layout.ATTACHMENTS_PREFIX, RETENTION.attachment_days),
            ExpiryRule("expire-reports", bucket_layout.REPORTS_PREFIX, RETENTION.report_days),
        )


TABLE = TableSpec(
    logical_name="main",
    indexes=(
        # Conversations by status (and route, filtered), newest activity first.
        GlobalIndex(name="gsi1", partition_key="gsi1pk", sort_key="gsi1sk"),
        # Sparse: only conversations with an SLA level still to fall due, earliest first (the sweeper's query).
        GlobalIndex(name="gsi_sla", partition_key="sla_pk", sort_key="sla_sk"),
        # Every customer profile, oldest first: the crisis broadcast planner pages its audience here.
        GlobalIndex(name="gsi_customers", partition_key="cust_pk", sort_key="cust_sk"),
        # Sparse, keys only: the inbox items of one FIFO ordering key (a sender's identity, a provider message
        # id, a call), so an erasure finds every raw payload of a customer (statuses, edits) without a scan.
        GlobalIndex(name="gsi_sender", partition_key="sender_pk", sort_key="sender_sk", projection="KEYS_ONLY"),
    ),
)

INBOUND_QUEUE = QueueSpec("inbound", consumer="handle_inbound")
ROUTE_DEFAULT_QUEUE = QueueSpec("route-default")  # consumed by support tools, not by the hub
# A provider outage is ridden out with backoff (5 s doubling to 5 min): 12 receives ≈ 40 minutes.
OUTBOUND_QUEUE = QueueSpec("outbound", consumer="handle_outbound", consumer_timeout_seconds=60, max_receive_count=12)
ESCALATION_QUEUE = QueueSpec("escalation")
# Mail written to the payload bucket by a mail service (Amazon SES's receipt rule, S3 action): the bucket
# notifies this queue of every object under MAIL_OBJECTS_PREFIX (a standard queue: S3 cannot notify a
# FIFO one; the Message-ID dedupes), and receive_mail_objects reads each mail (chalicelib/ingest/mail_objects.py).
MAIL_OBJECTS_QUEUE = QueueSpec("mail-objects", fifo=False, consumer="receive_mail_objects")
MAIL_OBJECTS_PREFIX = bucket_layout.MAIL_OBJECTS_PREFIX
# Lifecycle events (omnihub.event.v1) for integrators: group = conversation id (customer id for
# customer_updated); consumed outside the hub.
CONVERSATION_EVENTS_QUEUE = QueueSpec("conversation-events")
REPORTS_QUEUE = QueueSpec("reports")  # omnihub.report.v1, the weekly KPI report (consumed by integrators)

# Crisis broadcasts: planner jobs and one message per recipient (a standard queue: no FIFO throughput
# limit; the recipient records make each delivery exactly once whatever SQS redelivers).
BROADCAST_QUEUE = QueueSpec("broadcast", fifo=False, consumer="handle_broadcast", consumer_timeout_seconds=60)

QUEUES: tuple[QueueSpec, ...] = (
    INBOUND_QUEUE, ROUTE_DEFAULT_QUEUE, OUTBOUND_QUEUE, ESCALATION_QUEUE, CONVERSATION_EVENTS_QUEUE,
    MAIL_OBJECTS_QUEUE, BROADCAST_QUEUE, REPORTS_QUEUE,
)

PAYLOAD_BUCKET = BucketSpec("payloads")

# The stream relay and the scheduled sweeper, as app.py names them.
STREAM_CONSUMER = "relay_inbox_stream"
SCHEDULE_HANDLERS: tuple[tuple[str, int], ...] = (("sweep_sla", 60),)

# Amazon Connect (telephony): the function a contact flow invokes, and the EventBridge rule's consumer.
CONTACT_FLOW_FUNCTION = "connect_contact_flow"
CONTACT_EVENTS_CONSUMER = "connect_contact_events"
CONTACT_EVENT_PATTERN: dict[str, list[str]] = {"source": ["aws.connect"],
                                              "detail-type": ["Amazon Connect Contact Event"]}
CONNECT_PRINCIPAL = "connect.amazonaws.com"


def table_name(stage: str) -> str:
    return f"omnihub-{stage}-{TABLE.logical_name}"


def queue_name(stage: str, spec: QueueSpec) -> str:
    return f"omnihub-{stage}-{spec.logical_name}" + (".fifo" if spec.fifo else "")


def dlq_name(stage: str, spec: QueueSpec) -> str:
    return f"omnihub-{stage}-{spec.logical_name}-dlq" + (".fifo" if spec.fifo else "")


def bucket_name(stage: str, account_suffix: str = "") -> str:
    suffix = f"-{account_suffix}" if account_suffix else ""
    return f"omnihub-{stage}-{PAYLOAD_BUCKET.logical_name}{suffix}"


def route_queue_specs(config: RoutingConfig | None = None) -> tuple[QueueSpec, ...]:
    """One queue per configured route (``route-{route}``; ``route-default`` keeps its name), from
    ``config`` or the routing configuration in force (``$OMNIHUB_ROUTING_CONFIG`` honoured).

    Consumed by support tools, not by the hub. Provisioning, the tests and infra/ all ask here."""
    if config is None:
        from chalicelib.routing.config import load_routing_config  # lazy: the API's cold start skips it

        config = load_routing_config()
    return tuple(ROUTE_DEFAULT_QUEUE if name == "default" else QueueSpec(f"route-{name}") for name in config.routes)


def all_queues(config: RoutingConfig | None = None) -> tuple[QueueSpec, ...]:
    """Every queue to provision: the hub's own (:data:`QUEUES`) and one per configured route."""
    fixed = {spec.logical_name for spec in QUEUES}
    return (*QUEUES, *(spec for spec in route_queue_specs(config) if spec.logical_name not in fixed))


def route_queue_spec(route: str, config: RoutingConfig | None = None) -> QueueSpec:
    """The queue routed envelopes of ``route`` go to; KeyError for a route the configuration lacks
    (``default`` always exists: conversations routed before a configuration change keep a queue)."""
    for spec in route_queue_specs(config):
        if spec.logical_name == f"route-{route}":
            return spec
    if route == "default":
        return ROUTE_DEFAULT_QUEUE
    raise KeyError(f"unknown route {route!r}")
