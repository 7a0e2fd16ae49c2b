"""The call repository, the same test on the in-memory twin and on DynamoDB (moto)."""

from __future__ import annotations

from chalicelib.core.model import Channel, Conversation, ConversationStatus, Direction, Message, Priority
from chalicelib.core.ports import Repositories


def conversation(repos: Repositories) -> None:
    repos.conversations.create(Conversation(
        id="cnv_1", reference="OH-1", status=ConversationStatus.OPEN, priority=Priority.NORMAL, route="default",
        customer_id="cus_1", channel=Channel.VOICE, created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:00.000Z"))


def message(text: str) -> Message:
    return Message(id="msg_call", conversation_id="cnv_1", direction=Direction.INBOUND, channel=Channel.VOICE,
                   created_at="2026-01-01T00:00:01.000Z", text=text, provider="twilio", provider_message_id="CA1",
                   call=(("outcome", "missed"), ("duration_seconds", "0")))


def test_the_log_gathers_each_callback_once_and_is_placed_once(repos: Repositories) -> None:
    calls = repos.calls
    assert calls is not None
    assert calls.record_event("twilio", "CA1", "twilio#CA1#a").inbox_keys == {"twilio#CA1#a"}
    calls.record_event("twilio", "CA1", "twilio#CA1#b")
    log = calls.record_event("twilio", "CA1", "twilio#CA1#a")
    assert log.inbox_keys == {"twilio#CA1#a", "twilio#CA1#b"} and log.conversation_id is None
    assert calls.place("twilio", "CA1", "cnv_1", "2026-01-01T00:00:01.000Z").conversation_id == "cnv_1"
    again = calls.place("twilio", "CA1", "cnv_2", "2026-01-02T00:00:00.000Z")
    assert (again.conversation_id, again.message_created_at) == ("cnv_1", "2026-01-01T00:00:01.000Z")
    assert calls.record_event("vonage", "CA1", "vonage#CA1#a").inbox_keys == {"vonage#CA1#a"}


def test_the_message_is_replaced_only_by_a_fold_of_as_many_callbacks_or_more(repos: Repositories) -> None:
    calls = repos.calls
    assert calls is not None
    conversation(repos)
    assert calls.write_message(message("call in progress"), 1)
    assert calls.write_message(message("missed call, no voicemail"), 3)
    assert not calls.write_message(message("call in progress"), 2)  # a late worker that read fewer
    assert calls.write_message(message("missed call, no voicemail"), 3)  # a retry of the same fold
    detail = repos.conversations.get_with_messages("cnv_1")
    assert detail is not None
    [stored] = detail[1]
    assert stored.text == "missed call, no voicemail" and dict(stored.call) == {"outcome": "missed",
                                                                                 "duration_seconds": "0"}
    assert stored.to_api()["call"] == {"outcome": "missed", "duration_seconds": "0"}


def test_a_tag_is_added_once(repos: Repositories) -> None:
    calls = repos.calls
    assert calls is not None
    conversation(repos)
    calls.tag_conversation("cnv_1", "callback")
    calls.tag_conversation("cnv_1", "callback")
    calls.tag_conversation("cnv_missing", "callback")
    stored = repos.conversations.get("cnv_1", consistent=True)
    assert stored is not None and stored.tags == ("callback",)
    assert repos.conversations.get("cnv_missing") is None
