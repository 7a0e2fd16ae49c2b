"""The outbound worker's use case on the twins: a job is sent at most once, and its outcome recorded."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.adapters.memory import MemoryStore, memory_repositories
from chalicelib.core.errors import PermanentError, RetryableError
from chalicelib.core.model import (
    Channel,
    Conversation,
    ConversationStatus,
    Customer,
    DeliveryStatus,
    Identity,
    Message,
    Priority,
)
from chalicelib.core.ports import Repositories
from chalicelib.outbound import DeliveryState, PermanentSendError, SendResult, TransientSendError
from chalicelib.outbound.delivery import DELIVERY_LEASE_SECONDS, OutboundPorts, deliver_outbound_job
from chalicelib.outbound.job import OutboundJob, OutboundKind
from chalicelib.outbound.outbox import OutboundDraft, place_outbound
from chalicelib.outbound.rules import ChannelRulesConfig

PHONE = "+393331234567"
NOW = datetime(2026, 11, 18, 9, 10, tzinfo=UTC)


class FakeSender:
    """Twilio as far as the use case can tell: the failures it is given first, then SM1, SM2, ..."""

    provider = "twilio"

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.sent: list[OutboundJob] = []

    def send(self, job: OutboundJob) -> SendResult:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(job)
        return SendResult("twilio", f"SM{len(self.sent)}", DeliveryStatus.SENT)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def repos(store: MemoryStore) -> Repositories:
    repos = memory_repositories(store)
    repos.customers.create(Customer(id="cus_1", name="Maria", language="it", tier="standard",
                                    identities=(Identity(Channel.SMS, PHONE),), created_at="2026-11-01T00:00:00.000Z"))
    repos.conversations.create(Conversation(
        id="cnv_1", reference="OH-7K3Q9", status=ConversationStatus.OPEN, priority=Priority.NORMAL, route="default",
        customer_id="cus_1", channel=Channel.SMS, created_at="2026-11-18T09:00:00.000Z",
        updated_at="2026-11-18T09:00:00.000Z", last_inbound_at="2026-11-18T09:00:00.000Z"))
    return repos


@pytest.fixture
def body(repos: Repositories, store: MemoryStore) -> dict[str, Any]:
    """The job an agent's reply placed, as the relay puts it on outbound.fifo."""
    place_outbound(repos.messages, OutboundDraft(
        outbound_id="out_rep_1", conversation_id="cnv_1", kind=OutboundKind.AGENT_REPLY, channel=Channel.SMS,
        to=PHONE, created_at="2026-11-18T09:05:00.000Z", text="Your parcel left today.",
        customer_last_inbound_at="2026-11-18T09:00:00.000Z", inbound_provider="twilio"), environ={})
    [job] = store.jobs()
    return job


def ports(repos: Repositories, sender: FakeSender) -> OutboundPorts:
    return OutboundPorts(repos=repos, senders={"twilio": sender}, rules=ChannelRulesConfig())


def the_message(repos: Repositories) -> Message:
    found = repos.messages.find("cnv_1", "out_rep_1")
    assert found is not None
    return found


def the_claim(store: MemoryStore) -> tuple[str, dict[str, Any] | None]:
    [claim] = store.records("claims")
    return claim.state, claim.detail


def test_a_job_is_sent_once_whatever_the_redeliveries(repos: Repositories, store: MemoryStore,
                                                      body: dict[str, Any]) -> None:
    sender = FakeSender()
    outcomes = [deliver_outbound_job(body, ports(repos, sender), NOW) for _ in range(3)]
    assert [o.state for o in outcomes] == [DeliveryState.SENT, DeliveryState.DUPLICATE, DeliveryState.DUPLICATE]
    assert [job.text for job in sender.sent] == ["Your parcel left today."]
    message = the_message(repos)
    assert (message.status, message.provider, message.provider_message_id) == (DeliveryStatus.SENT, "twilio", "SM1")
    assert the_claim(store) == ("sent", {"provider_message_id": "SM1"})


def test_a_permanent_refusal_is_recorded_and_never_retried(repos: Repositories, store: MemoryStore,
                                                           body: dict[str, Any]) -> None:
    sender = FakeSender(PermanentSendError("invalid To", provider="twilio", error_code="21211"))
    outcome = deliver_outbound_job(body, ports(repos, sender), NOW)
    assert (outcome.state, outcome.error_code) == (DeliveryState.FAILED, "21211")
    assert (the_message(repos).status, the_message(repos).error_code) == (DeliveryStatus.FAILED, "21211")
    assert the_claim(store) == ("failed", {"code": "21211", "reason": "twilio: invalid To (code 21211)"})
    assert deliver_outbound_job(body, ports(repos, sender), NOW).state is DeliveryState.DUPLICATE
    assert sender.sent == []


def test_a_customer_who_opted_out_is_not_sent_anything(repos: Repositories, body: dict[str, Any]) -> None:
    repos.customers.set_consent("cus_1", Channel.SMS, "withdrawn", "2026-11-18T09:06:00.000Z")  # STOP meanwhile
    sender = FakeSender()
    outcome = deliver_outbound_job(body, ports(repos, sender), NOW)
    assert (outcome.state, outcome.error_code) == (DeliveryState.FAILED, "opted_out")
    assert sender.sent == []
    assert (the_message(repos).status, the_message(repos).error_code) == (DeliveryStatus.FAILED, "opted_out")


def test_a_transient_failure_gives_the_claim_back_for_the_retry(repos: Repositories, store: MemoryStore,
                                                                body: dict[str, Any]) -> None:
    sender = FakeSender(TransientSendError("busy", provider="twilio", error_code="20429", retry_after=2))
    with pytest.raises(TransientSendError):
        deliver_outbound_job(body, ports(repos, sender), NOW)
    assert store.records("claims") == [] and the_message(repos).status is DeliveryStatus.QUEUED
    assert deliver_outbound_job(body, ports(repos, sender), NOW).state is DeliveryState.SENT
    assert len(sender.sent) == 1


def test_an_ambiguous_failure_is_recorded_rather_than_risk_a_second_copy(repos: Repositories,
                                                                         body: dict[str, Any]) -> None:
    sender = FakeSender(TransientSendError("read timeout", provider="twilio", ambiguous=True))
    outcome = deliver_outbound_job(body, ports(repos, sender), NOW)
    assert (outcome.state, outcome.error_code) == (DeliveryState.FAILED, "outcome_unknown")
    assert the_message(repos).status is DeliveryStatus.FAILED


def test_a_status_callback_faster_than_the_senders_answer_still_counts(repos: Repositories,
                                                                        body: dict[str, Any]) -> None:
    assert repos.messages.apply_delivery_status("twilio", "SM1", DeliveryStatus.DELIVERED, None) is False
    deliver_outbound_job(body, ports(repos, FakeSender()), NOW)
    assert (the_message(repos).status, the_message(repos).provider_message_id) == (DeliveryStatus.DELIVERED, "SM1")


def test_a_crashed_attempt_is_taken_over_once_its_lease_ran_out(repos: Repositories, body: dict[str, Any]) -> None:
    sender = FakeSender()
    repos.deliveries.claim("out_rep_1", DELIVERY_LEASE_SECONDS, now=time.time())  # a worker is sending right now
    assert deliver_outbound_job(body, ports(repos, sender), NOW).state is DeliveryState.DUPLICATE
    repos.deliveries.release("out_rep_1")
    repos.deliveries.claim("out_rep_1", DELIVERY_LEASE_SECONDS, now=time.time() - DELIVERY_LEASE_SECONDS - 5)
    assert deliver_outbound_job(body, ports(repos, sender), NOW).state is DeliveryState.SENT  # that one crashed
    assert len(sender.sent) == 1


def test_a_job_for_an_unknown_conversation_is_permanent(repos: Repositories, body: dict[str, Any]) -> None:
    with pytest.raises(PermanentError):
        deliver_outbound_job({**body, "conversation_id": "cnv_gone"}, ports(repos, FakeSender()), NOW)


def test_a_customer_not_readable_yet_is_retried(body: dict[str, Any]) -> None:
    repos = memory_repositories(MemoryStore())
    repos.conversations.create(Conversation(
        id="cnv_1", reference="OH-7K3Q9", status=ConversationStatus.OPEN, priority=Priority.NORMAL, route="default",
        customer_id="cus_missing", channel=Channel.SMS, created_at="2026-11-18T09:00:00.000Z",
        updated_at="2026-11-18T09:00:00.000Z"))
    with pytest.raises(RetryableError):
        deliver_outbound_job(body, ports(repos, FakeSender()), NOW)
