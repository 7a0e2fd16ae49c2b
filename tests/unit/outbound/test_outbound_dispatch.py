"""deliver(): at most once per outbound_id; permanent failures recorded, transient ones retried."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.core.model import Channel, DeliveryStatus
from chalicelib.outbound import (
    DeliveryState,
    InMemoryLedger,
    PermanentSendError,
    Sender,
    SendResult,
    TransientSendError,
    deliver,
)

NOW = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)


class FakeSender:
    provider = "twilio"

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.sent: list = []

    def send(self, job):
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(job)
        return SendResult("twilio", f"SM{len(self.sent)}", DeliveryStatus.QUEUED)


def test_fake_sender_meets_the_protocol():
    assert isinstance(FakeSender(), Sender)


def test_sent_once_whatever_the_redeliveries(make_job):
    sender, ledger, job = FakeSender(), InMemoryLedger(), make_job()
    outcomes = [deliver(job, senders={"twilio": sender}, ledger=ledger, now=NOW) for _ in range(3)]
    assert [o.state for o in outcomes] == [DeliveryState.SENT, DeliveryState.DUPLICATE, DeliveryState.DUPLICATE]
    assert len(sender.sent) == 1
    assert outcomes[0].provider_message_id == "SM1" and outcomes[0].status is DeliveryStatus.QUEUED
    entry = ledger.entries[job.outbound_id]
    assert (entry.state, entry.provider_message_id, entry.status) == ("sent", "SM1", DeliveryStatus.QUEUED)


def test_transient_releases_and_propagates(make_job):
    sender = FakeSender(TransientSendError("busy", provider="twilio", error_code="20429", retry_after=2))
    ledger, job = InMemoryLedger(), make_job()
    with pytest.raises(TransientSendError):
        deliver(job, senders={"twilio": sender}, ledger=ledger, now=NOW)
    assert ledger.entries == {}
    assert deliver(job, senders={"twilio": sender}, ledger=ledger, now=NOW).state is DeliveryState.SENT
    assert len(sender.sent) == 1


def test_permanent_is_recorded_and_never_retried(make_job):
    sender = FakeSender(PermanentSendError("invalid To", provider="twilio", error_code="21211"))
    ledger, job = InMemoryLedger(), make_job()
    outcome = deliver(job, senders={"twilio": sender}, ledger=ledger, now=NOW)
    assert (outcome.state, outcome.error_code, outcome.status) == (DeliveryState.FAILED, "21211",
                                                                   DeliveryStatus.FAILED)
    assert ledger.entries[job.outbound_id].reason == "twilio: invalid To (code 21211)"
    assert deliver(job, senders={"twilio": sender}, ledger=ledger, now=NOW).state is DeliveryState.DUPLICATE
    assert sender.sent == []


def test_rules_refusal_never_reaches_the_sender(make_job):
    sender, ledger = FakeSender(), InMemoryLedger()
    job = make_job(channel=Channel.WHATSAPP, customer_last_inbound_at="2026-11-01T00:00:00Z")
    outcome = deliver(job, senders={"twilio": sender}, ledger=ledger, now=NOW)
    assert outcome.state is DeliveryState.FAILED and outcome.error_code == "window_closed"
    assert sender.sent == []


def test_unknown_provider_is_a_permanent_failure(make_job):
    outcome = deliver(make_job(provider="vonage"), senders={}, ledger=InMemoryLedger(), now=NOW)
    assert outcome.state is DeliveryState.FAILED and outcome.error_code == "sender_not_configured"


def test_unexpected_error_releases_the_claim(make_job):
    sender, ledger, job = FakeSender(RuntimeError("bug")), InMemoryLedger(), make_job()
    with pytest.raises(RuntimeError):
        deliver(job, senders={"twilio": sender}, ledger=ledger, now=NOW)
    assert job.outbound_id not in ledger.entries


def test_outcome_carries_the_job_as_sent(make_job):
    sender = FakeSender()
    job = make_job(channel=Channel.MESSENGER, provider="twilio", to="psid", kind="agent_reply",
                   customer_last_inbound_at="2026-11-20T21:00:00Z")
    outcome = deliver(job, senders={"twilio": sender}, ledger=InMemoryLedger(), now=NOW)
    assert outcome.job.messaging_tag == "HUMAN_AGENT" and sender.sent[0].messaging_tag == "HUMAN_AGENT"


def test_an_ambiguous_failure_is_recorded_not_resent(make_job):
    """A read timeout may have delivered the message: resending could give the customer it twice."""
    sender = FakeSender(
        TransientSendError("read timeout", provider="twilio", error_code="read_timeout", ambiguous=True)
    )
    ledger, job = InMemoryLedger(), make_job()
    outcome = deliver(job, senders={"twilio": sender}, ledger=ledger, now=NOW)
    assert outcome.state is DeliveryState.FAILED and outcome.error_code == "outcome_unknown"
    assert deliver(job, senders={"twilio": sender}, ledger=ledger, now=NOW).state is DeliveryState.DUPLICATE
    assert sender.sent == []


def test_an_ambiguous_failure_is_retried_where_the_provider_dedupes(make_job):
    job = make_job(channel=Channel.LINE, provider="line", to="U4af4980629a1b2c3d4e5f6071829304a")
    sender = FakeSender(TransientSendError("read timeout", provider="line", error_code="read_timeout", ambiguous=True))
    sender.provider = "line"
    with pytest.raises(TransientSendError):
        deliver(job, senders={"line": sender}, ledger=InMemoryLedger(), now=NOW)


class FlakyRecordLedger(InMemoryLedger):
    """The store throttles the first writes of a send's outcome (the ledger test's fault)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def record_sent(self, outbound_id, provider_message_id, status):
        if self.failures:
            self.failures -= 1
            from chalicelib.core.errors import StoreUnavailable

            raise StoreUnavailable("throttled")
        super().record_sent(outbound_id, provider_message_id, status)


def test_a_sent_message_is_recorded_even_when_the_store_throttles_the_record(make_job):
    sender, ledger, job = FakeSender(), FlakyRecordLedger(failures=2), make_job()
    outcome = deliver(job, senders={"twilio": sender}, ledger=ledger, now=NOW)
    assert outcome.state is DeliveryState.SENT and len(sender.sent) == 1
    assert ledger.entries[job.outbound_id].state == "sent"  # not left "claimed" for a retry to drop


def test_a_store_down_for_longer_leaves_the_claim_and_sends_nothing_again(make_job):
    from chalicelib.core.errors import StoreUnavailable

    sender, ledger, job = FakeSender(), FlakyRecordLedger(failures=10), make_job()
    with pytest.raises(StoreUnavailable):
        deliver(job, senders={"twilio": sender}, ledger=ledger, now=NOW)
    assert deliver(job, senders={"twilio": sender}, ledger=ledger, now=NOW).state is DeliveryState.DUPLICATE
    assert len(sender.sent) == 1
