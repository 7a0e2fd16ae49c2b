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
from chalicelib.conversations.identities import read_sender, resolve_customer
from chalicelib.conversations.lifecycle import reopened_by_message_id
from chalicelib.conversations.routing import route_threaded
from chalicelib.conversations.signals import apply_read_covering_earlier, apply_signal, note_thread_owner
from chalicelib.conversations.threading import is_threadable, thread_message
from chalicelib.core.consent import feedback_consent, lifecycle_consent
from chalicelib.core.errors import PermanentError, RetryableError
from chalicelib.core.ids import event_reference
from chalicelib.core.model import Channel, EventKind, Identity, InboundEvent
from chalicelib.core.ports import (
    CrisisStore,
    MentionLookup,
    PayloadArchive,
    Repositories,
    SubscriptionConfirmer,
    TranscriptFetcher,
)
from chalicelib.core.records import InboxRecord
from chalicelib.core.timestamps import utc_now
from chalicelib.crisis.surge import surge_for
from chalicelib.feedback.answering import take_feedback
from chalicelib.feedback.config import FeedbackConfig, load_feedback_config
from chalicelib.providers.meta.mentions import mention_query, mentioned_message, needs_lookup
from chalicelib.reports.events import count_escalation, count_inbound, count_reopened_by_customer
from chalicelib.routing import RoutingConfig, load_routing_config

SNS_CONFIRMATION = "sns_subscription_confirmation"  # the lifecycle the SES endpoint gives a SubscriptionConfirmation


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
    # Where a mail object an SES S3-action notification names is read from (None: such notifications are kept only).
    mail_objects: PayloadArchive | None = None
    bucket_name: str = ""
    # Crisis incidents (crisis/surge.py): None, no surge handling (tests of the spine alone).
    crisis: CrisisStore | None = None
    crisis_fallback_language: str = "en"
    # Reads what an Instagram mention only names (Graph API); None: mentions stay unknown events.
    mentions: MentionLookup | None = None
    feedback: FeedbackConfig | None = None  # None: the configuration in force ($OMNIHUB_FEEDBACK_CONFIG)
    # Visits an SNS SubscriptionConfirmation's SubscribeURL (None: such events are kept only).
    subscriptions: SubscriptionConfirmer | None = None
    # Reads a voicemail's transcript a call callback only links to; None: such calls keep "no transcription".
    transcripts: TranscriptFetcher | None = None


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
            applied = apply_status(ports.repos, event)
            covered = apply_read_covering_earlier(event, ports.repos)  # X: a read DM reads the earlier ones
            return "status_applied" if applied or covered else "status_ignored"
        if event.kind is EventKind.CALL:
            from chalicelib.conversations.call_messages import fold_call_callback

            return fold_call_callback(record, ports.repos, id_key=ports.id_key, bus=ports.bus,
                                      routing=lambda: ports.routing or load_routing_config(),
                                      transcripts=ports.transcripts)
        if needs_lookup(event):
            return _look_up_mention(record, ports)
        if event.kind is EventKind.LIFECYCLE and _names_mail_object(event):
            return _read_mail_object(event, ports)
        if event.kind is EventKind.LIFECYCLE and event.metadata.get("lifecycle") == SNS_CONFIRMATION:
            return _confirm_subscription(record, ports)
        signal = apply_signal(event, ports.repos) if event.kind is EventKind.LIFECYCLE else None
        if signal is not None:  # a watermark, an edit or unsend, thread control
            return signal
        if event.kind is EventKind.LIFECYCLE and event.sender is not None:
            return _apply_lifecycle(record, ports.repos, ports.id_key)
        return "ignored"
    finally:
        logger.remove_keys(["event_ref", "conversation_id"])


def _thread_route_acknowledge(record: InboxRecord, ports: WorkerPorts) -> str:
    # The sender's owner and profile, read once for the survey check and the thread decision alike
    # (neither is needed when the decision is already recorded: a redelivery).
    sender = read_sender(ports.repos.customers, record.event.sender.identity) if (
        record.thread is None and record.event.sender is not None) else None
    taken = take_feedback(ports.repos, record, ports.feedback or load_feedback_config(), ports.environ, ports.bus,
                          sender=sender)
    if taken is not None:  # a survey's answer or comment: stored on the resolved conversation, not threaded
        return f"feedback_{taken.outcome}"
    threaded = thread_message(ports.repos, record, id_key=ports.id_key, known=sender)
    logger.append_keys(conversation_id=threaded.conversation.id)
    note_thread_owner(record.event, threaded.conversation.id, ports.repos)
    surge = surge_for(ports.crisis, threaded, ports.crisis_fallback_language)
    routed = route_threaded(threaded, ports.repos.conversations, ports.bus, ports.routing or load_routing_config(),
                            surge_tag=surge.tag if surge else None)
    threaded = replace(threaded, conversation=routed.conversation)
    count("MessagesRouted", channel=record.event.channel.value)
    logger.info("message threaded and routed", extra={"opened": threaded.opened, "route": routed.conversation.route})
    acknowledged = acknowledge_threaded(
        threaded, record.acknowledgment, messages=ports.repos.messages, policy=ports.ack_policy, environ=ports.environ,
        claims=ports.repos.claims,
        crisis_status_line=surge.status_line if surge else None,
    )
    count_inbound(ports.repos, record.inbox_key, threaded.conversation, record.received_at, opened=threaded.opened,
                  acknowledged=acknowledged)  # one KPI event: the message and its acknowledgment
    if threaded.reopened:  # a reply naming its resolved conversation (threading reopened it)
        count_reopened_by_customer(ports.repos, threaded.conversation,
                                   reopened_by_message_id(threaded.conversation.id, threaded.message.id),
                                   threaded.conversation.status_changed_at or record.received_at)
    if routed.escalated:  # a rule's immediate escalation or a repeat contact
        count_escalation(ports.repos, f"routing#{record.inbox_key}", routed.conversation, record.received_at)
    return f"routed+{acknowledged}"


def _look_up_mention(record: InboxRecord, ports: WorkerPorts) -> str:
    """An Instagram mention names only ids: Graph says who wrote what, then it threads like a comment
    (same inbox key: a redelivery or a retry after the lookup threads it once)."""
    query = mention_query(record.event)
    if ports.mentions is None or query is None:
        return "ignored"
    found = ports.mentions.lookup(query.ig_user_id, comment_id=query.comment_id, media_id=query.media_id)
    message = mentioned_message(record.event, found) if found is not None else None
    if message is None:
        logger.warning("mention not looked up: kept as unknown", extra={"refused": found is None})
        return "mention_unresolved"
    return _thread_route_acknowledge(replace(record, event=message), ports)


def apply_status(repos: Repositories, event: InboundEvent) -> bool:
    """A provider's delivery status on one of our messages; monotonic, unknown ids ignored."""
    assert event.status is not None and event.provider_message_id is not None
    applied = repos.messages.apply_delivery_status(
        event.provider, event.provider_message_id, event.status, event.error_code
    )
    _withdraw_for_feedback(repos, event)
    logger.info(
        "delivery status",
        extra={"event_ref": event_reference(event.inbox_key), "status": event.status.value, "applied": applied},
    )
    return applied


def _confirm_subscription(record: InboxRecord, ports: WorkerPorts) -> str:
    """Confirm the SNS subscription by visiting its validated ``SubscribeURL`` (the confirmer checks it
    again), then record when on the inbox item. A redelivery confirms again (harmless for SNS: the
    subscription stays confirmed) and keeps the first time; a failed GET raises to retry the job."""
    url = record.event.metadata.get("subscribe_url")
    if ports.subscriptions is None or not url:
        return "subscription_kept"
    ports.subscriptions.confirm(url)
    confirmed_at = ports.repos.inbox.record_confirmation(record.inbox_key, utc_now())
    logger.info("sns subscription confirmed", extra={"confirmed_at": confirmed_at})
    return "subscription_confirmed"


def _names_mail_object(event: InboundEvent) -> bool:
    """A lifecycle event naming a mail object in a bucket: an SES S3 action's SNS notification."""
    return event.channel is Channel.EMAIL and bool(event.metadata.get("bucket") and event.metadata.get("object_key"))


def _read_mail_object(event: InboundEvent, ports: WorkerPorts) -> str:
    """The SNS notification of an S3 action names the mail object: read it into the inbox (its own
    event, deduplicated by Message-ID with the bucket's own notification of the same object)."""
    from chalicelib.ingest.mail_objects import MailObject, NotAMailObject, ingest_mail_object

    if ports.mail_objects is None:
        return "ignored"
    mail = MailObject(event.metadata.get("bucket", ""), event.metadata.get("object_key", ""),
                      created_at=event.occurred_at)
    try:
        fresh = ingest_mail_object(mail, bucket_name=ports.bucket_name, inbox=ports.repos.inbox,
                                   objects=ports.mail_objects)
    except NotAMailObject as err:
        logger.warning("mail object refused", extra={"reason": err.reason})
        return "mail_object_refused"
    return f"mail_object_read:{len(fresh)}"


def _withdraw_for_feedback(repos: Repositories, event: InboundEvent) -> None:
    """A hard bounce or a complaint withdraws the recipient's email consent (core/consent.py): the
    outbound rules then send nothing more to that address."""
    decided = feedback_consent(event.metadata)
    if decided is None:
        return
    address, state = decided
    try:
        owner = repos.customers.identity_owner(Identity(Channel.EMAIL, address))
    except ValueError:  # not an address the model accepts
        return
    if owner:
        repos.customers.set_consent(owner, Channel.EMAIL, state, event.occurred_at)
        logger.info("email consent withdrawn by provider feedback", extra={"state": str(state)})


def _apply_lifecycle(record: InboxRecord, repos: Repositories, id_key: Callable[[], bytes]) -> str:
    event = record.event
    assert event.sender is not None
    state = lifecycle_consent(event.metadata.get("lifecycle"))
    if not state:
        return "ignored"
    customer_id = resolve_customer(repos.customers, event.sender, record.received_at, key=id_key)
    repos.customers.set_consent(customer_id, event.channel, state, event.occurred_at)
    return f"consent_{state}"
