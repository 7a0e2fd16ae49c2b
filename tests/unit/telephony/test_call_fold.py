"""One call, one record: every order and every repetition of a call's callbacks folds the same."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.conversations.calls import CALLBACK_TAG, MISSED_TEXT, CallOutcome, fold_call_events
from chalicelib.core.model import InboundEvent
from chalicelib.providers.twilio import voice as twilio_voice
from chalicelib.providers.vonage import voice as vonage_voice
from devstack.simulators.voice import simulate_twilio_voice_call, simulate_vonage_voice_call
from tests.unit.telephony.conftest import BASE_URL, TWILIO_SECRETS, VONAGE_SECRETS, as_webhook_request

CALLER = "+393331234567"
TWILIO_SPECS = {twilio_voice.VOICE_PATH: twilio_voice.VOICE, twilio_voice.STATUS_PATH: twilio_voice.VOICE_STATUS,
                twilio_voice.ACTION_PATH: twilio_voice.VOICE_ACTION,
                twilio_voice.RECORDING_PATH: twilio_voice.VOICE_RECORDING,
                twilio_voice.TRANSCRIPTION_PATH: twilio_voice.VOICE_TRANSCRIPTION}


def parsed(simulated: list[Any], specs: dict[str, Any]) -> list[InboundEvent]:
    events = []
    for index, request in enumerate(simulated):
        webhook = as_webhook_request(request, received_at=f"2026-01-01T00:00:{index:02d}.000Z")
        events += specs[webhook.path].parse(webhook)
    return events


TWILIO_VOICEMAIL = parsed(simulate_twilio_voice_call(TWILIO_SECRETS, CALLER, "Please call me back",
                                                     public_base_url=BASE_URL, call_sid="CA" + "7" * 32),
                          TWILIO_SPECS)
VONAGE_VOICEMAIL = parsed(simulate_vonage_voice_call(VONAGE_SECRETS, CALLER, public_base_url=BASE_URL,
                                                     conversation_uuid="CON-1", issued_at=1_767_225_600),
                          {vonage_voice.ANSWER_PATH: vonage_voice.VOICE_ANSWER,
                           vonage_voice.EVENT_PATH: vonage_voice.VOICE_EVENT})
# Ringing, the team did not answer, completed: no recording at all.
TWILIO_MISSED = [TWILIO_VOICEMAIL[0], TWILIO_VOICEMAIL[1], TWILIO_VOICEMAIL[5]]


def shuffled_with_repeats(events: list[InboundEvent]) -> st.SearchStrategy[list[InboundEvent]]:
    repeated = st.lists(st.sampled_from(events), max_size=len(events))
    return repeated.flatmap(lambda extra: st.permutations(events + extra))


@pytest.mark.parametrize("events", [TWILIO_VOICEMAIL, VONAGE_VOICEMAIL, TWILIO_MISSED],
                         ids=["twilio voicemail", "vonage voicemail", "twilio missed"])
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_order_and_repetition_folds_to_the_same_record(events: list[InboundEvent], data: st.DataObject) -> None:
    expected = fold_call_events(events)
    assert fold_call_events(data.draw(shuffled_with_repeats(events))) == expected


def test_a_voicemail_is_one_message_with_its_recording_and_transcription() -> None:
    record = fold_call_events(TWILIO_VOICEMAIL)
    assert record.outcome is CallOutcome.VOICEMAIL and record.ended
    assert record.text == "Please call me back" and record.tags == ("voicemail",)
    assert record.duration_seconds == 42 and record.direction == "inbound"
    assert record.customer is not None and record.customer.key == f"voice#{CALLER}"
    assert record.recording_url is not None and record.recording_url.startswith("https://api.twilio.com/")
    assert record.attachments[0].kind == "audio"
    assert record.started_at == "2026-01-01T00:00:00.000Z" and record.updated_at == "2026-01-01T00:00:05.000Z"


def test_vonage_keeps_the_transcript_behind_a_url_for_the_worker_to_read() -> None:
    record = fold_call_events(VONAGE_VOICEMAIL)
    assert record.outcome is CallOutcome.VOICEMAIL and record.transcription is None
    assert record.transcription_url is not None and record.text == "voicemail, no transcription"


def test_a_missed_call_without_voicemail_asks_for_a_callback() -> None:
    record = fold_call_events(TWILIO_MISSED)
    assert record.outcome is CallOutcome.MISSED and record.text == MISSED_TEXT and record.tags == (CALLBACK_TAG,)


def test_partial_knowledge_and_an_answered_call() -> None:
    assert fold_call_events(TWILIO_VOICEMAIL[:1]).outcome is CallOutcome.IN_PROGRESS
    answered = InboundEvent.from_dict({**TWILIO_VOICEMAIL[1].to_dict(), "event_id": "CA#dial#completed",
                                       "metadata": {**TWILIO_VOICEMAIL[1].metadata, "agent_answered": "true",
                                                    "duration": "300"}})
    record = fold_call_events([*TWILIO_MISSED, answered])
    assert record.outcome is CallOutcome.ANSWERED and record.tags == () and record.duration_seconds == 300


def test_events_of_two_calls_or_none_are_refused() -> None:
    with pytest.raises(ValueError, match="more than one call"):
        fold_call_events([TWILIO_VOICEMAIL[0], VONAGE_VOICEMAIL[0]])
    with pytest.raises(ValueError, match="at least one"):
        fold_call_events([])
