"""The broadcast worker: one recipient of one update, exactly once, through the outbox.

The recipient record is claimed with one conditional put; a redelivered message finds it settled and
does nothing. A worker that died after the claim left it ``claimed``: the redelivery finishes it with
the claim's outbound id and time, so the outbox's message (keyed by both) is stored once.

Channel rules: WhatsApp outside the 24 h window sends the approved template configured for the
message's language (the fallback language's otherwise), or skips; Messenger and Instagram outside the
window use the configured message tag, or skip; an opted-out customer (SMS STOP) is skipped, their
consent read again here since the planner ran. Each send takes a token of the channel and sender's
bucket; a wait longer than ``max_wait_seconds`` hands the message back to the queue (:class:`Deferred`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.conversations.last_inbound import last_inbound_context
from chalicelib.core.errors import PermanentError, RetryableError
from chalicelib.core.incident import BroadcastRef, Incident, IncidentUpdate
from chalicelib.core.model import Channel, Customer
from chalicelib.core.pacing import bucket_name
from chalicelib.core.timestamps import parse_timestamp, timestamp_from_epoch
from chalicelib.crisis import audience as rules
from chalicelib.crisis.ports import CrisisPorts
from chalicelib.outbound.job import OutboundJob, OutboundKind, Template
from chalicelib.outbound.outbox import (
    DELIVERED_IN_CONVERSATION,
    READ_FROM_CONVERSATION,
    OutboundDraft,
    enqueue_job,
    record_delivered,
    sender_hints_from,
)
from chalicelib.outbound.registry import NoOutboundProvider, provider_for

WINDOW = timedelta(hours=24)
CLAIMED = "claimed"


class Deferred(RetryableError):
    """The channel's bucket has no token for a while: the message comes back after ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"send rate reached; retry in {seconds:.1f} s")
        self.seconds = seconds


@dataclass(frozen=True, slots=True)
class RecipientJob:
    incident_id: str
    update_id: str
    customer_id: str
    channel: str

    @classmethod
    def from_body(cls, body: Any) -> RecipientJob:
        try:
            fields = {name: body[name] for name in ("incident_id", "update_id", "customer_id", "channel")}
        except (KeyError, TypeError) as err:
            raise PermanentError("a broadcast recipient job lacks a field") from err
        if not all(isinstance(v, str) and 0 < len(v) <= 200 for v in fields.values()):
            raise PermanentError("a broadcast recipient job has a malformed field")
        return cls(**fields)


def broadcast_id_for(incident_id: str, update_id: str, customer_id: str) -> str:
    return "bc_" + hashlib.sha256(f"{incident_id}\x00{update_id}\x00{customer_id}".encode()).hexdigest()[:32]


def deliver_to_recipient(ports: CrisisPorts, job: RecipientJob, incident: Incident, update: IncidentUpdate) -> str:
    """Send (or skip, or cancel) one recipient; returns the outcome: sent, skipped:<reason>, cancelled,
    or duplicate. ``incident`` is read once per batch: a cancellation stops the next batch."""
    store = ports.store
    now = ports.clock()
    claim = store.claim_recipient(job.incident_id, job.update_id, job.customer_id,
                                  broadcast_id_for(job.incident_id, job.update_id, job.customer_id),
                                  timestamp_from_epoch(now))
    if claim.state != CLAIMED:
        return "duplicate"

    def settle(state: str, reason: str | None = None, channel: str = job.channel) -> str:
        store.settle_recipient(job.incident_id, job.update_id, job.customer_id, state, channel, reason,
                               timestamp_from_epoch(ports.clock()))
        return state if reason is None else f"{state}:{reason}"

    if incident.cancelled_at is not None:
        return settle("cancelled")
    customer = ports.repos.customers.get(job.customer_id)
    if customer is None:
        return settle("skipped", "customer_gone")
    try:
        channel = Channel(job.channel)
    except ValueError:
        return settle("skipped", rules.SKIP_NO_ADDRESS)
    if rules.broadcast_refused(customer.consent, channel):
        return settle("skipped", rules.SKIP_OPTED_OUT)
    address = rules.address_on(customer, channel)
    conversation_id = _conversation_for(ports, customer)
    if address is None or conversation_id is None:
        return settle("skipped", rules.SKIP_NO_ADDRESS)
    language = rules.message_language(customer.language, tuple(update.message), ports.config.fallback_language)
    text = update.message[language]
    if channel in READ_FROM_CONVERSATION:  # web chat: the widget reads it from the conversation
        draft = OutboundDraft(outbound_id=claim.outbound_id, conversation_id=conversation_id,
                              kind=OutboundKind.BROADCAST, channel=channel, to=address,
                              created_at=claim.created_at, text=text, language=language)
        record_delivered(ports.repos.messages, draft, provider=None, delivered_in=DELIVERED_IN_CONVERSATION)
        return settle("sent")
    last_at, provider_hint, metadata = _last_inbound(ports, conversation_id, channel, customer)
    outbound = _job(ports, claim.outbound_id, claim.created_at, conversation_id, channel, address,
                    text, language, last_at, provider_hint, metadata, now)
    if not isinstance(outbound, str):  # its delivery statuses count on this update's progress
        outbound = outbound.with_changes(broadcast=BroadcastRef(job.incident_id, job.update_id))
    if isinstance(outbound, str):
        return settle("skipped", outbound)
    _pace(ports, outbound)
    enqueue_job(ports.repos.messages, outbound)
    return settle("sent")


def _job(
    ports: CrisisPorts, outbound_id: str, created_at: str, conversation_id: str, channel: Channel, address: str,
    text: str, language: str, last_at: str | None, inbound_provider: str | None, metadata: dict[str, str], now: float,
) -> OutboundJob | str:
    """The outbound job under the channel's rules, or the reason it cannot be sent."""
    inside_window = last_at is not None and datetime.fromtimestamp(now, tz=UTC) - parse_timestamp(last_at) < WINDOW
    template = None
    tag = None
    if channel is Channel.WHATSAPP and not inside_window:
        chosen = ports.config.template_for(language)
        if chosen is None:
            return rules.SKIP_NO_TEMPLATE
        values = {"text": text, "reference": ""}
        template = Template(chosen.name, chosen.language, tuple(values[p] for p in chosen.params), chosen.content_sid)
    if channel in (Channel.MESSENGER, Channel.INSTAGRAM) and not inside_window:
        if not ports.config.messenger_tag:
            return rules.SKIP_WINDOW_CLOSED
        tag = ports.config.messenger_tag
    try:
        provider = provider_for(channel, ports.environ, inbound_provider)
    except NoOutboundProvider:
        return rules.SKIP_NO_SENDER
    return OutboundJob(
        outbound_id=outbound_id, conversation_id=conversation_id, kind=OutboundKind.BROADCAST, channel=channel,
        provider=provider, to=address, text=text, language=language,
        customer_last_inbound_at=last_at, template=template, messaging_tag=tag,
        sender_hints=sender_hints_from(metadata), created_at=created_at,
    )


def _pace(ports: CrisisPorts, job: OutboundJob) -> None:
    rate = ports.config.rate_for(job.channel)
    bucket = bucket_name(job.channel.value, _sender_of(job))
    waited = 0.0
    while True:
        delay = ports.pacer.take(bucket, rate.per_second, rate.burst, ports.clock())
        if delay <= 0:
            return
        if waited + delay > ports.config.max_wait_seconds:
            raise Deferred(delay)
        ports.sleep(delay)
        waited += delay


def _sender_of(job: OutboundJob) -> str | None:
    return job.hint("from") or job.hint("phone_number_id") or job.hint("bot")


def _conversation_for(ports: CrisisPorts, customer: Customer) -> str | None:
    """The open conversation, else the customer's most recent one (the update is threaded there)."""
    if customer.open_conversation_id:
        return customer.open_conversation_id
    ids = ports.repos.conversations.customer_conversation_ids(customer.id)
    return ids[-1] if ids else None


def _last_inbound(
    ports: CrisisPorts, conversation_id: str, channel: Channel, customer: Customer
) -> tuple[str | None, str | None, dict[str, str]]:
    """The customer's last message there (conversations/last_inbound.py), else their profile's last
    inbound time when it was on this channel (a conversation of another channel)."""
    last = last_inbound_context(ports.repos, conversation_id, channel)
    if last.at is None:
        return (customer.last_inbound_at if customer.last_inbound_channel is channel else None), None, {}
    return last.at, last.provider, last.metadata
