"""Threading on the in-memory twins: which conversation, and which reference, a message belongs to."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.adapters.memory import MemoryBus, MemoryStore, memory_repositories
from chalicelib.api.lifecycle import resolve_conversation
from chalicelib.conversations import threading as threading_module
from chalicelib.conversations.threading import (
    ABANDONED_CLAIM_SECONDS,
    choose_thread,
    decide_thread,
    preview_thread,
    thread_message,
)
from chalicelib.core.errors import RetryableError
from chalicelib.core.ids import conversation_id_for, customer_id_for, message_id_for, reference_for
from chalicelib.core.model import (
    Channel,
    Conversation,
    ConversationStatus,
    Customer,
    EventKind,
    Identity,
    InboundEvent,
    Priority,
    Sender,
)
from chalicelib.core.ports import Repositories
from chalicelib.core.records import CarriedAcknowledgment, InboxRecord
from chalicelib.core.timestamps import format_timestamp, parse_timestamp, utc_now
from tests.conftest import TEST_SECRETS
from tests.unit.conftest import test_id_key as KEY

PHONE = "+393331234567"
WHATSAPP = Identity(Channel.WHATSAPP, PHONE)
SMS = Identity(Channel.SMS, PHONE)
NOW = "2026-11-18T09:00:00.000Z"


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def repos(store: MemoryStore) -> Repositories:
    return memory_repositories(store)


def message_event(event_id: str, *, identity: Identity = WHATSAPP, text: str = "Where is my order?",
                  provider: str = "meta") -> InboundEvent:
    return InboundEvent(provider=provider, event_id=event_id, kind=EventKind.MESSAGE, channel=identity.channel,
                        occurred_at="2026-11-18T08:59:58.000Z", sender=Sender(identity, name="Maria"), text=text)


def receive(repos: Repositories, event: InboundEvent, received_at: str = NOW,
            acknowledgment: CarriedAcknowledgment | None = None) -> InboxRecord:
    """What the webhook stores and the worker reads back."""
    assert repos.inbox.put(event, endpoint=event.provider, received_at=received_at, raw_body=b"{}",
                           content_type="application/json", acknowledgment=acknowledgment)
    record = repos.inbox.get(event.inbox_key)
    assert record is not None
    return record


def later(minutes: float, start: str = NOW) -> str:
    return format_timestamp(parse_timestamp(start) + timedelta(minutes=minutes))


# ------------------------------------------------------------------ the rule, on what was read
MINE = conversation_id_for("meta#wamid.new")


def customer(pointer: str | None = None, claimed_at: str | None = None) -> Customer:
    return Customer(id="cus_1", name=None, language=None, tier="standard", identities=(WHATSAPP,),
                    created_at="2026-11-01T00:00:00.000Z", open_conversation_id=pointer, open_claimed_at=claimed_at)


def conversation(status: ConversationStatus) -> Conversation:
    return Conversation(id="cnv_current", reference="OH-CURR1", status=status, priority=Priority.NORMAL,
                        route="default", customer_id="cus_1", channel=Channel.WHATSAPP,
                        created_at="2026-11-10T00:00:00.000Z", updated_at="2026-11-10T00:00:00.000Z")


STALE = later(-ABANDONED_CLAIM_SECONDS / 60 - 1)
FRESH = later(-1)


@pytest.mark.parametrize(
    ("who", "current", "expected"),
    [
        # (customer, conversation read through their pointer) → (conversation, opens, claim pending)
        (None, None, (MINE, True, False)),  # a first message from nobody we know
        (customer(), None, (MINE, True, False)),  # a customer without an open conversation
        (customer("cnv_current", FRESH), ConversationStatus.OPEN, ("cnv_current", False, False)),
        (customer("cnv_current", FRESH), ConversationStatus.PENDING, ("cnv_current", False, False)),
        (customer("cnv_current", FRESH), ConversationStatus.RESOLVED, (MINE, True, False)),
        (customer(MINE, FRESH), None, (MINE, True, False)),  # an earlier attempt of this message claimed it
        (customer(MINE, FRESH), ConversationStatus.OPEN, (MINE, True, False)),
        (customer("cnv_other", FRESH), None, (MINE, True, True)),  # claimed a moment ago, not created yet
        (customer("cnv_other", STALE), None, (MINE, True, False)),  # that message died long ago
        (customer("cnv_other", None), None, (MINE, True, False)),
    ],
)
def test_the_threading_rule(who: Customer | None, current: ConversationStatus | None,
                            expected: tuple[str, bool, bool]) -> None:
    read = conversation(current) if current else None
    choice = choose_thread("meta#wamid.new", who, read, NOW)
    assert (choice.conversation_id, choice.opens, choice.claim_pending) == expected
    assert choice.current == (read if not choice.opens else None)


# ------------------------------------------------------------------ preview (webhook) and decision (worker)
def test_a_first_message_opens_a_conversation_with_the_reference_the_preview_reserved(repos: Repositories) -> None:
    event = message_event("wamid.1")
    preview = preview_thread(repos, event)
    assert (preview.customer, preview.conversation) == (None, None)
    assert preview.conversation_id == conversation_id_for(event.inbox_key)
    threaded = thread_message(repos, receive(repos, event), id_key=KEY)
    assert threaded.opened and threaded.previous_inbound_at is None
    assert threaded.conversation.id == preview.conversation_id
    assert threaded.conversation.reference == preview.reference == reference_for(preview.conversation_id)
    assert threaded.customer.id == customer_id_for(WHATSAPP, TEST_SECRETS["OMNIHUB_ID_KEY"].encode())
    assert threaded.customer.open_conversation_id == preview.conversation_id
    assert threaded.message.id == message_id_for(event.inbox_key)
    assert repos.references.conversation_for(preview.reference) == preview.conversation_id


def test_the_preview_names_the_open_conversation_the_worker_joins(repos: Repositories) -> None:
    first = thread_message(repos, receive(repos, message_event("wamid.1")), id_key=KEY)
    second = message_event("wamid.2", text="Any news?")
    preview = preview_thread(repos, second)
    decision = decide_thread(repos, second.inbox_key, second, later(5), id_key=KEY)
    assert preview.conversation == first.conversation and preview.reference == first.conversation.reference
    assert (decision.conversation_id, decision.opens) == (first.conversation.id, False)
    assert decision.previous_inbound_at == NOW


def test_a_message_joins_the_open_conversation(repos: Repositories) -> None:
    first = thread_message(repos, receive(repos, message_event("wamid.1")), id_key=KEY)
    second = thread_message(repos, receive(repos, message_event("wamid.2", text="Any news?"), later(5)), id_key=KEY)
    assert not second.opened and second.conversation.id == first.conversation.id
    assert second.previous_inbound_at == NOW
    assert (second.conversation.last_inbound_at, second.conversation.updated_at) == (later(5), later(5))
    found = repos.conversations.get_with_messages(first.conversation.id)
    assert found is not None and [m.text for m in found[1]] == ["Where is my order?", "Any news?"]
    assert repos.conversations.customer_conversation_ids(first.customer.id) == [first.conversation.id]


def test_after_a_resolution_the_next_message_opens_a_new_conversation_and_reference(repos: Repositories) -> None:
    first = thread_message(repos, receive(repos, message_event("wamid.1")), id_key=KEY)
    resolve_conversation(repos, first.conversation.id, bus=MemoryBus())  # type: ignore[arg-type]
    event = message_event("wamid.2", text="It came broken")
    preview = preview_thread(repos, event)
    second = thread_message(repos, receive(repos, event, later(60)), id_key=KEY)
    assert second.opened and second.conversation.id == preview.conversation_id != first.conversation.id
    assert second.conversation.reference == preview.reference != first.conversation.reference
    assert second.customer.open_conversation_id == second.conversation.id
    assert repos.conversations.customer_conversation_ids(first.customer.id) == [first.conversation.id,
                                                                                 second.conversation.id]


def test_a_conversation_being_opened_on_a_linked_identity_is_waited_for(repos: Repositories) -> None:
    by_sms = message_event("SM1", identity=SMS, provider="twilio")
    receive(repos, by_sms)
    sms_decision = decide_thread(repos, by_sms.inbox_key, by_sms, NOW, id_key=KEY)  # decided, not applied yet
    by_whatsapp = message_event("wamid.1")
    record = receive(repos, by_whatsapp, later(1))
    with pytest.raises(RetryableError):
        thread_message(repos, record, id_key=KEY)
    after = repos.inbox.get(by_whatsapp.inbox_key)
    assert after is not None and after.thread is None  # nothing decided: the retry decides afresh
    customer = repos.customers.get(sms_decision.customer_id)
    assert customer is not None and customer.open_conversation_id == sms_decision.conversation_id


def test_an_abandoned_claim_is_taken_over(repos: Repositories, monkeypatch: pytest.MonkeyPatch) -> None:
    by_sms = message_event("SM1", identity=SMS, provider="twilio")
    receive(repos, by_sms)
    abandoned = decide_thread(repos, by_sms.inbox_key, by_sms, NOW, id_key=KEY)  # its message then died in the DLQ
    much_later = format_timestamp(parse_timestamp(utc_now()) + timedelta(seconds=ABANDONED_CLAIM_SECONDS + 60))
    monkeypatch.setattr(threading_module, "utc_now", lambda: much_later)
    by_whatsapp = message_event("wamid.1")
    threaded = thread_message(repos, receive(repos, by_whatsapp, later(1)), id_key=KEY)
    assert threaded.opened and threaded.conversation.id == conversation_id_for(by_whatsapp.inbox_key)
    assert threaded.customer.id == abandoned.customer_id  # the same person on the linked identity
    assert threaded.customer.open_conversation_id == threaded.conversation.id != abandoned.conversation_id


def test_a_redelivered_record_changes_nothing(repos: Repositories, store: MemoryStore) -> None:
    event = message_event("wamid.1")
    stale = receive(repos, event)  # as the first attempt read it, before its decision was recorded
    first = thread_message(repos, stale, id_key=KEY)
    before = store.scan()
    again = thread_message(repos, stale, id_key=KEY)
    fresh = repos.inbox.get(event.inbox_key)
    assert fresh is not None and fresh.thread is not None
    once_more = thread_message(repos, fresh, id_key=KEY)
    assert store.scan() == before
    assert again.message == once_more.message == first.message
    assert again.conversation == once_more.conversation == first.conversation
    assert repos.conversations.customer_conversation_ids(first.customer.id) == [first.conversation.id]


def test_a_crash_after_the_decision_is_finished_by_the_redelivery(repos: Repositories) -> None:
    event = message_event("wamid.1")
    record = receive(repos, event)
    repos.inbox.record_thread_decision(event.inbox_key, decide_thread(repos, event.inbox_key, event, NOW, id_key=KEY))
    # The worker died here: the conversation was never created. SQS hands the message over again.
    redelivered = repos.inbox.get(event.inbox_key)
    assert redelivered is not None and record.thread is None and redelivered.thread is not None
    threaded = thread_message(repos, redelivered, id_key=KEY)
    assert threaded.opened and threaded.conversation.id == redelivered.thread.conversation_id
    found = repos.conversations.get_with_messages(threaded.conversation.id)
    assert found is not None and [m.id for m in found[1]] == [message_id_for(event.inbox_key)]


# ------------------------------------------------------------------ the reference the webhook announced
def announced(event: InboundEvent, reference: str, conversation_id: str | None) -> CarriedAcknowledgment:
    return CarriedAcknowledgment(text=f"Thanks, your reference is {reference}.", language="en",
                                 reason="new_conversation", reference=reference, expected_at=None,
                                 conversation_id=conversation_id)


def test_the_announced_reference_names_the_conversation_it_opened(repos: Repositories) -> None:
    event = message_event("wamid.1")
    mine = conversation_id_for(event.inbox_key)
    assert repos.references.reserve("OH-ANNC1", mine)  # what the webhook path reserved and told the customer
    record = receive(repos, event, acknowledgment=announced(event, "OH-ANNC1", mine))
    threaded = thread_message(repos, record, id_key=KEY)
    assert threaded.conversation.reference == "OH-ANNC1"
    assert repos.references.conversation_for("OH-ANNC1") == mine


def test_the_announced_reference_moves_to_the_conversation_joined_meanwhile(repos: Repositories) -> None:
    late = message_event("wamid.2", text="Hello?")
    announced_for = conversation_id_for(late.inbox_key)
    preview = preview_thread(repos, late)  # the webhook answered before the first message was threaded
    assert preview.conversation_id == announced_for
    first = thread_message(repos, receive(repos, message_event("wamid.1")), id_key=KEY)
    record = receive(repos, late, later(1), acknowledgment=announced(late, preview.reference, announced_for))
    threaded = thread_message(repos, record, id_key=KEY)
    assert not threaded.opened and threaded.conversation == repos.conversations.get(first.conversation.id)
    assert repos.references.conversation_for(preview.reference) == first.conversation.id  # still finds the case
    assert repos.references.conversation_for(first.conversation.reference) == first.conversation.id
    assert repos.conversations.get(announced_for) is None


def test_an_acknowledgment_naming_the_open_conversation_moves_nothing(repos: Repositories) -> None:
    first = thread_message(repos, receive(repos, message_event("wamid.1")), id_key=KEY)
    reference = first.conversation.reference
    second = message_event("wamid.2")
    threaded = thread_message(repos, receive(repos, second, later(1),
                                             acknowledgment=announced(second, reference, None)), id_key=KEY)
    assert threaded.conversation.reference == reference
    assert repos.references.conversation_for(reference) == first.conversation.id


def test_a_message_tells_about_its_customer(repos: Repositories) -> None:
    stop = message_event("SM1", identity=SMS, provider="twilio", text="STOP")
    threaded = thread_message(repos, receive(repos, stop), id_key=KEY)
    assert threaded.customer.consent == {"sms": "withdrawn"}
    assert (threaded.customer.name, threaded.customer.language) == ("Maria", "it")  # +39: Italian
