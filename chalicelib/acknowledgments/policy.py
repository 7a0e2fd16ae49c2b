"""The acknowledgment policy: whether an inbound event gets an immediate reply, and its words.

The promise to the customer: never left without an answer — if we cannot solve it now, the answer is
at least immediate and personal (their name, their language, a reference, an honest expected time).
The other half of the promise is what we never do: reply to STOP, to an auto-responder, to our own
echo, twice to the same message, to every line of a burst, or "we just received it" to a provider's
retry three days late.

Pure and AWS-free: :func:`decide_acknowledgment` takes an :class:`AckContext` the conversation worker
fills from what it already read, and a :class:`Policy` loaded once from the versioned JSON file
(``chalicelib/config/acknowledgments.v1.json``, or ``OMNIHUB_ACK_CONFIG``). The decision carries a stable reason
code for logs and metrics, the text, the language chosen and the expected reply time the text
promises (the SLA sweeper can hold us to it).
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import string
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from chalicelib.core.calendar import BusinessCalendar, CalendarError
from chalicelib.core.consent import ConsentKeyword, consent_keyword
from chalicelib.core.errors import ConfigError
from chalicelib.core.model import Channel, EventKind, Priority, format_timestamp, parse_timestamp

SUPPORTED_VERSION = 1
CONFIG_PATH_ENV = "OMNIHUB_ACK_CONFIG"
DEFAULT_CONFIG_PATH = Path(__file__).resolve().parents[1] / "config" / "acknowledgments.v1.json"

# Carriers treat these words as consent decisions on SMS and WhatsApp; on other channels "yes" or
# "info" alone is ordinary conversation, so the keyword is derived from the text only here.
KEYWORD_CHANNELS = frozenset({Channel.SMS, Channel.WHATSAPP})

# A name longer than this is more likely a company, a slogan or a pasted signature than a first name.
MAX_NAME_CHARS = 24
# A crisis status line is shortened to fit the channel's length hint, but never below this: a stub
# says nothing, and a longer (segmented) SMS is better than a useless line.
MIN_STATUS_LINE_CHARS = 24

# Placeholder values used to check templates when the configuration is loaded.
_SAMPLE_NAME = "Alessandra"
_SAMPLE_REFERENCE = "ABC-12345678"
_SAMPLE_STATUS_LINE = "Some card payments are failing; we are working on it."

# Display names that are placeholders, not people.
_GENERIC_NAMES = frozenset({
    "admin", "anonymous", "anonimo", "cliente", "customer", "guest", "info", "null", "none", "ospite",
    "sconosciuto", "support", "test", "unknown", "user", "utente", "whatsapp", "client", "kunde", "usuario",
})


class AckConfigError(ConfigError, ValueError):
    """The acknowledgment configuration is unreadable or invalid; the message names file and key."""


class AckReason(StrEnum):
    """Stable codes for logs, metrics and tests: why an acknowledgment was or was not sent."""

    # sent
    NEW_CONVERSATION = "new_conversation"
    FIRST_INBOUND = "first_inbound"  # the conversation was opened by us; this is the customer's first word
    AFTER_QUIET_PERIOD = "after_quiet_period"
    # not sent
    NOT_A_MESSAGE = "not_a_message"
    ECHO = "echo"
    REPLY_NOT_OURS = "reply_not_ours"  # LINE standby: another module channel holds the chat
    ALREADY_ACKNOWLEDGED = "already_acknowledged"
    OPT_OUT_KEYWORD = "opt_out_keyword"
    CONSENT_KEYWORD = "consent_keyword"  # START / HELP: the provider or the consent flow answers those
    CONSENT_WITHDRAWN = "consent_withdrawn"
    AUTO_REPLY = "auto_reply"
    TOO_OLD = "too_old"
    WITHIN_QUIET_PERIOD = "within_quiet_period"


class Variant(StrEnum):
    IN_HOURS = "in_hours"
    OUT_OF_HOURS = "out_of_hours"


# --------------------------------------------------------------------------------------------------
# Policy (the configuration file)
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LanguagePack:
    """One language's templates and the words used to describe times."""

    code: str
    greeting_named: str
    greeting_neutral: str
    in_hours: str
    out_of_hours: str
    crisis: str
    time_format: str
    date_format: str
    expected: Mapping[str, str]  # within_minutes, within_an_hour, within_hours, today, tomorrow, weekday, date
    back_at: Mapping[str, str]  # today, tomorrow, weekday, date
    weekdays: tuple[str, ...]  # Monday first
    months: tuple[str, ...]  # January first


@dataclass(frozen=True, slots=True)
class ChannelLimits:
    """Length hints for one channel: ``max_length`` is enforced on the crisis line only."""

    max_length: int
    preferred_length: int | None = None


@dataclass(frozen=True, slots=True)
class Policy:
    version: int
    quiet_period: timedelta
    max_event_age: timedelta
    sla_minutes: Mapping[Priority, int]  # working minutes per priority
    relative_expected_max_minutes: int  # up to this, in hours, "within about 2 hours"; beyond, "by 16:00 today"
    calendar: BusinessCalendar
    fallback_language: str
    languages: Mapping[str, LanguagePack]
    channel_limits: Mapping[str, ChannelLimits]  # channel name or "default"
    source: str

    def limits_for(self, channel: Channel | str) -> ChannelLimits:
        return self.channel_limits.get(str(channel), self.channel_limits["default"])

    def expected_reply_at(self, now: datetime, priority: Priority | str) -> datetime:
        """``now`` plus the priority's SLA in working minutes, in the calendar's time zone."""
        return self.calendar.add_business_minutes(now, self.sla_minutes[Priority(priority)])


_TEMPLATE_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    # key: (allowed placeholders, required placeholders)
    "greeting_named": (frozenset({"name"}), frozenset({"name"})),
    "greeting_neutral": (frozenset(), frozenset()),
    "in_hours": (frozenset({"name_greeting", "name", "reference", "expected"}), frozenset({"reference"})),
    "out_of_hours": (
        frozenset({"name_greeting", "name", "reference", "expected", "back_at"}),
        frozenset({"reference"}),
    ),
    "crisis": (frozenset({"status_line"}), frozenset({"status_line"})),
    "time_format": (frozenset({"hour", "minute"}), frozenset({"hour", "minute"})),
    "date_format": (frozenset({"day", "month"}), frozenset({"day", "month"})),
}
_EXPECTED_FIELDS: dict[str, frozenset[str]] = {
    "within_minutes": frozenset({"minutes"}),
    "within_an_hour": frozenset(),
    "within_hours": frozenset({"hours"}),
    "today": frozenset({"time"}),
    "tomorrow": frozenset({"time"}),
    "weekday": frozenset({"weekday", "time"}),
    "date": frozenset({"date", "time"}),
}
_BACK_AT_FIELDS: dict[str, frozenset[str]] = {
    "today": frozenset({"time"}),
    "tomorrow": frozenset({"time"}),
    "weekday": frozenset({"weekday", "time"}),
    "date": frozenset({"date", "time"}),
}
_DEFAULT_TEMPLATES = {
    "crisis": "{status_line}",
    "time_format": "{hour:02d}:{minute:02d}",
    "date_format": "{day} {month}",
}
_LANGUAGE_CODE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{2,8})*$")
_TOP_LEVEL_KEYS = frozenset({
    "version", "quiet_period_minutes", "max_event_age_minutes", "sla_minutes", "relative_expected_max_minutes",
    "business_hours", "fallback_language", "channels", "languages",
})
_LANGUAGE_KEYS = frozenset({*_TEMPLATE_FIELDS, "expected", "back_at", "weekdays", "months"})


def parse_policy(data: Any, source: str = "<policy>") -> Policy:
    """Validate a decoded configuration document and build the :class:`Policy`.

    Raises :class:`AckConfigError` naming the source and the offending key, e.g.
    ``acknowledgments.v1.json: languages.it.in_hours: must contain {reference}``.
    """

    def fail(path: str, message: str) -> AckConfigError:
        return AckConfigError(f"{source}: {path}: {message}")

    if not isinstance(data, Mapping):
        raise fail("(top level)", "must be a JSON object")
    version = data.get("version")
    if version is None:
        raise fail("version", f"required; this code reads version {SUPPORTED_VERSION}")
    if type(version) is not int or version != SUPPORTED_VERSION:
        raise fail("version", f"unsupported version {version!r}; this code reads version {SUPPORTED_VERSION}")
    _reject_unknown_keys(data, _TOP_LEVEL_KEYS, "(top level)", fail)

    quiet = _whole_number(data, "quiet_period_minutes", fail, minimum=0)
    max_age = _whole_number(data, "max_event_age_minutes", fail, minimum=1)
    relative_max = _whole_number(data, "relative_expected_max_minutes", fail, minimum=0, default=180)

    sla_data = data.get("sla_minutes")
    if not isinstance(sla_data, Mapping):
        raise fail("sla_minutes", "required, an object with urgent, high, normal and low working minutes")
    _reject_unknown_keys(sla_data, frozenset(p.value for p in Priority), "sla_minutes", fail)
    sla = {
        priority: _whole_number(sla_data, priority.value, fail, minimum=0, path="sla_minutes.")
        for priority in Priority
    }

    try:
        calendar = BusinessCalendar.from_config(data.get("business_hours"))
    except CalendarError as err:
        raise fail("business_hours", str(err)) from err

    limits = _parse_channel_limits(data.get("channels", {"default": {"max_length": 1000}}), fail)

    languages_data = data.get("languages")
    if not isinstance(languages_data, Mapping) or not languages_data:
        raise fail("languages", "required, an object of language code → templates")
    languages: dict[str, LanguagePack] = {}
    for code, pack_data in languages_data.items():
        if code.startswith("_"):
            continue
        if not _LANGUAGE_CODE.match(code):
            raise fail(f"languages.{code}", "not a lower-case language code like 'en', 'it' or 'pt-br'")
        languages[code] = _parse_language_pack(code, pack_data, fail)

    fallback = data.get("fallback_language")
    if not isinstance(fallback, str) or fallback not in languages:
        raise fail("fallback_language", f"{fallback!r} must name one of the languages ({', '.join(sorted(languages))})")

    shortest = min(limits.items(), key=lambda item: item[1].max_length)
    for code, pack in languages.items():
        for variant in Variant:
            length = len(_render_sample(pack, variant))
            if length > shortest[1].max_length:
                raise fail(
                    f"languages.{code}.{variant.value}",
                    f"renders to {length} characters with typical values, more than the {shortest[0]} "
                    f"limit of {shortest[1].max_length}; acknowledgments must stay short",
                )

    return Policy(
        version=version,
        quiet_period=timedelta(minutes=quiet),
        max_event_age=timedelta(minutes=max_age),
        sla_minutes=MappingProxyType(sla),
        relative_expected_max_minutes=relative_max,
        calendar=calendar,
        fallback_language=fallback,
        languages=MappingProxyType(languages),
        channel_limits=MappingProxyType(limits),
        source=source,
    )


def _reject_unknown_keys(data: Mapping[str, Any], allowed: frozenset[str], path: str, fail: Any) -> None:
    # Keys starting with "_" are comments; anything else unknown is most likely a typo.
    unknown = sorted(k for k in data if k not in allowed and not str(k).startswith("_"))
    if unknown:
        raise fail(path, f"unknown key(s) {', '.join(unknown)} (expected {', '.join(sorted(allowed))})")


def _whole_number(
    data: Mapping[str, Any],
    key: str,
    fail: Any,
    *,
    minimum: int,
    default: int | None = None,
    path: str = "",
    unit: str = "minutes",
) -> int:
    value = data.get(key, default)
    if value is None:
        raise fail(f"{path}{key}", f"required, a whole number of {unit} (>= {minimum})")
    if type(value) is not int or value < minimum:  # type(...) so that true/false are refused
        raise fail(f"{path}{key}", f"must be a whole number of {unit} >= {minimum}, got {value!r}")
    return value


def _parse_channel_limits(data: Any, fail: Any) -> dict[str, ChannelLimits]:
    if not isinstance(data, Mapping):
        raise fail("channels", "must be an object of channel name → {max_length, preferred_length}")
    allowed = frozenset({"default", *(c.value for c in Channel)})
    _reject_unknown_keys(data, allowed, "channels", fail)
    limits: dict[str, ChannelLimits] = {}
    for name, entry in data.items():
        if name.startswith("_"):
            continue
        path = f"channels.{name}"
        if not isinstance(entry, Mapping):
            raise fail(path, "must be an object like {\"max_length\": 320}")
        _reject_unknown_keys(entry, frozenset({"max_length", "preferred_length"}), path, fail)
        max_length = _whole_number(entry, "max_length", fail, minimum=70, path=f"{path}.", unit="characters")
        preferred = entry.get("preferred_length")
        if preferred is not None and (type(preferred) is not int or not 1 <= preferred <= max_length):
            raise fail(
                f"{path}.preferred_length", f"must be a whole number between 1 and max_length, got {preferred!r}"
            )
        limits[name] = ChannelLimits(max_length, preferred)
    if "default" not in limits:
        raise fail("channels.default", "required: the limits for channels not listed")
    return limits


def _parse_language_pack(code: str, data: Any, fail: Any) -> LanguagePack:
    base = f"languages.{code}"
    if not isinstance(data, Mapping):
        raise fail(base, "must be an object of templates")
    _reject_unknown_keys(data, _LANGUAGE_KEYS, base, fail)
    templates: dict[str, str] = {}
    for key, (allowed, required) in _TEMPLATE_FIELDS.items():
        value = data.get(key, _DEFAULT_TEMPLATES.get(key))
        templates[key] = _checked_template(value, f"{base}.{key}", allowed, required, fail)
    phrase_groups: dict[str, dict[str, str]] = {}
    for group, fields in (("expected", _EXPECTED_FIELDS), ("back_at", _BACK_AT_FIELDS)):
        group_data = data.get(group)
        if not isinstance(group_data, Mapping):
            raise fail(f"{base}.{group}", f"required, an object with {', '.join(fields)}")
        _reject_unknown_keys(group_data, frozenset(fields), f"{base}.{group}", fail)
        phrase_groups[group] = {
            key: _checked_template(group_data.get(key), f"{base}.{group}.{key}", allowed, allowed, fail)
            for key, allowed in fields.items()
        }
    names: dict[str, tuple[str, ...]] = {}
    for key, count in (("weekdays", 7), ("months", 12)):
        value = data.get(key)
        if (
            not isinstance(value, list)
            or len(value) != count
            or not all(isinstance(v, str) and v.strip() for v in value)
        ):
            first = "Monday" if key == "weekdays" else "January"
            raise fail(f"{base}.{key}", f"required, a list of {count} names starting with {first}")
        names[key] = tuple(value)
    pack = LanguagePack(
        code=code,
        greeting_named=templates["greeting_named"],
        greeting_neutral=templates["greeting_neutral"],
        in_hours=templates["in_hours"],
        out_of_hours=templates["out_of_hours"],
        crisis=templates["crisis"],
        time_format=templates["time_format"],
        date_format=templates["date_format"],
        expected=MappingProxyType(phrase_groups["expected"]),
        back_at=MappingProxyType(phrase_groups["back_at"]),
        weekdays=names["weekdays"],
        months=names["months"],
    )
    try:  # format specs such as {hour:02d} are allowed, so try every template with sample values
        _render_sample(pack, Variant.IN_HOURS)
    except (ValueError, TypeError, IndexError, KeyError) as err:
        raise fail(base, f"a template does not render: {err}") from err
    return pack


def _checked_template(
    value: Any, path: str, allowed: frozenset[str], required: frozenset[str], fail: Any
) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(path, "required, a non-empty string")
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as err:
        raise fail(path, f"{err} (write a literal brace as {{{{ or }}}})") from err
    for name in sorted(fields):
        if name not in allowed:
            hint = ", ".join("{" + f + "}" for f in sorted(allowed)) or "no placeholders"
            raise fail(path, f"unknown placeholder {{{name}}} (allowed: {hint})")
    missing = sorted(required - fields)
    if missing:
        raise fail(path, "must contain " + ", ".join("{" + f + "}" for f in missing))
    return value


def _render_sample(pack: LanguagePack, variant: Variant) -> str:
    """The template rendered with typical (longish) values, to check it renders and stays short."""
    time_text = pack.time_format.format(hour=10, minute=30)
    date_text = pack.date_format.format(day=30, month=max(pack.months, key=len))
    values = {"time": time_text, "weekday": max(pack.weekdays, key=len), "date": date_text, "minutes": 45, "hours": 3}
    expected = max((p.format(**values) for p in pack.expected.values()), key=len)
    back_at = max((p.format(**values) for p in pack.back_at.values()), key=len)
    pack.crisis.format(status_line=_SAMPLE_STATUS_LINE)
    return _fill(
        pack.in_hours if variant is Variant.IN_HOURS else pack.out_of_hours,
        name_greeting=pack.greeting_named.format(name=_SAMPLE_NAME),
        name=_SAMPLE_NAME,
        reference=_SAMPLE_REFERENCE,
        expected=expected,
        back_at=back_at,
    )


@functools.lru_cache(maxsize=8)
def _load_policy_file(path: str) -> Policy:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as err:
        raise AckConfigError(f"{path}: cannot read the acknowledgment configuration: {err.strerror}") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise AckConfigError(f"{path}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg})") from err
    return parse_policy(data, source=path)


def load_policy(path: str | os.PathLike[str] | None = None) -> Policy:
    """The policy from ``path`` > ``$OMNIHUB_ACK_CONFIG`` > ``chalicelib/config/acknowledgments.v1.json``.

    Each file is read and validated once per process (cached); invalid files raise
    :class:`AckConfigError` every time they are asked for.
    """
    chosen = path if path is not None else (os.environ.get(CONFIG_PATH_ENV) or DEFAULT_CONFIG_PATH)
    return _load_policy_file(str(Path(chosen).resolve()))


def clear_policy_cache() -> None:
    """Forget loaded policies (tests, or a long-running process after the file changed)."""
    _load_policy_file.cache_clear()


# --------------------------------------------------------------------------------------------------
# Context and decision
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AckContext:
    """Everything the decision needs, as the conversation worker knows it for one inbound event.

    Timestamps may be aware datetimes or ISO-8601 strings with an offset (the model's ``...Z``);
    they are converted to aware UTC datetimes.
    """

    kind: EventKind
    channel: Channel
    occurred_at: datetime | str  # when the customer sent it (the provider's timestamp)
    now: datetime | str  # when we are deciding
    reference: str | None = None  # the conversation's human reference; required to send
    text: str | None = None
    is_echo: bool = False  # our own outbound message reflected back by the provider
    reply_not_ours: bool = False  # the provider says another app answers this chat (LINE standby mode)
    is_auto_reply: bool = False  # from the parser: Auto-Submitted, Precedence bulk/junk/list, bounces...
    consent_state: str | None = None  # on this channel: "granted", "withdrawn" or None (never asked)
    consent_keyword: ConsentKeyword | None = None  # derived from ``text`` on SMS/WhatsApp when not given
    opens_conversation: bool = False
    previous_inbound_at: datetime | str | None = None  # the last inbound before this one, same conversation
    already_acknowledged: bool = False  # this very inbound event already got an acknowledgment
    customer_name: str | None = None
    language: str | None = None  # the customer's stored language
    language_hint: str | None = None  # the provider's hint for this message (BCP-47, e.g. "pt-BR")
    priority: Priority = Priority.NORMAL
    crisis_status_line: str | None = None  # set while a crisis is active, in the customer's language

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", EventKind(self.kind))
        object.__setattr__(self, "channel", Channel(self.channel))
        object.__setattr__(self, "priority", Priority(self.priority))
        if self.consent_keyword is not None:
            object.__setattr__(self, "consent_keyword", ConsentKeyword(self.consent_keyword))
        if self.consent_state not in (None, "granted", "withdrawn"):
            raise ValueError(f"consent_state must be 'granted', 'withdrawn' or None, got {self.consent_state!r}")
        object.__setattr__(self, "occurred_at", _aware_utc(self.occurred_at, "occurred_at"))
        object.__setattr__(self, "now", _aware_utc(self.now, "now"))
        if self.previous_inbound_at is not None:
            object.__setattr__(self, "previous_inbound_at", _aware_utc(self.previous_inbound_at, "previous_inbound_at"))


def _aware_utc(value: datetime | str, name: str) -> datetime:
    if isinstance(value, str):
        return parse_timestamp(value)
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got the naive {value.isoformat()}")
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class AckDecision:
    send: bool
    reason: str  # an AckReason value
    text: str | None
    language: str
    expected_at: str | None  # UTC ISO-8601 ("...Z"): the reply time the text promises
    variant: str | None = None  # "in_hours" or "out_of_hours" when sent

    def to_dict(self) -> dict[str, Any]:
        return {
            "send": self.send,
            "reason": self.reason,
            "text": self.text,
            "language": self.language,
            "expected_at": self.expected_at,
            "variant": self.variant,
        }


def decide_acknowledgment(ctx: AckContext, policy: Policy) -> AckDecision:
    """Whether to acknowledge this inbound event now, and with what text.

    Raises ``ValueError`` if the decision is to send but ``ctx.reference`` is missing: an
    acknowledgment always carries the reference, so that is the caller's bug, not a silent skip.
    """
    language = choose_language(ctx.language, ctx.language_hint, policy)
    silence = _reason_for_silence(ctx, policy)
    if silence is not None:
        return AckDecision(send=False, reason=silence, text=None, language=language, expected_at=None)

    if ctx.opens_conversation:
        reason = AckReason.NEW_CONVERSATION
    elif ctx.previous_inbound_at is None:
        reason = AckReason.FIRST_INBOUND
    else:
        reason = AckReason.AFTER_QUIET_PERIOD
    if not ctx.reference or not ctx.reference.strip():
        raise ValueError("an acknowledgment needs the conversation reference (AckContext.reference)")

    now = _aware_utc(ctx.now, "now")
    calendar = policy.calendar
    variant = Variant.IN_HOURS if calendar.is_open(now) else Variant.OUT_OF_HOURS
    expected_at = policy.expected_reply_at(now, ctx.priority)
    pack = policy.languages[language]
    body = _fill(
        pack.in_hours if variant is Variant.IN_HOURS else pack.out_of_hours,
        name_greeting=greeting(pack, ctx.customer_name),
        name=personal_name(ctx.customer_name) or "",
        reference=ctx.reference.strip(),
        expected=describe_expected(
            expected_at, now, pack, calendar, relative_max_minutes=policy.relative_expected_max_minutes
        ),
        back_at=describe_back_at(calendar.next_open(now), now, pack, calendar),
    )
    text = _with_crisis_line(body, ctx.crisis_status_line, pack, policy.limits_for(ctx.channel))
    return AckDecision(
        send=True,
        reason=reason,
        text=text,
        language=language,
        expected_at=format_timestamp(expected_at),
        variant=variant.value,
    )


def _reason_for_silence(ctx: AckContext, policy: Policy) -> AckReason | None:
    """The first rule that forbids an acknowledgment, in order of how certain it is."""
    if ctx.kind is not EventKind.MESSAGE:
        return AckReason.NOT_A_MESSAGE
    if ctx.is_echo:
        return AckReason.ECHO
    if ctx.reply_not_ours:
        return AckReason.REPLY_NOT_OURS
    if ctx.already_acknowledged:
        return AckReason.ALREADY_ACKNOWLEDGED
    keyword = ctx.consent_keyword
    if keyword is None and ctx.channel in KEYWORD_CHANNELS:
        keyword = consent_keyword(ctx.text)
    if keyword is ConsentKeyword.OPT_OUT:
        return AckReason.OPT_OUT_KEYWORD
    if keyword is not None:
        return AckReason.CONSENT_KEYWORD
    if ctx.consent_state == "withdrawn":
        return AckReason.CONSENT_WITHDRAWN
    if ctx.is_auto_reply:
        return AckReason.AUTO_REPLY
    occurred_at = _aware_utc(ctx.occurred_at, "occurred_at")
    if _aware_utc(ctx.now, "now") - occurred_at > policy.max_event_age:
        return AckReason.TOO_OLD
    if not ctx.opens_conversation and ctx.previous_inbound_at is not None:
        gap = occurred_at - _aware_utc(ctx.previous_inbound_at, "previous_inbound_at")
        if gap < policy.quiet_period:
            return AckReason.WITHIN_QUIET_PERIOD
    return None


# --------------------------------------------------------------------------------------------------
# Language, name, phrases
# --------------------------------------------------------------------------------------------------


def normalize_language_tag(tag: str | None) -> str | None:
    """``"pt_BR"``, ``" PT-br "`` → ``"pt-br"``; ``None`` for anything that is not a language tag."""
    if not tag or not isinstance(tag, str):
        return None
    normalized = tag.strip().replace("_", "-").lower()
    return normalized if _LANGUAGE_CODE.match(normalized) else None


def choose_language(customer_language: str | None, provider_hint: str | None, policy: Policy) -> str:
    """The customer's language, then the provider's hint — each exactly, then its base
    (``pt-BR`` → ``pt``) — then the policy's fallback."""
    for candidate in (customer_language, provider_hint):
        tag = normalize_language_tag(candidate)
        if tag is None:
            continue
        if tag in policy.languages:
            return tag
        base = tag.split("-", 1)[0]
        if base in policy.languages:
            return base
    return policy.fallback_language


def personal_name(raw: str | None) -> str | None:
    """The first name to greet with, or ``None`` when there is no usable one.

    Never an email address, phone number, handle or placeholder ("WhatsApp User"); symbols and emoji
    are dropped; an all-lower or all-upper name gets conventional capitals; long names are refused.
    """
    if not raw or not isinstance(raw, str):
        return None
    text = unicodedata.normalize("NFC", raw)
    lowered = text.lower()
    if "@" in text or "http" in lowered or "www." in lowered or any(ch.isdigit() for ch in text):
        return None
    kept = "".join(ch if _is_name_char(ch) else " " for ch in text)
    words = kept.split()
    if not words:
        return None
    first = words[0].strip(".-'\u2019")
    letters = sum(ch.isalpha() for ch in first)
    if letters < 2 or len(first) > MAX_NAME_CHARS or first.lower() in _GENERIC_NAMES:
        return None
    if first.islower() or first.isupper():
        first = "-".join(part[:1].upper() + part[1:].lower() for part in first.split("-"))
    return first


def _is_name_char(ch: str) -> bool:
    if ch in "-'\u2019.":
        return True
    return unicodedata.category(ch)[0] in ("L", "M")


def greeting(pack: LanguagePack, customer_name: str | None) -> str:
    name = personal_name(customer_name)
    return pack.greeting_named.format(name=name) if name else pack.greeting_neutral


def _time_text(pack: LanguagePack, moment: datetime) -> str:
    return pack.time_format.format(hour=moment.hour, minute=moment.minute)


def _day_phrase(phrases: Mapping[str, str], pack: LanguagePack, moment: datetime, now: datetime) -> str:
    """``today`` / ``tomorrow`` / ``weekday`` (within the week) / ``date``; both arguments local."""
    days_ahead = (moment.date() - now.date()).days
    key = "today" if days_ahead <= 0 else "tomorrow" if days_ahead == 1 else "weekday" if days_ahead < 7 else "date"
    return phrases[key].format(
        time=_time_text(pack, moment),
        weekday=pack.weekdays[moment.weekday()],
        date=pack.date_format.format(day=moment.day, month=pack.months[moment.month - 1]),
    )


def _round_up_to_quarter_hour(moment: datetime) -> datetime:
    # Promise a little later rather than a little earlier; every real UTC offset is a multiple of
    # 15 minutes, so quarter hours in UTC are quarter hours on the local clock too.
    epoch = moment.timestamp()
    return datetime.fromtimestamp(math.ceil(epoch / 900) * 900, tz=moment.tzinfo)


def describe_expected(
    expected_at: datetime,
    now: datetime,
    pack: LanguagePack,
    calendar: BusinessCalendar,
    *,
    relative_max_minutes: int,
) -> str:
    """A human phrase for the expected reply time: "within about 2 hours" while open and soon (the
    same day, within ``relative_max_minutes``), otherwise "by 16:00 today", "by 10:00 tomorrow",
    "by Monday at 11:00", "by 7 January at 10:00" (rounded up to the quarter hour)."""
    minutes_away = max(0, math.ceil((expected_at - now).total_seconds() / 60))
    local_now = now.astimezone(calendar.zone)
    local_expected = expected_at.astimezone(calendar.zone)
    if calendar.is_open(now) and local_expected.date() == local_now.date() and minutes_away <= relative_max_minutes:
        if minutes_away <= 55:
            return pack.expected["within_minutes"].format(minutes=max(5, math.ceil(minutes_away / 5) * 5))
        if minutes_away <= 60:
            return pack.expected["within_an_hour"]
        return pack.expected["within_hours"].format(hours=math.ceil(minutes_away / 60))
    rounded = _round_up_to_quarter_hour(local_expected).astimezone(calendar.zone)
    return _day_phrase(pack.expected, pack, rounded, local_now)


def describe_back_at(back_at: datetime, now: datetime, pack: LanguagePack, calendar: BusinessCalendar) -> str:
    """When the team is back: "Monday at 09:00", "tomorrow at 09:00", "on 7 January at 09:00"."""
    return _day_phrase(pack.back_at, pack, back_at.astimezone(calendar.zone), now.astimezone(calendar.zone))


def _fill(template: str, **values: Any) -> str:
    # An empty {name} leaves "Thanks , we" or a double space behind; tidy spaces, never newlines
    # (and never before ":" or "!", which French typography spaces on purpose).
    text = template.format(**values)
    text = re.sub(r"[ \t]+,", ",", text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def _with_crisis_line(body: str, status_line: str | None, pack: LanguagePack, limits: ChannelLimits) -> str:
    """Append the crisis line; shorten it (at a word, with "...") to fit the channel's hint."""
    line = " ".join((status_line or "").split())
    if not line:
        return body
    text = f"{body}\n{pack.crisis.format(status_line=line)}"
    overflow = len(text) - limits.max_length
    if overflow <= 0:
        return text
    room = len(line) - overflow - len("...")
    if room < MIN_STATUS_LINE_CHARS:
        return text  # the crisis news matters more than one more SMS segment
    cut = line[:room]
    if " " in cut[room // 2 :]:
        cut = cut.rsplit(" ", 1)[0]
    return f"{body}\n{pack.crisis.format(status_line=cut.rstrip(' ,;:.') + '...')}"


# --------------------------------------------------------------------------------------------------
# Email: automatic messages (for the parsers)
# --------------------------------------------------------------------------------------------------

_AUTO_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
_AUTO_HEADERS = (
    "x-autoreply", "x-autorespond", "x-autogenerated", "list-id", "list-unsubscribe", "x-failed-recipients",
)
_BOUNCE_SENDERS = ("mailer-daemon@", "postmaster@")


def looks_like_auto_reply(headers: Mapping[str, str], sender: str | None = None) -> bool:
    """True for email nobody typed: RFC 3834 ``Auto-Submitted``, ``Precedence: bulk/junk/list``,
    vacation responders, mailing lists, and bounces (empty ``Return-Path``, ``multipart/report``,
    ``MAILER-DAEMON``). The email parsers set ``is_auto_reply`` from it."""
    lowered = {str(k).lower(): str(v).strip().lower() for k, v in headers.items()}
    auto_submitted = lowered.get("auto-submitted")
    if auto_submitted and auto_submitted != "no":
        return True
    if lowered.get("precedence") in _AUTO_PRECEDENCE:
        return True
    if any(name in lowered for name in _AUTO_HEADERS):
        return True
    if lowered.get("return-path") == "<>":
        return True
    if lowered.get("content-type", "").startswith("multipart/report"):
        return True
    sender_text = (sender or lowered.get("from", "")).lower()
    return any(marker in sender_text for marker in _BOUNCE_SENDERS)
