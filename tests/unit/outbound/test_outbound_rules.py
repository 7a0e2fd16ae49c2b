"""Channel rules: 24 h windows, template fallback, HUMAN_AGENT, opt-outs, LINE reply tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core.model import Channel, ModelError
from chalicelib.core.timestamps import format_timestamp
from chalicelib.outbound import (
    ChannelRulesConfig,
    OptedOut,
    OutboundKind,
    PermanentSendError,
    Template,
    TemplateConfig,
    WindowClosed,
    check_channel_rules,
)

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
CONFIG = ChannelRulesConfig(whatsapp_templates={
    "it": TemplateConfig(name="risposta", language="it", params=("text",), content_sid="HXit"),
    "en": TemplateConfig(name="reply", language="en_US", params=("reference", "text")),
})


def ago(**delta) -> str:
    return format_timestamp(NOW - timedelta(**delta))


def test_whatsapp_free_text_within_24h(make_job):
    job = make_job(channel=Channel.WHATSAPP, customer_last_inbound_at=ago(hours=23, minutes=59))
    assert check_channel_rules(job, NOW, {}, CONFIG) == job


@pytest.mark.parametrize("last", [None, "24h"])
def test_whatsapp_outside_24h_becomes_the_language_template(make_job, last):
    job = make_job(channel=Channel.WHATSAPP, language="it", kind=OutboundKind.AGENT_REPLY,
                   customer_last_inbound_at=None if last is None else ago(hours=24))
    converted = check_channel_rules(job, NOW, {}, CONFIG)
    assert converted.template == Template(name="risposta", language="it", params=(job.text,), content_sid="HXit")
    assert converted.text == job.text


def test_whatsapp_template_falls_back_to_base_then_default_language(make_job):
    old = ago(days=3)
    pt = check_channel_rules(make_job(channel=Channel.WHATSAPP, language="it-CH", customer_last_inbound_at=old),
                             NOW, {}, CONFIG)
    assert pt.template is not None and pt.template.name == "risposta"
    fr = check_channel_rules(make_job(channel=Channel.WHATSAPP, language="fr", reference="R-1",
                                      customer_last_inbound_at=old), NOW, {}, CONFIG)
    assert fr.template == Template(name="reply", language="en_US", params=("R-1", fr.text))


def test_whatsapp_outside_24h_without_template_is_refused(make_job):
    job = make_job(channel=Channel.WHATSAPP, language="de", customer_last_inbound_at=ago(days=2))
    with pytest.raises(WindowClosed) as caught:
        check_channel_rules(job, NOW, {}, ChannelRulesConfig())
    assert isinstance(caught.value, PermanentSendError)
    assert "24 h" in caught.value.reason and caught.value.code == "window_closed"


def test_whatsapp_job_with_an_explicit_template_passes(make_job):
    job = make_job(channel=Channel.WHATSAPP, kind=OutboundKind.BROADCAST, customer_last_inbound_at=None,
                   template=Template(name="crisis_update", language="en"))
    assert check_channel_rules(job, NOW, {}, ChannelRulesConfig()) == job


@pytest.mark.parametrize("channel", [Channel.MESSENGER, Channel.INSTAGRAM])
def test_messenger_windows(make_job, channel):
    fresh = make_job(channel=channel, provider="meta", to="psid", customer_last_inbound_at=ago(hours=2))
    assert check_channel_rules(fresh, NOW).messaging_tag is None

    reply = make_job(channel=channel, provider="meta", to="psid", kind=OutboundKind.AGENT_REPLY,
                     customer_last_inbound_at=ago(days=6, hours=23))
    assert check_channel_rules(reply, NOW).messaging_tag == "HUMAN_AGENT"

    with pytest.raises(WindowClosed):
        check_channel_rules(reply.with_changes(customer_last_inbound_at=ago(days=7)), NOW)
    with pytest.raises(WindowClosed):  # HUMAN_AGENT is for agents only, not acknowledgments or broadcasts
        check_channel_rules(reply.with_changes(kind=OutboundKind.BROADCAST), NOW)


@pytest.mark.parametrize("channel", [Channel.SMS, Channel.WHATSAPP])
def test_no_message_to_an_opted_out_number(make_job, channel):
    job = make_job(channel=channel, customer_last_inbound_at=ago(minutes=1))
    with pytest.raises(OptedOut) as caught:
        check_channel_rules(job, NOW, {channel.value: "withdrawn"}, CONFIG)
    assert caught.value.code == "opted_out"
    assert check_channel_rules(job, NOW, {channel.value: "granted"}, CONFIG) == job


def test_opt_out_is_per_channel(make_job):
    job = make_job(channel=Channel.SMS)
    assert check_channel_rules(job, NOW, {"whatsapp": "withdrawn"}) == job


def test_line_reply_token_only_while_fresh(make_job):
    job = make_job(channel=Channel.LINE, provider="line", to="U1", reply_token="rt",
                   customer_last_inbound_at=ago(seconds=10))
    assert check_channel_rules(job, NOW).reply_token == "rt"
    assert check_channel_rules(job.with_changes(customer_last_inbound_at=ago(minutes=2)), NOW).reply_token is None
    assert check_channel_rules(job.with_changes(kind=OutboundKind.BROADCAST), NOW).reply_token is None


def test_other_channels_pass_unchanged(make_job):
    job = make_job(channel=Channel.TELEGRAM, provider="telegram", to="42", customer_last_inbound_at=ago(days=90))
    assert check_channel_rules(job, NOW) == job


def test_config_from_environment():
    config = ChannelRulesConfig.from_environ({
        "OMNIHUB_WHATSAPP_TEMPLATES": '{"IT": {"name": "r", "params": ["text"], "content_sid": "HX1"}}',
        "OMNIHUB_DEFAULT_LANGUAGE": "it", "OMNIHUB_LINE_REPLY_TOKEN_MAX_AGE_SECONDS": "20",
    })
    assert config.template_for("es") == TemplateConfig(name="r", language="IT", params=("text",), content_sid="HX1")
    assert config.line_reply_token_max_age == timedelta(seconds=20)
    with pytest.raises(ModelError):
        ChannelRulesConfig.from_environ({"OMNIHUB_WHATSAPP_TEMPLATES": '{"it": {"name": "r", "params": ["x"]}}'})
    with pytest.raises(ModelError):
        ChannelRulesConfig.from_environ({"OMNIHUB_WHATSAPP_TEMPLATES": "["})
