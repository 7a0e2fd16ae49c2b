"""Placing an outbound message on the twins: one message per outbound id, stored with its job or as sent."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.adapters.memory import MemoryStore, memory_repositories
from chalicelib.adapters.memory.store import MessageEntry
from chalicelib.core.model import Channel, DeliveryStatus
from chalicelib.core.ports import Repositories
from chalicelib.outbound.job import OutboundJob, OutboundKind
from chalicelib.outbound.outbox import (
    DELIVERED_IN_CONVERSATION,
    DELIVERED_IN_WEBHOOK_RESPONSE,
    OutboundDraft,
    enqueue_job,
    place_outbound,
    record_delivered,
)

PHONE = "+393331234567"


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def repos(store: MemoryStore) -> Repositories:
    return memory_repositories(store)


def draft(channel: Channel = Channel.SMS, *, to: str = PHONE, inbound_provider: str | None = "twilio",
          **changes: Any) -> OutboundDraft:
    values: dict[str, Any] = {
        "outbound_id": "out_rep_1", "conversation_id": "cnv_1", "kind": OutboundKind.AGENT_REPLY, "channel": channel,
        "to": to, "created_at": "2026-11-18T09:05:00.000Z", "text": "Your parcel left today.", "language": "en",
        "reference": "OH-7K3Q9", "customer_last_inbound_at": "2026-11-18T09:00:00.000Z",
        "inbound_provider": inbound_provider, "inbound_metadata": {"to": "+15005550006", "country": "IT"},
    }
    values.update(changes)
    return OutboundDraft(**values)


def only_message(store: MemoryStore) -> MessageEntry:
    [entry] = store.records("messages")
    return entry


def test_a_message_is_stored_queued_with_the_job_the_relay_sends(repos: Repositories, store: MemoryStore) -> None:
    placed = place_outbound(repos.messages, draft(), environ={})
    assert (placed.stored, placed.queued) == (True, True)
    entry = only_message(store)
    assert entry.message == placed.message
    assert (entry.message.status, entry.message.provider, entry.kind) == (DeliveryStatus.QUEUED, "twilio",
                                                                          "agent_reply")
    [job] = store.jobs()
    assert entry.job == job
    assert OutboundJob.from_dict(job) == draft().job("twilio")
    assert job["sender_hints"] == {"from": "+15005550006"}  # the reply leaves by the number written to


def test_a_retry_places_nothing_new(repos: Repositories, store: MemoryStore) -> None:
    place_outbound(repos.messages, draft(), environ={})
    again = place_outbound(repos.messages, draft(text="edited meanwhile"), environ={})
    assert (again.stored, again.queued) == (False, True)
    assert only_message(store).message.text == "Your parcel left today."
    assert len(store.jobs()) == 1


@pytest.mark.parametrize(
    ("channel", "inbound_provider", "environ", "provider"),
    [
        (Channel.SMS, None, {}, "twilio"),
        (Channel.SMS, "vonage", {}, "vonage"),  # the reply leaves the way the customer wrote
        (Channel.WHATSAPP, None, {"OMNIHUB_WHATSAPP_PROVIDER": "meta"}, "meta"),
        (Channel.WHATSAPP, "twilio", {"OMNIHUB_WHATSAPP_PROVIDER": "meta"}, "twilio"),
        (Channel.TELEGRAM, "telegram", {}, "telegram"),
    ],
)
def test_the_provider_is_chosen_for_the_channel(repos: Repositories, store: MemoryStore, channel: Channel,
                                                inbound_provider: str | None, environ: dict[str, str],
                                                provider: str) -> None:
    to = "12345678" if channel is Channel.TELEGRAM else PHONE
    placed = place_outbound(repos.messages, draft(channel, to=to, inbound_provider=inbound_provider), environ)
    assert placed.queued and placed.message.provider == provider
    [job] = store.jobs()
    assert job["provider"] == provider


def test_web_chat_is_stored_sent_in_the_conversation(repos: Repositories, store: MemoryStore) -> None:
    web = draft(Channel.WEBCHAT, to="visitor-42", inbound_provider="api")
    placed = place_outbound(repos.messages, web, environ={})
    assert (placed.stored, placed.queued, placed.message.status) == (True, False, DeliveryStatus.SENT)
    entry = only_message(store)
    assert (entry.delivered_in, entry.job, entry.message.provider) == (DELIVERED_IN_CONVERSATION, None, None)
    assert store.jobs() == []
    assert place_outbound(repos.messages, web, environ={}).stored is False


def test_what_the_webhook_response_said_is_recorded_as_sent(repos: Repositories, store: MemoryStore) -> None:
    said = draft(kind=OutboundKind.ACKNOWLEDGMENT)
    first = record_delivered(repos.messages, said, provider="twilio", delivered_in=DELIVERED_IN_WEBHOOK_RESPONSE)
    again = record_delivered(repos.messages, said, provider="twilio", delivered_in=DELIVERED_IN_WEBHOOK_RESPONSE)
    assert (first.stored, again.stored, first.queued) == (True, False, False)
    entry = only_message(store)
    assert (entry.message.status, entry.message.provider, entry.delivered_in, entry.kind) == (
        DeliveryStatus.SENT, "twilio", DELIVERED_IN_WEBHOOK_RESPONSE, "acknowledgment")
    assert store.jobs() == []


def test_a_ready_job_is_enqueued_once(repos: Repositories, store: MemoryStore, make_job: Any) -> None:
    job = make_job(conversation_id="cnv_1", kind=OutboundKind.BROADCAST)
    assert enqueue_job(repos.messages, job) is True
    assert enqueue_job(repos.messages, job) is False
    assert store.jobs() == [job.to_dict()]
    assert only_message(store).message.status is DeliveryStatus.QUEUED


def test_a_misconfigured_provider_never_records_the_message_as_sent(repos: Repositories) -> None:
    from chalicelib.outbound.registry import NoOutboundProvider

    with pytest.raises(NoOutboundProvider):
        place_outbound(repos.messages, draft(inbound_provider=None), {"OMNIHUB_SMS_PROVIDER": "meta"})
    assert repos.messages.find(draft().conversation_id, draft().outbound_id) is None


def test_a_channel_without_a_sender_is_refused_not_recorded_as_sent(repos: Repositories, store: MemoryStore) -> None:
    """Voice has no push sender: only web chat's customer reads our messages from the conversation."""
    from chalicelib.outbound.registry import NoOutboundProvider

    with pytest.raises(NoOutboundProvider):
        place_outbound(repos.messages, draft(Channel.VOICE, inbound_provider=None), environ={})
    assert store.records("messages") == []
