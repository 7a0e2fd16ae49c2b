"""The worker's side of acknowledgments on the twins: store what the webhook said, or decide and place one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.acknowledgments import Policy, load_policy
from chalicelib.acknowledgments.flow import acknowledge_threaded
from chalicelib.adapters.memory import MemoryStore, memory_repositories
from chalicelib.adapters.memory.store import MessageEntry
from chalicelib.conversations.threading import Threaded, thread_message
from chalicelib.core.ids import acknowledgment_id_for
from chalicelib.core.model import Channel, DeliveryStatus, Direction, EventKind, Identity, InboundEvent, Sender
from chalicelib.core.ports import Repositories
from chalicelib.core.records import CarriedAcknowledgment
from chalicelib.core.timestamps import format_timestamp, parse_timestamp, utc_now
from tests.unit.conftest import test_id_key

PHONE = "+393331234567"


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def repos(store: MemoryStore) -> Repositories:
    return memory_repositories(store)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy()


def threaded(repos: Repositories, event_id: str, *, channel: Channel = Channel.WHATSAPP, provider: str = "meta",
             address: str = PHONE, text: str = "My parcel has not arrived", minutes_ago: float = 0,
             carried: CarriedAcknowledgment | None = None) -> Threaded:
    """A customer's message, just received (an acknowledgment is only for a fresh message), threaded."""
    at = format_timestamp(parse_timestamp(utc_now()) - timedelta(minutes=minutes_ago))
    event = InboundEvent(provider=provider, event_id=event_id, kind=EventKind.MESSAGE, channel=channel,
                         occurred_at=at, sender=Sender(Identity(channel, address), name="Maria"), text=text,
                         metadata={"phone_number_id": "1065"} if provider == "meta" else {})
    repos.inbox.put(event, endpoint=provider, received_at=at, raw_body=b"{}", content_type="application/json",
                    acknowledgment=carried)
    record = repos.inbox.get(event.inbox_key)
    assert record is not None
    return thread_message(repos, record, id_key=test_id_key)


def outbound_entries(store: MemoryStore) -> list[MessageEntry]:
    return [e for e in store.records("messages") if e.message.direction is Direction.OUTBOUND]


def case_carried(repos: Repositories, case: Threaded) -> CarriedAcknowledgment | None:
    record = repos.inbox.get(case.message.inbox_key or "")
    assert record is not None
    return record.acknowledgment


def test_an_acknowledgment_said_in_the_webhook_response_is_stored_as_sent(repos: Repositories, store: MemoryStore,
                                                                          policy: Policy) -> None:
    carried = CarriedAcknowledgment(text="Thanks Maria, your reference is OH-7K3Q9.", language="en",
                                    reason="new_conversation", reference="OH-7K3Q9", expected_at=None,
                                    conversation_id=None)
    case = threaded(repos, "SM1", channel=Channel.SMS, provider="twilio", carried=carried)
    for _ in range(2):  # a redelivered inbound message
        result = acknowledge_threaded(case, case_carried(repos, case), messages=repos.messages, policy=policy,
                                      environ={})
        assert result == "acknowledged_in_response"
    [entry] = outbound_entries(store)
    assert entry.message.id == acknowledgment_id_for(case.message.inbox_key or "")
    assert (entry.message.status, entry.message.provider, entry.message.text) == (
        DeliveryStatus.SENT, "twilio", carried.text)
    assert (entry.kind, entry.delivered_in, entry.job) == ("acknowledgment", "webhook_response", None)
    assert store.jobs() == []  # said already: nothing for a sender


def test_a_decided_acknowledgment_is_placed_with_its_job(repos: Repositories, store: MemoryStore,
                                                         policy: Policy) -> None:
    case = threaded(repos, "wamid.1")
    results = [acknowledge_threaded(case, None, messages=repos.messages, policy=policy, environ={})
               for _ in range(2)]
    assert results == ["acknowledgment_queued"] * 2  # the retry lands on the same message
    [entry] = outbound_entries(store)
    [job] = store.jobs()
    assert entry.job == job and entry.message.status is DeliveryStatus.QUEUED
    assert job["outbound_id"] == entry.message.id == acknowledgment_id_for(case.message.inbox_key or "")
    assert (job["kind"], job["channel"], job["provider"], job["to"]) == ("acknowledgment", "whatsapp", "meta", PHONE)
    assert job["reference"] == case.conversation.reference and case.conversation.reference in job["text"]
    assert job["sender_hints"] == {"phone_number_id": "1065"}  # the reply leaves by the number written to
    assert job["created_at"] == case.message.created_at


def test_web_chat_has_no_sender_so_the_acknowledgment_is_stored_sent_in_the_conversation(
    repos: Repositories, store: MemoryStore, policy: Policy
) -> None:
    case = threaded(repos, "chat-1", channel=Channel.WEBCHAT, provider="api", address="visitor-42")
    assert acknowledge_threaded(case, None, messages=repos.messages, policy=policy,
                                environ={}) == "acknowledged_in_conversation"
    [entry] = outbound_entries(store)
    assert (entry.message.status, entry.delivered_in, entry.job) == (DeliveryStatus.SENT, "conversation", None)
    assert case.conversation.reference in (entry.message.text or "")
    found = repos.conversations.get_with_messages(case.conversation.id)
    assert found is not None and [m.direction for m in found[1]] == [Direction.INBOUND, Direction.OUTBOUND]


@pytest.mark.parametrize(("text", "reason"), [("STOP", "opt_out_keyword"), ("START", "consent_keyword")])
def test_a_consent_keyword_is_not_acknowledged(repos: Repositories, store: MemoryStore, policy: Policy,
                                               text: str, reason: str) -> None:
    case = threaded(repos, "SM1", channel=Channel.SMS, provider="twilio", text=text)
    assert acknowledge_threaded(case, None, messages=repos.messages, policy=policy,
                                environ={}) == f"not_acknowledged:{reason}"
    assert outbound_entries(store) == [] and store.jobs() == []


def test_a_second_message_soon_after_is_not_acknowledged_again(repos: Repositories, store: MemoryStore,
                                                               policy: Policy) -> None:
    first = threaded(repos, "wamid.1", minutes_ago=3)
    acknowledge_threaded(first, None, messages=repos.messages, policy=policy, environ={})
    second = threaded(repos, "wamid.2", text="Any news?")
    assert not second.opened and second.previous_inbound_at == first.message.created_at
    assert acknowledge_threaded(second, None, messages=repos.messages, policy=policy,
                                environ={}) == "not_acknowledged:within_quiet_period"
    assert len(store.jobs()) == 1


def test_a_message_after_the_quiet_period_is_acknowledged_again(repos: Repositories, store: MemoryStore,
                                                                policy: Policy) -> None:
    threaded(repos, "wamid.1", minutes_ago=45)
    later = threaded(repos, "wamid.2", text="Hello again?")
    assert acknowledge_threaded(later, None, messages=repos.messages, policy=policy,
                                environ={}) == "acknowledgment_queued"
    assert [job["outbound_id"] for job in store.jobs()] == [acknowledgment_id_for(later.message.inbox_key or "")]


def test_a_customer_who_withdrew_consent_is_not_acknowledged(repos: Repositories, store: MemoryStore,
                                                             policy: Policy) -> None:
    threaded(repos, "SM1", channel=Channel.SMS, provider="twilio", text="STOP", minutes_ago=5)
    case = threaded(repos, "SM2", channel=Channel.SMS, provider="twilio", text="Where is my parcel?")
    assert case.customer.consent == {"sms": "withdrawn"}
    assert acknowledge_threaded(case, None, messages=repos.messages, policy=policy,
                                environ={}) == "not_acknowledged:consent_withdrawn"
    assert store.jobs() == []


def test_without_a_policy_nothing_is_decided(repos: Repositories, store: MemoryStore) -> None:
    case = threaded(repos, "wamid.1")
    assert acknowledge_threaded(case, None, messages=repos.messages, policy=None, environ={}) == "not_acknowledged"
    assert outbound_entries(store) == []
