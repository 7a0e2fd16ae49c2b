"""deliver() with the senders built from configuration, pointed at the sandbox by environment alone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.adapters.settings import Settings
from chalicelib.core.model import Channel, DeliveryStatus
from chalicelib.outbound import (
    ChannelRulesConfig,
    DeliveryState,
    InMemoryLedger,
    TransientSendError,
    build_senders,
    deliver,
    provider_for,
)
from devstack.sandbox import sandbox_environment

NOW = datetime(2026, 11, 22, 21, 0, tzinfo=UTC)
SECRETS = {
    "TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000000", "TWILIO_AUTH_TOKEN": "tw",
    "META_ACCESS_TOKEN": "meta", "TELEGRAM_BOT_TOKEN": "123:tg", "LINE_CHANNEL_ACCESS_TOKEN": "line",
    "VIBER_AUTH_TOKEN": "viber", "X_BEARER_TOKEN": "x", "VONAGE_API_KEY": "k", "VONAGE_API_SECRET": "s",
}


class DictSecrets:
    """SecretSource's interface over a dict (no Secrets Manager in these tests)."""

    def __init__(self, values):
        self.values = values

    def get(self, name):
        return self.values.get(name)

    def get_many(self, names):
        return {name: self.values[name] for name in names if self.values.get(name)}


@pytest.fixture
def senders(sandbox):
    environ = {**sandbox_environment(sandbox.base_url), **SECRETS, "OMNIHUB_TWILIO_FROM": "+15005550006",
               "PUBLIC_BASE_URL": "https://hub.example.com"}
    settings = Settings.from_environ(environ)
    return build_senders(settings, DictSecrets(SECRETS))


def test_every_provider_is_reached_through_the_sandbox(sandbox, senders, make_job):
    jobs = [
        make_job(outbound_id="o-sms"),
        make_job(outbound_id="o-wa", channel=Channel.WHATSAPP, provider="meta",
                 sender_hints={"phone_number_id": "77"}),
        make_job(outbound_id="o-tg", channel=Channel.TELEGRAM, provider="telegram", to="42"),
        make_job(outbound_id="o-line", channel=Channel.LINE, provider="line", to="U" + "d" * 32),
        make_job(outbound_id="o-viber", channel=Channel.VIBER, provider="viber", to="v1="),
        make_job(outbound_id="o-x", channel=Channel.X, provider="x", to="12"),
        make_job(outbound_id="o-vonage", provider="vonage", sender_hints={"from": "Acme"}),
    ]
    ledger = InMemoryLedger()
    outcomes = [deliver(job, senders=senders, ledger=ledger, now=NOW) for job in jobs]
    assert [o.state for o in outcomes] == [DeliveryState.SENT] * len(jobs)
    assert sorted(r["provider"] for r in sandbox.outbox()) == sorted(
        ["twilio", "meta", "telegram", "line", "viber", "x", "vonage"])
    assert sandbox.outbox(provider="twilio")[0]["body"]["StatusCallback"] == (
        "https://hub.example.com/webhooks/twilio/status")


def test_one_outbound_id_is_sent_once(sandbox, senders, make_job):
    ledger = InMemoryLedger()
    job = make_job()
    first = deliver(job, senders=senders, ledger=ledger, now=NOW)
    second = deliver(job, senders=senders, ledger=ledger, now=NOW)
    assert first.state is DeliveryState.SENT and second.state is DeliveryState.DUPLICATE
    assert len(sandbox.outbox()) == 1
    assert ledger.entries[job.outbound_id].provider_message_id == first.provider_message_id


def test_transient_failure_is_retried_then_sent_once(sandbox, senders, make_job):
    ledger = InMemoryLedger()
    job = make_job()
    sandbox.fail(provider="twilio", preset="rate_limited", retry_after=3)
    with pytest.raises(TransientSendError) as caught:
        deliver(job, senders=senders, ledger=ledger, now=NOW)
    assert caught.value.retry_after == 3
    assert job.outbound_id not in ledger.entries  # released: SQS redelivers the job
    assert deliver(job, senders=senders, ledger=ledger, now=NOW).state is DeliveryState.SENT
    assert deliver(job, senders=senders, ledger=ledger, now=NOW).state is DeliveryState.DUPLICATE
    assert [r["response"]["status"] for r in sandbox.outbox()] == [429, 201]


def test_permanent_failure_is_recorded_not_retried(sandbox, senders, make_job):
    ledger = InMemoryLedger()
    job = make_job()
    sandbox.fail(provider="twilio", preset="invalid_number")
    outcome = deliver(job, senders=senders, ledger=ledger, now=NOW)
    assert outcome.state is DeliveryState.FAILED and outcome.error_code == "21211"
    assert outcome.status is DeliveryStatus.FAILED
    assert ledger.entries[job.outbound_id].state == "failed"
    assert deliver(job, senders=senders, ledger=ledger, now=NOW).state is DeliveryState.DUPLICATE
    assert len(sandbox.outbox()) == 1


def test_whatsapp_after_24h_goes_out_as_the_configured_template(sandbox, senders, make_job):
    config = ChannelRulesConfig.from_environ({"OMNIHUB_WHATSAPP_TEMPLATES":
                                              '{"it": {"name": "risposta_operatore", "params": ["text"]}}'})
    job = make_job(channel=Channel.WHATSAPP, provider="meta", language="it", kind="agent_reply",
                   customer_last_inbound_at="2026-11-20T08:00:00Z", sender_hints={"phone_number_id": "77"})
    outcome = deliver(job, senders=senders, ledger=InMemoryLedger(), now=NOW, rules_config=config)
    assert outcome.state is DeliveryState.SENT
    body = sandbox.last()["body"]
    assert body["type"] == "template"
    assert body["template"]["name"] == "risposta_operatore"
    assert body["template"]["language"] == {"code": "it"}
    assert body["template"]["components"][0]["parameters"] == [{"type": "text", "text": job.text}]


def test_opted_out_number_gets_nothing(sandbox, senders, make_job):
    outcome = deliver(make_job(), senders=senders, ledger=InMemoryLedger(), now=NOW, consent={"sms": "withdrawn"})
    assert outcome.state is DeliveryState.FAILED and outcome.error_code == "opted_out"
    assert sandbox.outbox() == []


def test_provider_for_with_the_sandbox_configuration():
    assert provider_for(Channel.WHATSAPP, {"OMNIHUB_WHATSAPP_PROVIDER": "meta"}) == "meta"
