"""The conversation worker's use case: one relayed inbox event, handled once whatever the retries.

A message is threaded, routed to its route's queue and acknowledged; a delivery status moves an
outbound message forward; a lifecycle event (follow, block, ...) records consent.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from chalicelib.acknowledgments import Policy
from chalicelib.acknowledgments.flow import acknowledge_threaded
from chalicelib.adapters.observability import count, logger
from chalicelib.adapters.sqs import SqsBus
from chalicelib.conversations.identities import resolve_customer
from chalicelib.conversations.routing import route_threaded
from chalicelib.conversations.threading import is_threadable, thread_message
from chalicelib.core.consent import lifecycle_consent
from chalicelib.core.errors import PermanentError, RetryableError
from chalicelib.core.ids import event_reference
from chalicelib.core.model import EventKind, InboundEvent
from chalicelib.core.ports import Repositories
from chalicelib.core.records import InboxRecord
from chalicelib.feedback.answering import take_feedback
from chalicelib.feedback.config import FeedbackConfig, load_feedback_config
from chalicelib.reports.events import count_acknowledgment, count_escalation, count_inbound
from chalicelib.routing import RoutingConfig, load_routing_config


def _no_id_key() -> bytes:
    raise IdKeyMissing("no id key was given to the worker")


class IdKeyMissing(RetryableError):
    """The worker was wired without the deployment's id key: retry once it is (never an unkeyed id)."""


@dataclass(frozen=True, slots=True)
class WorkerPorts:
    repos: Repositories
    bus: SqsBus
    environ: Mapping[str, str] = field(default_factory=dict)  # configuration (providers, templates)
    ack_policy: Policy | None = None  # None: acknowledgments off (tests of the spine alone)
    routing: RoutingConfig | None = None  # None: the configuration in force ($OMNIHUB_ROUTING_CONFIG)
    # The deployment's id key (new customers' ids); read only when a customer is created.
    id_key: Callable[[], bytes] = field(default=_no_id_key)
    feedback: FeedbackConfig | None = None  # None: the configuration in force ($OMNIHUB_FEEDBACK_CONFIG)


def handle_inbound_event(inbox_key: str, ports: WorkerPorts) -> str:
    """Handle one relayed inbox event; returns what was done (for logs and tests)."""
    record = ports.repos.inbox.get(inbox_key)
    if record is None:
        raise PermanentError(f"inbox item {event_reference(inbox_key)} not found")
    event = record.event
    logger.append_keys(event_ref=event_reference(inbox_key))
    try:
        if is_threadable(event):
            return _thread_route_acknowledge(record, ports)
        if event.kind is EventKind.DELIVERY_STATUS:
            return "status_applied" if apply_status(ports.repos, event) else "status_ignored"
        if event.kind is EventKind.LIFECYCLE and event.sender is not None:
            return _apply_lifecycle(record, ports.repos, ports.id_key)
        return "ignored"
    finally:
        logger.remove_keys(["event_ref", "conversation_id"])


def _thread_route_acknowledge(record: InboxRecord, ports: WorkerPorts) -> str:
    taken = take_feedback(ports.repos, record, ports.feedback or load_feedback_config(), ports.environ)
    if taken is not None:  # a survey's answer or comment: stored on the resolved conversation, not threaded
        return f"feedback_{taken.outcome}"
    threaded = thread_message(ports.repos, record, id_key=ports.id_key)
    logger.append_keys(conversation_id=threaded.conversation.id)
    routed = route_threaded(threaded, ports.repos.conversations, ports.bus, ports.routing or load_routing_config())
    threaded = replace(threaded, conversation=routed.conversation)
    count("MessagesRouted", channel=record.event.channel.value)
    logger.info("message threaded and routed", extra={"opened": threaded.opened, "route": routed.conversation.route})
    acknowledged = acknowledge_threaded(
        threaded, record.acknowledgment, messages=ports.repos.messages, policy=ports.ack_policy, environ=ports.environ
    )
    count_inbound(ports.repos, record.inbox_key, threaded.conversation, record.received_at, opened=threaded.opened)
    if routed.escalated:  # a rule's immediate escalation or a repeat contact
        count_escalation(ports.repos, f"routing#{record.inbox_key}", routed.conversation, record.received_at)
    count_acknowledgment(ports.repos, record.inbox_key, threaded.conversation, record.received_at, acknowledged)
    return f"routed+{acknowledged}"


def apply_status(repos: Repositories, event: InboundEvent) -> bool:
    """A provider's delivery status on one of our messages; monotonic, unknown ids ignored."""
    assert event.status is not None and event.provider_message_id is not None
    applied = repos.messages.apply_delivery_status(
        event.provider, event.provider_message_id, event.status, event.error_code
    )
    logger.info(
        "delivery status",
        extra={"event_ref": event_reference(event.inbox_key), "status": event.status.value, "applied": applied},
    )
    return applied


def _apply_lifecycle(record: InboxRecord, repos: Repositories, id_key: Callable[[], bytes]) -> str:
    event = record.event
    assert event.sender is not None
    state = lifecycle_consent(event.metadata.get("lifecycle"))
    if not state:
        return "ignored"
    customer_id = resolve_customer(repos.customers, event.sender, record.received_at, key=id_key)
    repos.customers.set_consent(customer_id, event.channel, state, event.occurred_at)
    return f"consent_{state}"
