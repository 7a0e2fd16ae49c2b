"""Asking for feedback when a conversation is resolved: at most once per conversation, never to an
opted-out customer nor on a public conversation, at most once per customer per N days.

Every step is conditional or idempotent, so a retried resolve (or a crash between two steps) ends
with one survey: the customer's slot (conditional on the last survey's time), the conversation's
survey item (conditional: absent), then the message in the outbox under an id derived from the
conversation (a second put of the same id stores nothing). With a delay, the survey item also goes
on a due list the every-minute schedule reads (:func:`send_due_surveys`); no delayed SQS message,
since the outbound queue is FIFO (no per-message delay) and SQS delays stop at 15 minutes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from chalicelib.adapters.observability import logger
from chalicelib.conversations.last_inbound import last_inbound_context
from chalicelib.core.consent import ConsentState
from chalicelib.core.feedback_record import FeedbackRecord
from chalicelib.core.ids import survey_id_for, survey_thanks_id_for
from chalicelib.core.model import Channel, Conversation
from chalicelib.core.ports import Repositories
from chalicelib.core.timestamps import format_timestamp, parse_timestamp
from chalicelib.feedback.answers import payload_for
from chalicelib.feedback.config import FeedbackConfig, SurveyKind
from chalicelib.outbound.job import Choice, OutboundKind
from chalicelib.outbound.outbox import OutboundDraft, place_outbound
from chalicelib.outbound.registry import NoOutboundProvider
from chalicelib.reports import figures
from chalicelib.reports.recorder import count_event

DUE_BATCH = 100


def is_public(repos: Repositories, conversation: Conversation) -> bool:
    """A public conversation (comments, posts) is never surveyed: the conversation says so (``public``, which
    the social channels' branch adds), or its customer's last message there was public (the event's
    ``public`` metadata, which the routing rules read too)."""
    if getattr(conversation, "public", False):
        return True
    metadata = last_inbound_context(repos, conversation.id, conversation.channel).metadata
    return metadata.get("public") == "true"


def ask_on_resolve(
    repos: Repositories, conversation: Conversation, *, environ: Mapping[str, str], config: FeedbackConfig, now: str
) -> str:
    """Ask (or schedule) the survey of a just-resolved conversation; returns what was done."""
    feedback = repos.feedback
    if feedback is None:
        return "feedback_off"
    survey = config.for_channel(conversation.channel)
    if not survey.enabled:
        return "channel_off"
    if is_public(repos, conversation):
        return "public"
    existing = feedback.get(conversation.id)
    if existing is not None:  # asked before (this resolve retried, or a reopened case resolved again)
        if not existing.sent and not existing.delayed:
            return _place(repos, existing, environ, config)  # a crash after the item, before the message
        return "already_asked"
    customer = repos.customers.get(conversation.customer_id)
    if customer is None:
        return "no_customer"
    if customer.consent.get(conversation.channel.value) == ConsentState.WITHDRAWN:
        return "opted_out"
    if not any(identity.channel is conversation.channel for identity in customer.identities):
        return "no_address"
    asked_at = format_timestamp(parse_timestamp(now) + timedelta(minutes=config.delay_minutes))
    since = None
    if config.once_per_customer_days:
        since = format_timestamp(parse_timestamp(now) - timedelta(days=config.once_per_customer_days))
    if not feedback.claim_customer_survey(customer.id, conversation.id, asked_at, since):
        return "rate_limited"
    language, _ = config.wording_for(customer.language)
    record = FeedbackRecord(
        conversation_id=conversation.id, customer_id=customer.id, kind=survey.kind.value,
        channel=conversation.channel.value, route=conversation.route, asked_at=asked_at, language=language,
        delayed=config.delay_minutes > 0,
    )
    delayed = record.delayed
    if not feedback.create(record, due=delayed):
        record = feedback.get(conversation.id) or record  # a concurrent resolve came first
    if delayed:
        return "scheduled"
    return _place(repos, record, environ, config)


def send_due_surveys(
    repos: Repositories, *, environ: Mapping[str, str], config: FeedbackConfig, now: str
) -> dict[str, int]:
    """The delayed surveys due by ``now`` (the every-minute schedule): placed, then off the due list."""
    done: dict[str, int] = {}
    if repos.feedback is None:
        return done
    for conversation_id in repos.feedback.due(now, DUE_BATCH):
        record = repos.feedback.get(conversation_id)
        outcome = "missing" if record is None else _place(repos, record, environ, config)
        done[outcome] = done.get(outcome, 0) + 1
    return done


def _place(repos: Repositories, record: FeedbackRecord, environ: Mapping[str, str], config: FeedbackConfig) -> str:
    assert repos.feedback is not None
    conversation = repos.conversations.get(record.conversation_id)
    customer = repos.customers.get(record.customer_id)
    channel = Channel(record.channel)
    address = next((i.address for i in customer.identities if i.channel is channel), None) if customer else None
    if conversation is None or customer is None or address is None:
        repos.feedback.mark_sent(record)
        return "gone"
    if customer.consent.get(channel.value) == ConsentState.WITHDRAWN:  # opted out while a delayed survey waited
        repos.feedback.mark_sent(record)
        return "opted_out"
    kind = SurveyKind(record.kind)
    _, wording = config.wording_for(record.language)
    text = wording.question(kind).format(reference=conversation.reference, name=customer.name or "")
    sent = _send(repos, record, conversation, address, text, survey_id_for(conversation.id), record.asked_at,
                 survey_choices(kind), environ)
    repos.feedback.mark_sent(record)
    return sent


def thank_for_answer(
    repos: Repositories, record: FeedbackRecord, *, environ: Mapping[str, str], config: FeedbackConfig, at: str
) -> str:
    """The configured thanks (which invites a comment) after an answer; once per conversation."""
    conversation = repos.conversations.get(record.conversation_id)
    customer = repos.customers.get(record.customer_id)
    channel = Channel(record.channel)
    address = next((i.address for i in customer.identities if i.channel is channel), None) if customer else None
    if conversation is None or customer is None or address is None:
        return "gone"
    _, wording = config.wording_for(record.language)
    text = wording.thanks.format(reference=conversation.reference, name=customer.name or "")
    return _send(repos, record, conversation, address, text, survey_thanks_id_for(conversation.id), at, (), environ)


def _send(repos: Repositories, record: FeedbackRecord, conversation: Conversation, address: str, text: str,
          outbound_id: str, at: str, choices: tuple[Choice, ...], environ: Mapping[str, str]) -> str:
    """Place one survey message through the outbox (its id makes it once) and count it."""
    channel = Channel(record.channel)
    last = last_inbound_context(repos, conversation.id, channel)
    last_at, provider, metadata, reply_token = last.at, last.provider, last.metadata, last.reply_token
    try:
        place_outbound(repos.messages, OutboundDraft(
            outbound_id=outbound_id, conversation_id=conversation.id, kind=OutboundKind.SURVEY, channel=channel,
            to=address, created_at=at, text=text, language=record.language,
            reference=conversation.reference, customer_last_inbound_at=last_at, reply_token=reply_token,
            inbound_provider=provider, inbound_metadata=metadata, choices=choices,
        ), environ)
    except NoOutboundProvider as err:
        logger.warning("no sender for the survey", extra={"channel": channel.value, "reason": err.reason})
        return "no_sender"
    count_event(repos.kpis, f"outbound#{outbound_id}", at, channel.value, record.route, figures.outbound_message())
    return "asked"


def survey_choices(kind: SurveyKind) -> tuple[Choice, ...]:
    """The scale as buttons: CSAT 1-5 (stars in the title), NPS 0-10."""
    low, high = kind.scale
    if kind is SurveyKind.CSAT:
        return tuple(Choice(payload_for(kind, score), f"{score} " + "⭐" * score) for score in range(low, high + 1))
    return tuple(Choice(payload_for(kind, score), str(score)) for score in range(low, high + 1))
