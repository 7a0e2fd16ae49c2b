"""Taking a survey's answer in the conversation worker, before threading.

A customer without an open conversation whose latest survey is still open (asked, within the
answer window) writes: when the message is an answer (:func:`parse_answer`) it is stored on the
resolved conversation with its score, and the conversation stays resolved; a message that follows
an answer within the comment window becomes its comment. Anything else — or a customer with an open
conversation — is threaded as usual (a resolved conversation's next message opens a new one).

Under redelivery the same inbox event is recognized by its message id on the survey (the answer's or
the comment's), so it is neither counted twice nor taken for a comment of its own answer; a message
already threaded (its decision recorded on the inbox item) is never taken.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from chalicelib.adapters.observability import logger
from chalicelib.adapters.sqs import SqsBus
from chalicelib.conversations.identities import SenderReads
from chalicelib.core.consent import consent_keyword
from chalicelib.core.feedback_record import FeedbackRecord
from chalicelib.core.ids import message_id_for
from chalicelib.core.model import ConversationStatus, DeliveryStatus, Direction, Message
from chalicelib.core.ports import Repositories
from chalicelib.core.records import InboxRecord
from chalicelib.core.timestamps import parse_timestamp
from chalicelib.feedback.answers import MAX_COMMENT_CHARS, parse_answer
from chalicelib.feedback.asking import thank_for_answer
from chalicelib.feedback.config import FeedbackConfig, SurveyKind
from chalicelib.feedback.events import publish_feedback_event
from chalicelib.reports.events import count_answer

# Where providers put a tapped button's payload (WhatsApp list reply, Messenger quick reply / postback,
# a WhatsApp template button); Telegram's callback data arrives as the text.
PAYLOAD_METADATA = ("reply_id", "quick_reply_payload", "postback_payload", "button_payload")


@dataclass(frozen=True, slots=True)
class Taken:
    outcome: str  # "answer" | "comment"
    record: FeedbackRecord


def take_feedback(
    repos: Repositories, record: InboxRecord, config: FeedbackConfig, environ: Mapping[str, str] | None = None,
    bus: SqsBus | None = None, *, sender: SenderReads | None = None,
) -> Taken | None:
    """Store the message as the open survey's answer or comment, or None: thread it as usual.
    ``sender``: the sender's owner and profile as the worker read them (not read again)."""
    event = record.event
    if repos.feedback is None or record.thread is not None or event.sender is None:
        return None
    if sender is not None:
        customer = sender.customer
    else:
        customer_id = repos.customers.identity_owner(event.sender.identity)
        customer = repos.customers.get(customer_id, consistent=True) if customer_id else None
    if customer is None or customer.open_conversation_id:
        return None  # a new customer, or one with a case open: the message belongs there
    survey_conversation = repos.feedback.customer_survey(customer.id)
    survey = repos.feedback.get(survey_conversation) if survey_conversation else None
    if survey is None or not survey.sent:
        return None
    message_id = message_id_for(record.inbox_key)
    if message_id in (survey.answer_message_id, survey.comment_message_id):  # a redelivery: finish the counts
        if message_id == survey.answer_message_id and survey.score is not None and survey.answered_at:
            count_answer(repos, survey.conversation_id, survey.channel, survey.route, survey.kind, survey.score,
                         survey.answered_at)
            thank_for_answer(repos, survey, environ=environ or {}, config=config, at=survey.answered_at)
            publish_feedback_event(repos, bus, survey, survey.answered_at)
            return Taken("answer", survey)
        publish_feedback_event(repos, bus, survey, record.received_at)
        return Taken("comment", survey)
    conversation = repos.conversations.get(survey.conversation_id, consistent=True)
    if conversation is None or conversation.status is not ConversationStatus.RESOLVED:
        return None
    at = record.received_at
    if not survey.answered:
        taken = _answer(repos, record, survey, config, at, message_id, bus)
        if taken is not None:  # thanks, inviting a comment (once: its id derives from the conversation)
            thank_for_answer(repos, taken.record, environ=environ or {}, config=config, at=at)
        return taken
    return _comment(repos, record, survey, config, at, message_id, bus)


def _answer(repos: Repositories, record: InboxRecord, survey: FeedbackRecord, config: FeedbackConfig, at: str,
            message_id: str, bus: SqsBus | None) -> Taken | None:
    assert repos.feedback is not None
    if _after(survey.asked_at, at, timedelta(hours=config.answer_window_hours)) or at < survey.asked_at:
        return None
    event = record.event
    payload = next((event.metadata[key] for key in PAYLOAD_METADATA if event.metadata.get(key)), None)
    answer = parse_answer(event.text, SurveyKind(survey.kind), payload)
    if answer is None:
        return None
    _store_message(repos, record, survey.conversation_id, message_id)
    if not repos.feedback.record_answer(survey.conversation_id, score=answer.score, comment=answer.comment, at=at,
                                        message_id=message_id):
        stored = repos.feedback.get(survey.conversation_id)
        if stored is None or stored.answer_message_id != message_id:
            return None  # another message answered first (a race on two identities): thread this one
    stored = repos.feedback.get(survey.conversation_id) or survey
    count_answer(repos, survey.conversation_id, survey.channel, survey.route, survey.kind, answer.score, at)
    publish_feedback_event(repos, bus, stored, at)
    logger.info("survey answered", extra={"kind": survey.kind, "score": answer.score})
    return Taken("answer", stored)


def _comment(repos: Repositories, record: InboxRecord, survey: FeedbackRecord, config: FeedbackConfig, at: str,
             message_id: str, bus: SqsBus | None) -> Taken | None:
    assert repos.feedback is not None and survey.answered_at is not None
    text = (record.event.text or "").strip()
    if survey.comment is not None or not text or consent_keyword(text) is not None:
        return None  # STOP, START and HELP keep their meaning
    if _after(survey.answered_at, at, timedelta(minutes=config.comment_window_minutes)):
        return None
    _store_message(repos, record, survey.conversation_id, message_id)
    if not repos.feedback.record_comment(survey.conversation_id, comment=text[:MAX_COMMENT_CHARS],
                                         message_id=message_id):
        stored = repos.feedback.get(survey.conversation_id)
        if stored is None or stored.comment_message_id != message_id:
            return None
    stored = repos.feedback.get(survey.conversation_id) or survey
    publish_feedback_event(repos, bus, stored, at)
    return Taken("comment", stored)


def _after(start: str, at: str, window: timedelta) -> bool:
    return parse_timestamp(at) > parse_timestamp(start) + window


def _store_message(repos: Repositories, record: InboxRecord, conversation_id: str, message_id: str) -> None:
    """The answer is part of the conversation's history (stored once; the conversation stays resolved)."""
    event = record.event
    repos.messages.put(Message(
        id=message_id, conversation_id=conversation_id, direction=Direction.INBOUND, channel=event.channel,
        created_at=record.received_at, text=event.text, attachments=event.attachments,
        status=DeliveryStatus.RECEIVED, provider=event.provider, provider_message_id=event.provider_message_id,
        inbox_key=record.inbox_key,
    ))
