"""An agent's reply on Messenger, Instagram and X: public or private on a public conversation, the
messaging windows and the HUMAN_AGENT tag checked when the reply is posted (409 with the reason)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.adapters.memory import MemoryBus, MemoryStore, memory_repositories
from chalicelib.api.replies import reply_to_conversation
from chalicelib.conversations.inbound import WorkerPorts, handle_inbound_event
from chalicelib.core.errors import BadRequest, Conflict
from chalicelib.core.model import Channel, EventKind, Identity, InboundEvent, Sender
from chalicelib.core.ports import Repositories
from chalicelib.core.timestamps import format_timestamp
from tests.unit.conftest import test_id_key

PAGE = "106445795700891"
PSID = "6543210987654321"


@pytest.fixture
def repos() -> Repositories:
    return memory_repositories(MemoryStore())


def ago(**delta: float) -> str:
    return format_timestamp(datetime.now(UTC) - timedelta(**delta))


def threaded(repos: Repositories, *, days: float, public: bool = False, channel: Channel = Channel.MESSENGER) -> str:
    """A customer's message received ``days`` ago, threaded; returns its conversation id."""
    at = ago(days=days)
    metadata = {"page_id": PAGE}
    if public:
        metadata.update(public="true", post_id=f"{PAGE}_1", comment_id="1_2", permalink="https://facebook.com/p/1")
    event = InboundEvent(provider="meta", event_id=f"m_{days}_{public}", kind=EventKind.MESSAGE, channel=channel,
                         occurred_at=at, sender=Sender(Identity(channel, PSID)), text="hello",
                         provider_message_id=f"m_{days}_{public}", metadata=metadata)
    repos.inbox.put(event, endpoint="meta", received_at=at, raw_body=b"{}", content_type="application/json")
    ports = WorkerPorts(repos=repos, bus=MemoryBus(), id_key=test_id_key)  # type: ignore[arg-type]
    handle_inbound_event(event.inbox_key, ports)
    record = repos.inbox.get(event.inbox_key)
    assert record is not None and record.thread is not None
    return record.thread.conversation_id


def job_of(repos: Repositories, outbound_id: str) -> dict[str, object]:
    store = repos.messages.store  # type: ignore[attr-defined]  # the memory twin
    [job] = [entry.job for entry in store.messages.values() if entry.message.id == outbound_id and entry.job]
    return job


def test_within_24_hours_a_reply_goes_out_with_the_page_hint(repos: Repositories) -> None:
    conversation = threaded(repos, days=0.5)
    accepted = reply_to_conversation(repos, conversation, {"text": "Hi"}, environ={})
    job = job_of(repos, accepted["id"])
    assert job["sender_hints"] == {"page_id": PAGE} and "reply_to" not in job


def test_after_7_days_a_messenger_reply_is_refused_with_the_reason(repos: Repositories) -> None:
    conversation = threaded(repos, days=8)
    with pytest.raises(Conflict, match="HUMAN_AGENT tag only within 7 days"):
        reply_to_conversation(repos, conversation, {"text": "Sorry for the wait"}, environ={})
    assert all(entry.job is None for entry in repos.messages.store.messages.values())  # type: ignore[attr-defined]


@pytest.mark.parametrize(("setting", "allowed"), [(None, True), (PAGE, True), ("999,888", False), ("none", False)])
def test_human_agent_only_where_the_page_has_it(repos: Repositories, setting: str | None, allowed: bool) -> None:
    conversation = threaded(repos, days=2)
    environ = {} if setting is None else {"OMNIHUB_HUMAN_AGENT_PAGES": setting}
    if allowed:
        accepted = reply_to_conversation(repos, conversation, {"text": "Back to you"}, environ=environ)
        assert accepted["status"] == "queued"
    else:
        with pytest.raises(Conflict, match="OMNIHUB_HUMAN_AGENT_PAGES"):
            reply_to_conversation(repos, conversation, {"text": "Back to you"}, environ=environ)


def test_a_public_reply_is_allowed_whenever_and_a_private_one_within_7_days_of_the_comment(
    repos: Repositories,
) -> None:
    conversation = threaded(repos, days=10, public=True)
    accepted = reply_to_conversation(repos, conversation, {"text": "Sorry!"}, environ={})
    target = job_of(repos, accepted["id"])["reply_to"]
    assert isinstance(target, dict) and (target["kind"], target["id"]) == ("public", "1_2")
    assert target["created_at"] < ago(days=9)  # the comment's own time: the private-reply window counts from it
    with pytest.raises(Conflict, match="7 days"):
        reply_to_conversation(repos, conversation, {"text": "Psst", "private": True}, environ={})


def test_private_needs_a_public_conversation_and_a_boolean(repos: Repositories) -> None:
    conversation = threaded(repos, days=0.1)
    with pytest.raises(BadRequest, match="private applies"):
        reply_to_conversation(repos, conversation, {"text": "x", "private": True}, environ={})
    with pytest.raises(BadRequest, match="true or false"):
        reply_to_conversation(repos, conversation, {"text": "x", "private": "yes"}, environ={})


def test_a_retried_post_returns_the_first_reply_even_after_the_window_closed(repos: Repositories) -> None:
    conversation = threaded(repos, days=0.5)
    first = reply_to_conversation(repos, conversation, {"text": "Hi"}, environ={}, idempotency_key="k-1")
    again = reply_to_conversation(repos, conversation, {"text": "Hi"}, environ={}, idempotency_key="k-1")
    assert again["id"] == first["id"]


def test_an_x_block_withdraws_consent_and_replies_are_refused_until_unblocked(repos: Repositories) -> None:
    from tests.unit.conversations.test_public_conversations import parsed

    ports = WorkerPorts(repos=repos, bus=MemoryBus(), id_key=test_id_key)  # type: ignore[arg-type]
    [dm] = parsed("x", "dm.json")
    [block] = parsed("x", "block.json")
    [unblock] = parsed("x", "unblock.json")
    for event in (dm, block):
        repos.inbox.put(event, endpoint="x", received_at=ago(seconds=5), raw_body=b"{}", content_type=None)
        handle_inbound_event(event.inbox_key, ports)
    record = repos.inbox.get(dm.inbox_key)
    assert record is not None and record.thread is not None
    customer = repos.customers.get(record.thread.customer_id)
    assert customer is not None and customer.consent == {"x": "withdrawn"}
    with pytest.raises(Conflict, match="withdrew consent on x"):
        reply_to_conversation(repos, record.thread.conversation_id, {"text": "Hello?"}, environ={})
    repos.inbox.put(unblock, endpoint="x", received_at=ago(seconds=1), raw_body=b"{}", content_type=None)
    assert handle_inbound_event(unblock.inbox_key, ports) == "consent_granted"
    assert reply_to_conversation(repos, record.thread.conversation_id, {"text": "Hello?"}, environ={})["id"]


def test_the_outbound_worker_sends_nothing_in_a_thread_another_app_owns(repos: Repositories) -> None:
    from chalicelib.outbound.delivery import OutboundPorts, deliver_outbound_job
    from chalicelib.outbound.dispatch import DeliveryState
    from chalicelib.outbound.rules import ChannelRulesConfig

    conversation = threaded(repos, days=0.1)
    accepted = reply_to_conversation(repos, conversation, {"text": "Hi"}, environ={})
    repos.conversations.record_thread_owner(conversation, "other", ago(seconds=1))

    class NeverCalled:
        provider = "meta"

        def send(self, job: object) -> object:
            raise AssertionError("nothing may be sent while another app owns the thread")

    outcome = deliver_outbound_job(job_of(repos, accepted["id"]), OutboundPorts(
        repos=repos, senders={"meta": NeverCalled()}, rules=ChannelRulesConfig()))
    assert outcome.state is DeliveryState.FAILED and outcome.error_code == "thread_not_ours"
    stored = repos.messages.find(conversation, accepted["id"])
    assert stored is not None and stored.status.value == "failed"
