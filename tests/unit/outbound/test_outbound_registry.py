"""Sender registry: API bases from the environment, providers per channel, lazily read secrets."""

from __future__ import annotations

import pytest

from chalicelib.adapters.settings import Settings
from chalicelib.core.model import Channel
from chalicelib.outbound import (
    DEFAULT_API_BASES,
    PROVIDERS,
    LazySender,
    NoOutboundProvider,
    SenderNotConfigured,
    TwilioSender,
    api_base,
    build_senders,
    provider_for,
)


class CountingSecrets:
    def __init__(self, values):
        self.values = values
        self.asked: list[str] = []

    def get(self, name):
        self.asked.append(name)
        return self.values.get(name)

    def get_many(self, names):
        return {n: v for n in names if (v := self.get(n))}


def test_api_base_defaults_to_the_public_api_and_env_wins():
    assert api_base("twilio", {}) == "https://api.twilio.com"
    assert api_base("meta", {}) == "https://graph.facebook.com"
    assert api_base("telegram", {}) == "https://api.telegram.org"
    assert api_base("line", {}) == "https://api.line.me"
    assert api_base("viber", {}) == "https://chatapi.viber.com"
    assert api_base("x", {}) == "https://api.x.com"
    assert api_base("vonage", {}) == "https://api.nexmo.com"
    assert api_base("twilio", {"OMNIHUB_TWILIO_API_BASE": "http://127.0.0.1:4580/"}) == "http://127.0.0.1:4580"
    assert set(DEFAULT_API_BASES) == set(PROVIDERS) - {"ses"}


@pytest.mark.parametrize(("channel", "hints", "inbound", "expected"), [
    (Channel.SMS, {}, None, "twilio"),
    (Channel.SMS, {"OMNIHUB_SMS_PROVIDER": "vonage"}, None, "vonage"),
    (Channel.WHATSAPP, {}, None, "twilio"),
    (Channel.WHATSAPP, {"OMNIHUB_WHATSAPP_PROVIDER": "Meta"}, None, "meta"),
    (Channel.WHATSAPP, {"OMNIHUB_WHATSAPP_PROVIDER": "meta"}, "vonage", "vonage"),
    (Channel.MESSENGER, {}, None, "meta"),
    (Channel.INSTAGRAM, {}, "twilio", "meta"),
    (Channel.TELEGRAM, {}, None, "telegram"),
    (Channel.LINE, {}, None, "line"),
    (Channel.VIBER, {"OMNIHUB_VIBER_PROVIDER": "vonage"}, None, "vonage"),
    (Channel.X, {}, None, "x"),
    (Channel.EMAIL, {}, "sendgrid", "ses"),
])
def test_provider_for(channel, hints, inbound, expected):
    assert provider_for(channel, hints, inbound) == expected


def test_provider_for_refuses_impossible_choices():
    with pytest.raises(NoOutboundProvider):
        provider_for(Channel.VOICE, {})
    with pytest.raises(NoOutboundProvider):
        provider_for(Channel.WEBCHAT, {})
    with pytest.raises(NoOutboundProvider):
        provider_for(Channel.SMS, {"OMNIHUB_SMS_PROVIDER": "meta"})


def test_senders_are_built_on_first_use_with_their_secrets():
    secrets = CountingSecrets({"TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "tok"})
    settings = Settings.from_environ({"OMNIHUB_TWILIO_API_BASE": "http://127.0.0.1:4580"})
    senders = build_senders(settings, secrets)
    assert set(senders) == set(PROVIDERS)
    assert secrets.asked == []  # a cold start reads nothing
    twilio = senders["twilio"]
    assert isinstance(twilio, LazySender)
    built = twilio.resolve()
    assert isinstance(built, TwilioSender)
    assert built._url == "http://127.0.0.1:4580/2010-04-01/Accounts/AC1/Messages.json"
    assert twilio.resolve() is built


def test_missing_credentials_are_a_permanent_sender_error():
    senders = build_senders(Settings.from_environ({}), CountingSecrets({}))
    with pytest.raises(SenderNotConfigured) as caught:
        senders["telegram"].resolve()
    assert "TELEGRAM_BOT_TOKEN" in caught.value.reason
    with pytest.raises(SenderNotConfigured):
        senders["vonage"].resolve()
