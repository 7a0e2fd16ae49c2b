"""The conversation worker's use case for phone calls: every callback folds into ONE call message.

Each callback of a call is logged on the call (an idempotent set of inbox keys); the worker then reads
every callback the log lists, folds them (:func:`~chalicelib.conversations.calls.fold_call_events`, a
pure function of the set) and writes the call's message with a conditional write that only a fold of
more callbacks can replace. So callbacks in any order, repeated, or handled by racing workers end as
the same single message. The message lives in the caller's conversation (the same customer as on SMS
and WhatsApp), decided once from the first callback that names the caller; callbacks that name no
caller wait in the log until one does (a withheld number never does: see the README).

A call that ended unanswered without a voicemail reads "missed call, no voicemail" and tags its
conversation ``callback``; an ended call is routed like a message, so rules see its text and tags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from chalicelib.adapters.observability import count, logger
from chalicelib.adapters.sqs import SqsBus
from chalicelib.conversations.calls import CALLBACK_TAG, CallOutcome, CallRecord, call_message, fold_call_events
from chalicelib.conversations.routing import route_threaded
from chalicelib.conversations.threading import Threaded, join_or_open
from chalicelib.core import calls
from chalicelib.core.errors import PermanentError, RetryableError
from chalicelib.core.model import Message
from chalicelib.core.ports import Repositories, TranscriptFetcher
from chalicelib.core.records import InboxRecord
from chalicelib.routing import RoutingConfig


def fold_call_callback(
    record: InboxRecord,
    repos: Repositories,
    *,
    id_key: Callable[[], bytes],
    bus: SqsBus | None = None,
    routing: Callable[[], RoutingConfig] | None = None,
    transcripts: TranscriptFetcher | None = None,
) -> str:
    """Log the callback, fold every logged callback of its call, write the call's one message."""
    event = record.event
    call_id = event.metadata.get(calls.CALL_ID)
    if not call_id:
        raise PermanentError("a call event without a call id")
    if repos.calls is None:
        raise RetryableError("the worker was wired without a call repository")
    log = repos.calls.record_event(event.provider, call_id, record.inbox_key)
    records = [found for key in sorted(log.inbox_keys | {record.inbox_key})
               if (found := record if key == record.inbox_key else repos.inbox.get(key)) is not None]
    folded = _with_transcript(fold_call_events(r.event for r in records), transcripts)
    anchor = min((r for r in records if r.event.sender is not None), key=lambda r: r.inbox_key, default=None)
    if log.conversation_id is None or log.message_created_at is None:
        if anchor is None:
            logger.info("call waiting for a callback that names the caller", extra={"callbacks": len(records)})
            return "call_waiting_for_caller"
        decision = join_or_open(repos, anchor, id_key=id_key)
        log = repos.calls.place(event.provider, call_id, decision.conversation_id, anchor.received_at)
    assert log.conversation_id is not None and log.message_created_at is not None
    message = call_message(folded, log.conversation_id, log.message_created_at,
                           inbox_key=anchor.inbox_key if anchor is not None else None)
    if not repos.calls.write_message(message, version=len(records)):
        return "call_unchanged"  # a fold of more callbacks is already written (and routes the call)
    repos.conversations.record_inbound_activity(log.conversation_id, record.received_at)
    count("CallMessagesWritten", channel="voice")
    if folded.ended and bus is not None and routing is not None and anchor is not None:
        _route(repos, bus, routing(), anchor, message, log.message_created_at)
    if folded.outcome is CallOutcome.MISSED:  # after routing, which sets the tags of a first decision
        repos.calls.tag_conversation(log.conversation_id, CALLBACK_TAG)
    return f"call_{folded.outcome.value}"


def _with_transcript(folded: CallRecord, transcripts: TranscriptFetcher | None) -> CallRecord:
    """A transcription the provider only links to (Vonage's ``transcription_url``) is read here, in the
    worker: its text becomes the message's. An outage raises RetryableError (the queue retries); a
    refusal keeps "voicemail, no transcription"."""
    if folded.transcription or not folded.transcription_url or transcripts is None:
        return folded
    text = transcripts.fetch(folded.transcription_url)
    return replace(folded, transcription=text.strip()) if text and text.strip() else folded


def _route(repos: Repositories, bus: SqsBus, config: RoutingConfig, anchor: InboxRecord, message: Message,
           created_at: str) -> None:
    conversation = repos.conversations.get(message.conversation_id, consistent=True)
    customer = repos.customers.get(conversation.customer_id, consistent=True) if conversation else None
    if conversation is None or customer is None:
        raise RetryableError("the call's conversation is not readable yet")
    # Routing sees the call's words: the transcription, or "missed call, no voicemail".
    event = replace(anchor.event, text=message.text)
    threaded = Threaded(event, customer, conversation, message, opened=conversation.created_at == created_at,
                        previous_inbound_at=None)
    route_threaded(threaded, repos.conversations, bus, config)
