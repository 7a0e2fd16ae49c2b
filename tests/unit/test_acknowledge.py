from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from chalicelib.acknowledgments import (
    CONFIG_PATH_ENV,
    DEFAULT_CONFIG_PATH,
    AckConfigError,
    AckContext,
    AckReason,
    Policy,
    choose_language,
    clear_policy_cache,
    decide_acknowledgment,
    load_policy,
    parse_policy,
    personal_name,
)
from chalicelib.core.consent import ConsentKeyword
from chalicelib.core.model import Channel, EventKind, Priority
from chalicelib.sla import (
    DEFAULT_SERVICE_LEVELS_PATH,
    SERVICE_LEVELS_PATH_ENV,
    ServiceLevels,
    SlaKind,
    parse_service_levels,
)

ROME = ZoneInfo("Europe/Rome")
WEDNESDAY_10 = datetime(2026, 11, 18, 10, 0, tzinfo=ROME)
FRIDAY_EVENING = datetime(2026, 11, 20, 19, 0, tzinfo=ROME)


@pytest.fixture(autouse=True)
def _fresh_policy_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_PATH_ENV, raising=False)
    monkeypatch.delenv(SERVICE_LEVELS_PATH_ENV, raising=False)
    clear_policy_cache()


@pytest.fixture
def policy() -> Policy:
    return load_policy()


def shipped_config() -> dict[str, Any]:
    return json.loads(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))


def service_levels(edit: Callable[[dict[str, Any]], Any]) -> ServiceLevels:
    """The shipped service levels (business hours, SLA targets) with one edit."""
    data = json.loads(DEFAULT_SERVICE_LEVELS_PATH.read_text(encoding="utf-8"))
    edit(data)
    return parse_service_levels(data, source="service_levels.v1.json")


def ctx(**overrides: Any) -> AckContext:
    """A new conversation on WhatsApp, Wednesday 10:00 in Rome, Maria, in English."""
    values: dict[str, Any] = {
        "kind": EventKind.MESSAGE,
        "channel": Channel.WHATSAPP,
        "text": "My order has not arrived",
        "occurred_at": WEDNESDAY_10 - timedelta(seconds=5),
        "now": WEDNESDAY_10,
        "reference": "OH-7K2M9",
        "opens_conversation": True,
        "customer_name": "Maria Rossi",
        "language": "en",
    }
    values.update(overrides)
    return AckContext(**values)


# ---- when an acknowledgment is sent ----------------------------------------------------------------


def test_new_conversation_is_acknowledged_personally_with_reference_and_expected_time(policy: Policy) -> None:
    decision = decide_acknowledgment(ctx(priority=Priority.HIGH), policy)
    assert decision.send
    assert decision.reason == AckReason.NEW_CONVERSATION == "new_conversation"
    assert decision.language == "en"
    assert decision.variant == "in_hours"
    assert decision.text == (
        "Hi Maria, thanks for your message. Your reference is OH-7K2M9. We will reply within about 2 hours."
    )
    # High priority = 120 working minutes from 10:00 Rome (09:00 UTC).
    assert decision.expected_at == "2026-11-18T11:00:00.000Z"


def test_first_word_in_a_conversation_we_opened_is_acknowledged(policy: Policy) -> None:
    decision = decide_acknowledgment(ctx(opens_conversation=False, previous_inbound_at=None), policy)
    assert (decision.send, decision.reason) == (True, "first_inbound")


def test_quiet_period(policy: Policy) -> None:
    occurred = WEDNESDAY_10 - timedelta(seconds=5)

    def after(minutes: float) -> AckContext:
        return ctx(opens_conversation=False, previous_inbound_at=occurred - timedelta(minutes=minutes))

    assert decide_acknowledgment(after(1), policy).reason == "within_quiet_period"
    assert not decide_acknowledgment(after(29.9), policy).send
    exactly = decide_acknowledgment(after(30), policy)
    assert (exactly.send, exactly.reason) == (True, "after_quiet_period")
    assert decide_acknowledgment(after(180), policy).send


def test_a_message_that_opens_a_new_conversation_ignores_the_quiet_period(policy: Policy) -> None:
    # The previous conversation was resolved five minutes ago; the new one still gets its answer.
    decision = decide_acknowledgment(
        ctx(opens_conversation=True, previous_inbound_at=WEDNESDAY_10 - timedelta(minutes=5)), policy
    )
    assert (decision.send, decision.reason) == (True, "new_conversation")


def test_timestamps_may_be_model_iso_strings(policy: Policy) -> None:
    decision = decide_acknowledgment(
        ctx(occurred_at="2026-11-18T08:59:58.000Z", now="2026-11-18T09:00:00.000Z",
            opens_conversation=False, previous_inbound_at="2026-11-18T08:00:00Z"),
        policy,
    )
    assert (decision.send, decision.reason) == (True, "after_quiet_period")


# ---- the "never" cases -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"kind": EventKind.DELIVERY_STATUS}, "not_a_message"),
        ({"kind": EventKind.CALL}, "not_a_message"),
        ({"kind": EventKind.LIFECYCLE}, "not_a_message"),
        ({"kind": EventKind.UNKNOWN}, "not_a_message"),
        ({"is_echo": True}, "echo"),
        ({"already_acknowledged": True}, "already_acknowledged"),
        ({"text": "STOP"}, "opt_out_keyword"),
        ({"text": " stop! ", "channel": Channel.SMS}, "opt_out_keyword"),
        ({"text": "Basta", "channel": Channel.SMS}, "opt_out_keyword"),
        ({"consent_keyword": ConsentKeyword.OPT_OUT, "channel": Channel.TELEGRAM}, "opt_out_keyword"),
        ({"text": "START", "channel": Channel.SMS}, "consent_keyword"),
        ({"text": "HELP", "channel": Channel.SMS}, "consent_keyword"),
        ({"consent_state": "withdrawn"}, "consent_withdrawn"),
        ({"is_auto_reply": True, "channel": Channel.EMAIL}, "auto_reply"),
        ({"occurred_at": WEDNESDAY_10 - timedelta(days=3)}, "too_old"),
        ({"occurred_at": WEDNESDAY_10 - timedelta(minutes=61)}, "too_old"),
    ],
)
def test_never_acknowledged(policy: Policy, overrides: dict[str, Any], reason: str) -> None:
    decision = decide_acknowledgment(ctx(**overrides), policy)
    assert not decision.send
    assert decision.reason == reason
    assert decision.text is None
    assert decision.expected_at is None
    assert decision.language == "en"


def test_stop_inside_a_sentence_is_not_a_keyword(policy: Policy) -> None:
    decision = decide_acknowledgment(ctx(text="Please stop charging my card", channel=Channel.SMS), policy)
    assert decision.send


def test_keywords_are_only_derived_from_text_on_sms_and_whatsapp(policy: Policy) -> None:
    # "Yes" in a web chat is an answer, not an opt-in.
    assert decide_acknowledgment(ctx(text="Yes", channel=Channel.WEBCHAT), policy).send
    assert decide_acknowledgment(ctx(text="Yes", channel=Channel.WHATSAPP), policy).reason == "consent_keyword"


def test_consent_granted_or_never_asked_allows_acknowledgment(policy: Policy) -> None:
    assert decide_acknowledgment(ctx(consent_state="granted"), policy).send
    assert decide_acknowledgment(ctx(consent_state=None), policy).send


def test_a_message_just_inside_the_age_limit_is_acknowledged(policy: Policy) -> None:
    assert decide_acknowledgment(ctx(occurred_at=WEDNESDAY_10 - timedelta(minutes=59)), policy).send


def test_a_timestamp_from_the_future_is_not_too_old(policy: Policy) -> None:
    assert decide_acknowledgment(ctx(occurred_at=WEDNESDAY_10 + timedelta(minutes=2)), policy).send


def test_sending_without_a_reference_is_a_caller_bug(policy: Policy) -> None:
    with pytest.raises(ValueError, match="reference"):
        decide_acknowledgment(ctx(reference=None), policy)
    # ...but a silent decision does not need one (delivery statuses have no conversation).
    assert decide_acknowledgment(ctx(reference=None, kind=EventKind.DELIVERY_STATUS), policy).reason == (
        "not_a_message"
    )


def test_context_validation() -> None:
    with pytest.raises(ValueError, match="consent_state"):
        ctx(consent_state="maybe")
    with pytest.raises(ValueError, match="aware"):
        ctx(now=datetime(2026, 11, 18, 10))
    with pytest.raises(ValueError):
        ctx(priority="critical")


# ---- language ----------------------------------------------------------------------------------------


def test_italian_customer_gets_italian(policy: Policy) -> None:
    decision = decide_acknowledgment(ctx(language="it", priority=Priority.HIGH), policy)
    assert decision.language == "it"
    assert decision.text == (
        "Ciao Maria, grazie per il messaggio. Il tuo riferimento è OH-7K2M9. Ti risponderemo entro circa 2 ore."
    )


@pytest.mark.parametrize(
    ("customer", "hint", "expected"),
    [
        ("it", "en", "it"),  # the customer's stored language wins
        (None, "it", "it"),  # then the provider's hint
        (None, "it-IT", "it"),  # its base language
        ("pt-BR", "es", "es"),  # no Portuguese: the hint, before the fallback
        ("de_DE", None, "de"),
        ("FR", None, "fr"),
        ("pt-BR", None, "en"),  # fallback
        (None, None, "en"),
        ("klingon!", "??", "en"),
    ],
)
def test_language_choice(policy: Policy, customer: str | None, hint: str | None, expected: str) -> None:
    assert choose_language(customer, hint, policy) == expected


def test_base_language_is_used_when_the_regional_variant_is_missing() -> None:
    config = shipped_config()
    config["languages"]["pt"] = copy.deepcopy(config["languages"]["es"])
    config["languages"]["pt-br"] = copy.deepcopy(config["languages"]["es"])
    policy = parse_policy(config)
    assert choose_language("pt-BR", None, policy) == "pt-br"
    assert choose_language("pt-PT", None, policy) == "pt"


def test_unknown_language_falls_back_to_english_text(policy: Policy) -> None:
    decision = decide_acknowledgment(ctx(language="ja", language_hint="ja-JP"), policy)
    assert decision.language == "en"
    assert decision.text is not None and decision.text.startswith("Hi Maria,")


# ---- names -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Maria Rossi", "Maria"),
        ("maria", "Maria"),
        ("MARIA ROSSI", "Maria"),
        ("anne-marie", "Anne-Marie"),
        ("McDonald", "McDonald"),
        ("José", "José"),
        ("D'Angelo", "D'Angelo"),
        ("🌸 Maria 🌸", "Maria"),
        ("王小明", "王小明"),
        ("maria.rossi@example.com", None),
        ("+39 333 123 4567", None),
        ("393331234567", None),
        ("maria88", None),
        ("https://spam.example", None),
        ("WhatsApp User", None),
        ("Unknown", None),
        ("M.", None),
        ("", None),
        ("   ", None),
        (None, None),
        ("🙂🙂", None),
        ("A" * 30, None),
    ],
)
def test_personal_name(raw: str | None, expected: str | None) -> None:
    assert personal_name(raw) == expected


@pytest.mark.parametrize("name", [None, "maria@example.com", "+393331234567", "Unknown"])
def test_neutral_greeting_without_a_usable_name(policy: Policy, name: str | None) -> None:
    english = decide_acknowledgment(ctx(customer_name=name), policy).text
    italian = decide_acknowledgment(ctx(customer_name=name, language="it"), policy).text
    assert english is not None and english.startswith("Hello, thanks for your message.")
    assert italian is not None and italian.startswith("Buongiorno, grazie per il messaggio.")
    for text in (english, italian):
        assert "@" not in text and "3331234567" not in text


def test_name_placeholder_without_a_name_leaves_no_double_space() -> None:
    config = shipped_config()
    config["languages"]["en"]["in_hours"] = "Thanks {name}, we have it. Ref {reference}, reply {expected}."
    policy = parse_policy(config)
    with_name = decide_acknowledgment(ctx(), policy).text
    without = decide_acknowledgment(ctx(customer_name=None), policy).text
    assert with_name is not None and with_name.startswith("Thanks Maria, we have it.")
    assert without is not None and without.startswith("Thanks, we have it.")


# ---- in and out of hours -----------------------------------------------------------------------------


def test_out_of_hours_on_friday_evening_promises_monday(policy: Policy) -> None:
    decision = decide_acknowledgment(ctx(now=FRIDAY_EVENING, occurred_at=FRIDAY_EVENING), policy)
    assert decision.variant == "out_of_hours"
    assert decision.text == (
        "Hi Maria, thanks for your message (ref. OH-7K2M9). We are closed now: "
        "we are back Monday at 09:00 and will reply by Monday at 13:00."
    )
    # Normal priority: 240 working minutes from Monday 09:00 Rome = 12:00 UTC.
    assert decision.expected_at == "2026-11-23T12:00:00.000Z"


def test_out_of_hours_in_italian(policy: Policy) -> None:
    decision = decide_acknowledgment(
        ctx(now=FRIDAY_EVENING, occurred_at=FRIDAY_EVENING, language="it", priority=Priority.URGENT), policy
    )
    assert decision.text == (
        "Ciao Maria, grazie per il messaggio (rif. OH-7K2M9). Ora siamo chiusi: "
        "torniamo lunedì alle 09:00 e ti risponderemo entro lunedì alle 09:30."
    )


def test_out_of_hours_at_night_promises_tomorrow(policy: Policy) -> None:
    night = datetime(2026, 11, 17, 22, 0, tzinfo=ROME)  # Tuesday
    decision = decide_acknowledgment(ctx(now=night, occurred_at=night, priority=Priority.HIGH), policy)
    assert decision.text is not None
    assert "we are back tomorrow at 09:00 and will reply by 11:00 tomorrow." in decision.text


def test_sla_spanning_a_closed_night_in_hours(policy: Policy) -> None:
    late = datetime(2026, 11, 18, 17, 0, tzinfo=ROME)  # open for one more hour
    decision = decide_acknowledgment(ctx(now=late, occurred_at=late, priority=Priority.HIGH), policy)
    assert decision.variant == "in_hours"
    assert decision.text is not None and decision.text.endswith("We will reply by 10:00 tomorrow.")
    assert decision.expected_at == "2026-11-19T09:00:00.000Z"


def test_holiday_is_out_of_hours(policy: Policy) -> None:
    christmas = datetime(2026, 12, 25, 11, 0, tzinfo=ROME)  # Friday, a holiday
    decision = decide_acknowledgment(ctx(now=christmas, occurred_at=christmas), policy)
    assert decision.variant == "out_of_hours"
    # 26 December is a holiday and a Saturday, 27 a Sunday: back Monday 28.
    assert decision.text is not None and "we are back Monday at 09:00" in decision.text


def test_far_away_reopening_uses_a_date() -> None:
    august_off = service_levels(
        lambda d: d["business_hours"].update(holidays=[f"2026-08-{day:02d}" for day in range(1, 32)])
    )
    policy = parse_policy(shipped_config(), service_levels=august_off)
    august = datetime(2026, 8, 3, 10, 0, tzinfo=ROME)
    english = decide_acknowledgment(ctx(now=august, occurred_at=august), policy).text
    italian = decide_acknowledgment(ctx(now=august, occurred_at=august, language="it"), policy).text
    assert english is not None
    assert "we are back on 1 September at 09:00 and will reply by 1 September at 13:00" in english
    assert italian is not None and "torniamo il 1 settembre alle 09:00" in italian


def test_lunch_break_says_back_today(policy: Policy) -> None:
    lunch = datetime(2026, 11, 18, 13, 20, tzinfo=ROME)
    decision = decide_acknowledgment(ctx(now=lunch, occurred_at=lunch, priority=Priority.URGENT), policy)
    assert decision.text is not None
    assert "we are back today at 14:00 and will reply by 14:30 today." in decision.text


def test_expected_time_is_rounded_up_to_the_quarter_hour(policy: Policy) -> None:
    early = datetime(2026, 11, 18, 8, 7, tzinfo=ROME)  # before opening: absolute phrase
    decision = decide_acknowledgment(ctx(now=early, occurred_at=early, priority=Priority.URGENT), policy)
    assert decision.text is not None and decision.text.endswith("will reply by 09:30 today.")
    in_hours_far = datetime(2026, 11, 18, 9, 7, tzinfo=ROME)  # 240 min: beyond the relative limit
    decision = decide_acknowledgment(ctx(now=in_hours_far, occurred_at=in_hours_far), policy)
    assert decision.text is not None and decision.text.endswith("We will reply by 14:15 today.")
    assert decision.expected_at == "2026-11-18T13:07:00.000Z"  # exact, not rounded


def test_relative_phrases_in_minutes_and_hours(policy: Policy) -> None:
    urgent = decide_acknowledgment(ctx(priority=Priority.URGENT), policy).text
    assert urgent is not None and urgent.endswith("within about 30 minutes.")
    urgent_in_an_hour = service_levels(
        lambda d: d["sla"]["policies"]["urgent"].update(first_response_minutes=60)
    )
    one_hour = decide_acknowledgment(
        ctx(priority=Priority.URGENT), parse_policy(shipped_config(), service_levels=urgent_in_an_hour)
    ).text
    assert one_hour is not None and one_hour.endswith("within about an hour.")


def test_dst_weekend_in_rome(policy: Policy) -> None:
    friday = datetime(2026, 3, 27, 17, 0, tzinfo=ROME)  # CET; clocks go forward on Sunday
    decision = decide_acknowledgment(ctx(now=friday, occurred_at=friday, priority=Priority.HIGH), policy)
    assert decision.text is not None and decision.text.endswith("We will reply by Monday at 10:00.")
    assert decision.expected_at == "2026-03-30T08:00:00.000Z"  # 10:00 CEST


# ---- crisis line and length ----------------------------------------------------------------------------


def test_crisis_line_is_appended_while_a_crisis_is_active(policy: Policy) -> None:
    decision = decide_acknowledgment(
        ctx(crisis_status_line="Card payments are failing; we are fixing it.", priority=Priority.HIGH), policy
    )
    assert decision.text == (
        "Hi Maria, thanks for your message. Your reference is OH-7K2M9. We will reply within about 2 hours.\n"
        "Service update: Card payments are failing; we are fixing it."
    )
    italian = decide_acknowledgment(ctx(crisis_status_line="Pagamenti con carta in errore.", language="it"), policy)
    assert italian.text is not None
    assert italian.text.endswith("\nAggiornamento sul servizio: Pagamenti con carta in errore.")


def test_no_crisis_line_without_a_crisis(policy: Policy) -> None:
    for line in (None, "", "   "):
        text = decide_acknowledgment(ctx(crisis_status_line=line), policy).text
        assert text is not None and "\n" not in text


def test_long_crisis_line_is_shortened_to_the_sms_limit(policy: Policy) -> None:
    long_line = "Card payments are failing across all our shops " + "and we are working on it " * 20
    decision = decide_acknowledgment(ctx(channel=Channel.SMS, crisis_status_line=long_line), policy)
    assert decision.text is not None
    assert len(decision.text) <= 320
    assert decision.text.endswith("...")
    assert "OH-7K2M9" in decision.text
    # Other channels have room for it all.
    whatsapp = decide_acknowledgment(ctx(channel=Channel.WHATSAPP, crisis_status_line=long_line), policy).text
    assert whatsapp is not None and whatsapp.endswith("working on it")


@pytest.mark.parametrize("language", ["en", "it", "es", "fr", "de"])
def test_every_shipped_acknowledgment_fits_in_one_or_two_sms(policy: Policy, language: str) -> None:
    for now in (WEDNESDAY_10, FRIDAY_EVENING):
        text = decide_acknowledgment(ctx(now=now, occurred_at=now, language=language, channel=Channel.SMS), policy).text
        assert text is not None and "OH-7K2M9" in text
        assert len(text) <= 160, text


# ---- configuration -------------------------------------------------------------------------------------------


def test_shipped_configuration_is_valid_and_complete(policy: Policy) -> None:
    assert policy.version == 1
    assert policy.quiet_period == timedelta(minutes=30)
    assert policy.fallback_language == "en"
    assert {"en", "it", "es", "fr", "de"} <= set(policy.languages)
    assert set(policy.service_levels.sla.policies) == set(Priority)
    assert policy.calendar.time_zone == "Europe/Rome"
    assert policy.limits_for(Channel.SMS).max_length == 320
    assert policy.limits_for(Channel.SMS).preferred_length == 160
    assert policy.limits_for(Channel.EMAIL).max_length == 1000  # the default


def test_expected_reply_at_uses_working_minutes(policy: Policy) -> None:
    assert policy.expected_reply_at(FRIDAY_EVENING, "low") == datetime(2026, 11, 24, 18, 0, tzinfo=ROME)


def test_the_promise_is_the_first_response_target_of_the_shared_service_levels(policy: Policy) -> None:
    for priority in Priority:
        assert policy.expected_reply_at(WEDNESDAY_10, priority) == policy.service_levels.due(
            WEDNESDAY_10, priority, SlaKind.FIRST_RESPONSE
        )
    assert policy.calendar is policy.service_levels.calendar


def test_an_around_the_clock_sla_promises_real_minutes_even_when_closed() -> None:
    always = service_levels(lambda d: d["sla"].update(calendar="always"))
    policy = parse_policy(shipped_config(), service_levels=always)
    decision = decide_acknowledgment(ctx(now=FRIDAY_EVENING, occurred_at=FRIDAY_EVENING), policy)
    assert decision.variant == "out_of_hours"  # the team's hours still decide the wording
    assert decision.expected_at == "2026-11-20T22:00:00.000Z"  # 240 real minutes after 18:00 UTC


def test_load_policy_takes_the_service_levels_file_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = json.loads(DEFAULT_SERVICE_LEVELS_PATH.read_text(encoding="utf-8"))
    data["sla"]["policies"]["high"]["first_response_minutes"] = 60
    other = tmp_path / "levels.json"
    other.write_text(json.dumps(data), encoding="utf-8")
    shipped = load_policy()
    monkeypatch.setenv(SERVICE_LEVELS_PATH_ENV, str(other))
    faster = load_policy()
    assert faster is not shipped
    assert faster.service_levels.source == str(other.resolve())
    assert decide_acknowledgment(ctx(priority=Priority.HIGH), faster).expected_at == "2026-11-18T10:00:00.000Z"
    assert decide_acknowledgment(ctx(priority=Priority.HIGH), shipped).expected_at == "2026-11-18T11:00:00.000Z"


def test_load_policy_is_cached_and_env_can_point_elsewhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_policy() is load_policy()
    config = shipped_config()
    config["quiet_period_minutes"] = 5
    other = tmp_path / "ack.json"
    other.write_text(json.dumps(config), encoding="utf-8")
    monkeypatch.setenv(CONFIG_PATH_ENV, str(other))
    from_env = load_policy()
    assert from_env.quiet_period == timedelta(minutes=5)
    assert from_env.source == str(other.resolve())
    assert load_policy(DEFAULT_CONFIG_PATH).quiet_period == timedelta(minutes=30)  # explicit wins


def test_unreadable_or_malformed_file(tmp_path: Path) -> None:
    with pytest.raises(AckConfigError, match="cannot read"):
        load_policy(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": 1,', encoding="utf-8")
    with pytest.raises(AckConfigError, match=r"not valid JSON \(line 1"):
        load_policy(broken)


def _edit(edit: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    config = shipped_config()
    edit(config)
    return config


def _languages(config: dict[str, Any]) -> dict[str, Any]:
    return config["languages"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c.pop("version"), r"version: required"),
        (lambda c: c.update(version=2), r"version: unsupported version 2"),
        (lambda c: c.update(version="1"), r"version: unsupported version '1'"),
        (lambda c: c.update(quiet_period_minute=30), r"unknown key\(s\) quiet_period_minute"),
        (lambda c: c.update(quiet_period_minutes=-1), r"quiet_period_minutes: must be a whole number"),
        (lambda c: c.update(max_event_age_minutes="60"), r"max_event_age_minutes: must be a whole number"),
        # Business hours and SLA minutes moved to the service-levels file (their errors are tested
        # in tests/unit/sla/test_service_levels.py); an old file that still has them is refused.
        (lambda c: c.update(sla_minutes={"urgent": 30}),
         r"sla_minutes: moved to the service-levels file .*service_levels\.v1\.json.*OMNIHUB_SERVICE_LEVELS_CONFIG"
         r".* as sla\.policies\.<priority>\.first_response_minutes"),
        (lambda c: c.update(business_hours={"time_zone": "Europe/Rome"}),
         r"business_hours: moved to the service-levels file .*service_levels\.v1\.json.* as business_hours"),
        (lambda c: c.update(fallback_language="pt"), r"fallback_language: 'pt' must name one of the languages"),
        (lambda c: _languages(c).update(EN=_languages(c)["en"]), r"languages\.EN: not a lower-case language code"),
        (lambda c: _languages(c)["it"].pop("out_of_hours"), r"languages\.it\.out_of_hours: required"),
        (lambda c: _languages(c)["it"].update(in_hours="Grazie, ti risponderemo {expected}."),
         r"languages\.it\.in_hours: must contain \{reference\}"),
        (lambda c: _languages(c)["en"].update(in_hours="Hi {first_name}, ref {reference}"),
         r"languages\.en\.in_hours: unknown placeholder \{first_name\}"),
        (lambda c: _languages(c)["en"].update(in_hours="Back {back_at}, ref {reference}"),
         r"languages\.en\.in_hours: unknown placeholder \{back_at\}"),
        (lambda c: _languages(c)["en"].update(in_hours="Ref {reference"), r"languages\.en\.in_hours: .*brace"),
        (lambda c: _languages(c)["en"].update(greeting_named="Hi,"), r"greeting_named: must contain \{name\}"),
        (lambda c: _languages(c)["en"].update(crisis="Update!"), r"languages\.en\.crisis: must contain"),
        (lambda c: _languages(c)["en"]["expected"].pop("tomorrow"), r"languages\.en\.expected\.tomorrow: required"),
        (lambda c: _languages(c)["en"]["back_at"].update(weekday="{weekday}"),
         r"languages\.en\.back_at\.weekday: must contain \{time\}"),
        (lambda c: _languages(c)["en"].update(weekdays=["Mon"]), r"languages\.en\.weekdays: required, a list of 7"),
        (lambda c: _languages(c)["en"].update(time_format="{hour:q}:{minute}"), r"languages\.en: a template does not"),
        (lambda c: _languages(c)["en"].update(in_hours="Thanks! " * 60 + "{reference}"),
         r"languages\.en\.in_hours: renders to \d+ characters .* sms limit of 320"),
        (lambda c: c["channels"].pop("default"), r"channels\.default: required"),
        (lambda c: c["channels"].update(fax={"max_length": 500}), r"channels: unknown key\(s\) fax"),
        (lambda c: c["channels"]["sms"].update(preferred_length=400), r"channels\.sms\.preferred_length"),
    ],
)
def test_configuration_errors_are_clear(edit: Callable[[dict[str, Any]], Any], message: str) -> None:
    with pytest.raises(AckConfigError, match=message):
        parse_policy(_edit(edit), source="acknowledgments.v1.json")


def test_configuration_error_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "ack.json"
    bad.write_text(json.dumps(_edit(lambda c: c.update(version=3))), encoding="utf-8")
    with pytest.raises(AckConfigError, match=r"ack\.json: version: unsupported version 3"):
        load_policy(bad)


def test_comment_keys_are_ignored_and_optional_keys_have_defaults() -> None:
    config = shipped_config()
    config["_note"] = "edited by the care team"
    del config["relative_expected_max_minutes"]
    del config["channels"]
    for key in ("crisis", "time_format", "date_format"):
        del config["languages"]["en"][key]
    policy = parse_policy(config)
    assert policy.relative_expected_max_minutes == 180
    assert policy.limits_for(Channel.SMS).max_length == 1000
    decision = decide_acknowledgment(ctx(crisis_status_line="All fine again."), policy)
    assert decision.text is not None and decision.text.endswith("\nAll fine again.")


def test_decision_serializes(policy: Policy) -> None:
    data = decide_acknowledgment(ctx(), policy).to_dict()
    assert set(data) == {"send", "reason", "text", "language", "expected_at", "variant"}
    assert json.loads(json.dumps(data)) == data


def test_now_in_utc_or_rome_gives_the_same_decision(policy: Policy) -> None:
    in_rome = decide_acknowledgment(ctx(), policy)
    in_utc = decide_acknowledgment(
        ctx(now=WEDNESDAY_10.astimezone(UTC), occurred_at=(WEDNESDAY_10 - timedelta(seconds=5)).astimezone(UTC)),
        policy,
    )
    assert in_rome == in_utc


def test_a_chat_another_app_answers_is_never_acknowledged() -> None:
    """LINE standby mode: a module channel holds the chat, a reply from us would be out of turn."""
    from chalicelib.acknowledgments import AckContext, AckReason, decide_acknowledgment, load_policy
    from chalicelib.core.model import Channel, EventKind

    context = AckContext(kind=EventKind.MESSAGE, channel=Channel.LINE, occurred_at="2026-11-23T10:00:00Z",
                         now="2026-11-23T10:00:01Z", reference="OH-7K3Q9", text="hello",
                         opens_conversation=True, reply_not_ours=True)
    decision = decide_acknowledgment(context, load_policy())
    assert not decision.send and decision.reason is AckReason.REPLY_NOT_OURS
