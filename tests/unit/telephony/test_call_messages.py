"""The worker folds a call's callbacks into ONE message in the caller's conversation, whatever the
order, the repetitions and the worker that handles each callback."""

from __future__ import annotations

from dataclasses import replace
from itertools import permutations
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.adapters.memory import MemoryStore, memory_repositories
from chalicelib.conversations.call_messages import fold_call_callback
from chalicelib.conversations.calls import CALLBACK_TAG, MISSED_TEXT
from chalicelib.core.model import Channel, Direction, InboundEvent
from chalicelib.core.ports import Repositories
from tests.unit.telephony.test_call_fold import TWILIO_MISSED, TWILIO_VOICEMAIL, VONAGE_VOICEMAIL

KEY = b"test-id-key-0123456789abcdef0123456789"


def store_all(repos: Repositories, events: list[InboundEvent]) -> None:
    for event in events:
        repos.inbox.put(event, endpoint="voice", received_at=event.occurred_at, raw_body=b"{}",
                        content_type="application/json")


def handle(repos: Repositories, event: InboundEvent) -> str:
    record = repos.inbox.get(event.inbox_key)
    assert record is not None
    return fold_call_callback(record, repos, id_key=lambda: KEY)


def conversations(repos: Repositories) -> list[Any]:
    store = repos.calls.store  # type: ignore[union-attr]
    return list(store.conversations.values())


def call_messages(repos: Repositories) -> list[Any]:
    found = []
    for conversation in conversations(repos):
        detail = repos.conversations.get_with_messages(conversation.id)
        assert detail is not None
        found += [m for m in detail[1] if m.channel is Channel.VOICE]
    return found


def fold_in(order: list[InboundEvent]) -> tuple[Repositories, list[Any]]:
    repos = memory_repositories(MemoryStore())
    store_all(repos, order)
    for event in order:
        handle(repos, event)
    return repos, call_messages(repos)


def expected_message(events: list[InboundEvent]) -> Any:
    _, [message] = fold_in(events)
    return message


@pytest.mark.parametrize("events", [TWILIO_MISSED, VONAGE_VOICEMAIL[:3] + VONAGE_VOICEMAIL[5:]],
                         ids=["twilio missed", "vonage missed"])
def test_every_order_of_a_missed_call_is_one_missed_call_message_tagged_callback(events: list[InboundEvent]) -> None:
    for order in permutations(events):
        repos, messages = fold_in([*order, *order])  # every callback twice
        [message] = messages
        assert message.text == MISSED_TEXT and dict(message.call)["outcome"] == "missed"
        assert message.direction is Direction.INBOUND
        [conversation] = conversations(repos)
        assert CALLBACK_TAG in conversation.tags and conversation.tags.count(CALLBACK_TAG) == 1


@pytest.mark.parametrize("events", [TWILIO_VOICEMAIL, VONAGE_VOICEMAIL], ids=["twilio", "vonage"])
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_callbacks_in_any_order_and_repeated_yield_the_same_single_message(events: list[InboundEvent],
                                                                            data: st.DataObject) -> None:
    expected = expected_message(events)
    extra = data.draw(st.lists(st.sampled_from(events), max_size=len(events)))
    order = data.draw(st.permutations(events + extra))
    _, [message] = fold_in(order)
    # Where it lives depends on which callback opened the caller's conversation; what it says does not.
    assert replace(message, conversation_id="", created_at="") == replace(expected, conversation_id="", created_at="")


def test_a_voicemail_message_carries_transcription_duration_and_recording() -> None:
    message = expected_message(TWILIO_VOICEMAIL)
    call = dict(message.call)
    assert message.text == "Please call me back"
    assert call["outcome"] == "voicemail" and call["duration_seconds"] == "42" and call["direction"] == "inbound"
    assert call["recording_url"].startswith("https://api.twilio.com/")
    assert [a.kind for a in message.attachments] == ["audio"]


def test_the_call_joins_the_conversation_of_the_same_number_on_sms() -> None:
    from chalicelib.core.model import Identity, Sender
    from chalicelib.core.records import ThreadDecision

    repos = memory_repositories(MemoryStore())
    sms = InboundEvent(provider="twilio", event_id="SM1", kind=TWILIO_MISSED[0].kind.__class__("message"),
                       channel=Channel.SMS, occurred_at="2025-12-31T23:00:00.000Z",
                       sender=Sender(Identity(Channel.SMS, "+393331234567")), text="hello")
    store_all(repos, [sms])
    from chalicelib.conversations.threading import thread_message

    record = repos.inbox.get(sms.inbox_key)
    assert record is not None
    threaded = thread_message(repos, record, id_key=lambda: KEY)
    store_all(repos, TWILIO_MISSED)
    for event in TWILIO_MISSED:
        handle(repos, event)
    detail = repos.conversations.get_with_messages(threaded.conversation.id)
    assert detail is not None
    assert [m.channel for m in detail[1]] == [Channel.SMS, Channel.VOICE]
    assert isinstance(record.thread, ThreadDecision | None)


def test_callbacks_that_name_no_caller_wait_for_one_that_does() -> None:
    vonage_events = [e for e in VONAGE_VOICEMAIL if e.sender is None]
    assert vonage_events
    repos = memory_repositories(MemoryStore())
    store_all(repos, vonage_events)
    assert {handle(repos, e) for e in vonage_events} == {"call_waiting_for_caller"}
    assert call_messages(repos) == []
