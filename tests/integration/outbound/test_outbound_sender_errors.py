"""Provider failures, rehearsed through the sandbox: transient (retry) versus permanent (record, stop)."""

from __future__ import annotations

import pytest

from chalicelib.core.model import Channel
from chalicelib.outbound import (
    LineSender,
    MetaSender,
    OptedOut,
    PermanentSendError,
    TelegramSender,
    TransientSendError,
    TwilioSender,
    ViberSender,
    VonageSender,
    WindowClosed,
    XSender,
)

SID = "AC00000000000000000000000000000000"


@pytest.fixture
def senders(sandbox):
    base = sandbox.base_url
    return {
        "twilio": (TwilioSender(account_sid=SID, auth_token="t", base_url=base, default_from="+15005550006"),
                   {"channel": Channel.SMS, "provider": "twilio"}),
        "meta": (MetaSender(access_token="t", base_url=base, default_phone_number_id="1"),
                 {"channel": Channel.WHATSAPP, "provider": "meta"}),
        "telegram": (TelegramSender(bot_token="1:t", base_url=base),
                     {"channel": Channel.TELEGRAM, "provider": "telegram", "to": "42"}),
        "line": (LineSender(channel_access_token="t", base_url=base),
                 {"channel": Channel.LINE, "provider": "line", "to": "U" + "c" * 32}),
        "viber": (ViberSender(auth_token="t", base_url=base),
                  {"channel": Channel.VIBER, "provider": "viber", "to": "abc="}),
        "x": (XSender(bearer_token="t", base_url=base), {"channel": Channel.X, "provider": "x", "to": "99"}),
        "vonage": (VonageSender(base_url=base, api_key="k", api_secret="s", default_from={"sms": "Acme"}),
                   {"channel": Channel.SMS, "provider": "vonage"}),
    }


PROVIDERS = ["twilio", "meta", "telegram", "line", "viber", "x", "vonage"]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_rate_limit_is_transient_with_retry_after(provider, sandbox, senders, make_job):
    sender, fields = senders[provider]
    sandbox.fail(provider=provider, preset="rate_limited", retry_after=7)
    with pytest.raises(TransientSendError) as caught:
        sender.send(make_job(**fields))
    assert caught.value.provider == provider
    if provider in ("twilio", "line", "vonage", "telegram"):
        assert caught.value.retry_after == 7
    if provider == "x":
        assert 5 <= (caught.value.retry_after or 0) <= 7
    sender.send(make_job(**fields))  # the failure was for one request only


@pytest.mark.parametrize("provider", PROVIDERS)
def test_server_error_is_transient(provider, sandbox, senders, make_job):
    sender, fields = senders[provider]
    sandbox.fail(provider=provider, status=500)
    with pytest.raises(TransientSendError) as caught:
        sender.send(make_job(**fields))
    assert caught.value.http_status == 500


@pytest.mark.parametrize(("provider", "code"), [
    ("twilio", "21211"), ("meta", "131026"), ("telegram", "400"), ("line", "400"), ("viber", "5"),
    ("x", "https://api.twitter.com/2/problems/invalid-request"), ("vonage", "1150"),
])
def test_invalid_recipient_is_permanent_with_the_provider_code(provider, code, sandbox, senders, make_job):
    sender, fields = senders[provider]
    sandbox.fail(provider=provider, preset="invalid_number")
    with pytest.raises(PermanentSendError) as caught:
        sender.send(make_job(**fields))
    assert caught.value.error_code == code
    assert caught.value.reason


@pytest.mark.parametrize("provider", ["telegram", "viber", "x", "meta"])
def test_blocked_is_permanent(provider, sandbox, senders, make_job):
    sender, fields = senders[provider]
    sandbox.fail(provider=provider, preset="blocked")
    with pytest.raises(PermanentSendError):
        sender.send(make_job(**fields))


def test_provider_window_and_opt_out_errors_map_to_refusals(sandbox, senders, make_job):
    meta, fields = senders["meta"]
    sandbox.fail(provider="meta", preset="window_closed")
    with pytest.raises(WindowClosed) as closed:
        meta.send(make_job(**fields))
    assert closed.value.error_code == "131047"

    twilio, fields = senders["twilio"]
    sandbox.fail(provider="twilio", preset="opted_out")
    with pytest.raises(OptedOut) as opted:
        twilio.send(make_job(**fields))
    assert opted.value.error_code == "21610"

    vonage, _ = senders["vonage"]
    sandbox.fail(provider="vonage", preset="window_closed")
    with pytest.raises(WindowClosed):
        vonage.send(make_job(channel=Channel.WHATSAPP, provider="vonage", sender_hints={"from": "+447700900000"}))


def test_meta_rate_limit_in_a_400_is_transient(sandbox, senders, make_job):
    sender, fields = senders["meta"]
    sandbox.fail(provider="meta", preset="rate_limited")
    with pytest.raises(TransientSendError) as caught:
        sender.send(make_job(**fields))
    assert caught.value.http_status == 400 and caught.value.error_code == "130429"


def test_line_monthly_limit_is_permanent(sandbox, senders, make_job):
    sender, fields = senders["line"]
    sandbox.fail(provider="line", preset="monthly_limit")
    with pytest.raises(PermanentSendError):
        sender.send(make_job(**fields))


def test_missing_credentials_answer_401_permanent(sandbox, make_job):
    sender = TwilioSender(account_sid="ACwrong", auth_token="t", base_url=sandbox.base_url, default_from="+1500")
    # the sandbox checks that the basic-auth user is the account in the path
    sender._url = sender._url.replace("ACwrong", "ACother")
    with pytest.raises(PermanentSendError) as caught:
        sender.send(make_job())
    assert caught.value.http_status == 401 and caught.value.error_code == "20003"


def test_read_timeout_is_transient_and_ambiguous(sandbox, make_job):
    from chalicelib.outbound import HttpClient

    sender = TelegramSender(bot_token="1:t", base_url=sandbox.base_url,
                            http=HttpClient(connect_timeout=1, read_timeout=0.2))
    sandbox.fail(provider="telegram", delay=0.6)
    with pytest.raises(TransientSendError) as caught:
        sender.send(make_job(channel=Channel.TELEGRAM, provider="telegram", to="42"))
    assert caught.value.error_code == "read_timeout" and caught.value.ambiguous
    assert "1:t" not in str(caught.value)  # the bot token (in the URL) never leaks into errors
