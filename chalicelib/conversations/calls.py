"""One call, one message: the callbacks of a call folded into the record its message shows (pure).

Providers report a call in pieces (ringing, the team's leg, completed, the recording, the
transcription), in any order and sometimes twice. :func:`fold_call_events` turns the set of those
CALL events into one :class:`CallRecord`, and the result depends only on the set: every permutation
and every repetition of the same events folds to the same record, so the worker can fold whatever it
has stored for the call each time a callback arrives and write the message with a conditional put.

- answered: someone of the team picked up (``agent_answered`` on a dial event);
- voicemail: otherwise, a recording exists (one with audio: not ``absent`` or zero seconds);
- missed: otherwise, once the call has ended; tagged ``callback`` and written
  "missed call, no voicemail", so that routing puts it in front of someone who calls back;
- in progress: nothing decisive yet.

Duration is the longest any callback reported; the transcription text, when there is one, is the
message text. Where two callbacks disagree (they should not), the choice is still order-free: the
longest transcription, the greatest recording id.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from chalicelib.core import calls
from chalicelib.core.calls import CallStage, CallState
from chalicelib.core.ids import message_id_for
from chalicelib.core.model import (
    Attachment,
    Channel,
    DeliveryStatus,
    Direction,
    EventKind,
    Identity,
    InboundEvent,
    Message,
)

CALLBACK_TAG = "callback"
VOICEMAIL_TAG = "voicemail"
MISSED_TEXT = "missed call, no voicemail"
_SILENT_RECORDING = frozenset({"absent", "failed"})


class CallOutcome(StrEnum):
    IN_PROGRESS = "in_progress"
    ANSWERED = "answered"
    VOICEMAIL = "voicemail"
    MISSED = "missed"


_SUMMARIES = {
    CallOutcome.IN_PROGRESS: "call in progress",
    CallOutcome.ANSWERED: "answered call",
    CallOutcome.VOICEMAIL: "voicemail, no transcription",
    CallOutcome.MISSED: MISSED_TEXT,
}


@dataclass(frozen=True, slots=True)
class CallRecord:
    """What the call's one message says; ``event_ids`` are the distinct callbacks it was folded from."""

    provider: str
    call_id: str
    outcome: CallOutcome
    ended: bool
    started_at: str
    updated_at: str
    event_ids: tuple[str, ...]
    customer: Identity | None = None
    direction: str | None = None
    duration_seconds: int | None = None
    recording_id: str | None = None
    recording_url: str | None = None
    transcription: str | None = None
    transcription_url: str | None = None

    @property
    def tags(self) -> tuple[str, ...]:
        if self.outcome is CallOutcome.MISSED:
            return (CALLBACK_TAG,)
        if self.outcome is CallOutcome.VOICEMAIL:
            return (VOICEMAIL_TAG,)
        return ()

    @property
    def text(self) -> str:
        return self.transcription or _SUMMARIES[self.outcome]

    @property
    def details(self) -> tuple[tuple[str, str], ...]:
        """The message's ``call`` object: what the call was, every value a string."""
        values = {"outcome": self.outcome.value, "ended": "true" if self.ended else "false",
                  "direction": self.direction, "started_at": self.started_at, "updated_at": self.updated_at,
                  "duration_seconds": None if self.duration_seconds is None else str(self.duration_seconds),
                  "recording_url": self.recording_url, "transcription_url": self.transcription_url,
                  "tags": ",".join(self.tags) or None}
        return tuple((name, value) for name, value in values.items() if value is not None)

    @property
    def attachments(self) -> tuple[Attachment, ...]:
        if self.recording_id is None:
            return ()
        return (Attachment(kind="audio", url=self.recording_url, media_id=self.recording_id, name="voicemail"),)


def _canonical(event: InboundEvent) -> str:
    return json.dumps(event.to_dict(), sort_keys=True, ensure_ascii=False)


def _duration(event: InboundEvent) -> int | None:
    value = event.metadata.get(calls.DURATION, "")
    return int(value) if value.isdigit() else None


def _has_audio(event: InboundEvent) -> bool:
    if event.metadata.get(calls.CALL_STAGE) != CallStage.RECORDING.value or not event.metadata.get(calls.RECORDING_ID):
        return False
    if event.metadata.get("recording_status", "") in _SILENT_RECORDING:
        return False
    return event.metadata.get(calls.RECORDING_DURATION) != "0"


def _ended(event: InboundEvent) -> bool:
    state = event.metadata.get(calls.CALL_STATE)
    return state in {s.value for s in CallState} and CallState(state).ended


def fold_call_events(events: Iterable[InboundEvent]) -> CallRecord:
    """The record of one call from its CALL events (duplicates and order do not matter).

    ValueError when there is no CALL event or when the events belong to different calls.
    """
    unique: dict[str, InboundEvent] = {}
    for event in events:
        if event.kind is not EventKind.CALL:
            continue
        kept = unique.get(event.inbox_key)
        # Two deliveries of one callback may differ (the Twilio <Record> action and the recording status
        # share an id): keep the same one whatever the order, the greater in canonical form.
        if kept is None or _canonical(event) > _canonical(kept):
            unique[event.inbox_key] = event
    if not unique:
        raise ValueError("a call record needs at least one CALL event")
    keys = {(e.provider, e.metadata.get(calls.CALL_ID)) for e in unique.values()}
    if len(keys) != 1 or None in {call_id for _, call_id in keys}:
        raise ValueError("the events belong to more than one call")
    (provider, call_id), = keys
    assert call_id is not None
    chosen = sorted(unique.values(), key=lambda e: e.inbox_key)

    answered = any(e.metadata.get(calls.AGENT_ANSWERED) == "true" for e in chosen)
    recordings = [e for e in chosen if _has_audio(e)]
    ended = any(_ended(e) for e in chosen)
    if answered:
        outcome = CallOutcome.ANSWERED
    elif recordings:
        outcome = CallOutcome.VOICEMAIL
    elif ended:
        outcome = CallOutcome.MISSED
    else:
        outcome = CallOutcome.IN_PROGRESS

    recording = max(recordings, key=lambda e: (e.metadata[calls.RECORDING_ID], e.metadata.get(calls.RECORDING_URL, "")),
                    default=None)
    texts = [e.text.strip() for e in chosen if e.metadata.get(calls.CALL_STAGE) == CallStage.TRANSCRIPTION.value
             and e.text and e.text.strip()]
    transcription_urls = sorted(e.metadata[calls.TRANSCRIPTION_URL] for e in chosen
                                if e.metadata.get(calls.TRANSCRIPTION_URL))
    durations = [d for d in (_duration(e) for e in chosen) if d is not None]
    customers = sorted({e.sender.identity for e in chosen if e.sender is not None}, key=lambda i: i.key)
    directions = sorted({e.metadata[calls.CALL_DIRECTION] for e in chosen if e.metadata.get(calls.CALL_DIRECTION)})
    return CallRecord(
        provider=provider,
        call_id=call_id,
        outcome=outcome,
        ended=ended,
        started_at=min(e.occurred_at for e in chosen),
        updated_at=max(e.occurred_at for e in chosen),
        event_ids=tuple(e.event_id for e in chosen),
        customer=customers[0] if customers else None,
        # A call the customer placed stays inbound even when the team's leg is reported as outbound.
        direction="inbound" if "inbound" in directions else (directions[0] if directions else None),
        duration_seconds=max(durations) if durations else None,
        recording_id=recording.metadata[calls.RECORDING_ID] if recording else None,
        recording_url=recording.metadata.get(calls.RECORDING_URL) if recording else None,
        transcription=max(texts, key=lambda t: (len(t), t)) if texts else None,
        transcription_url=transcription_urls[-1] if transcription_urls else None,
    )


def call_message(record: CallRecord, conversation_id: str, created_at: str, inbox_key: str | None = None) -> Message:
    """The call's one message: its id derives from the call, so every fold writes the same message."""
    return Message(
        id=message_id_for(f"{record.provider}#call#{record.call_id}"),
        conversation_id=conversation_id,
        direction=Direction.OUTBOUND if record.direction == "outbound" else Direction.INBOUND,
        channel=Channel.VOICE,
        created_at=created_at,
        text=record.text,
        attachments=record.attachments,
        status=DeliveryStatus.RECEIVED,
        provider=record.provider,
        provider_message_id=record.call_id,
        inbox_key=inbox_key,  # the callback that names the caller: what a reply reads (the number called)
        call=record.details,
    )
