"""The feedback configuration: which survey (CSAT or NPS) each channel gets after a resolve, when, and
in which words.

One versioned file, ``chalicelib/config/feedback.v1.json``; ``OMNIHUB_FEEDBACK_CONFIG`` names another.
It is read and validated once per process; an invalid file raises :class:`FeedbackConfigError`
naming the file and the field (``channels.sms.kind``), every time it is asked for.

Defaults: a CSAT survey at once on resolve, on every channel but voice (a call cannot carry it), no
per-customer limit, answers taken for 72 hours and a comment for 30 minutes after the answer.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from chalicelib.core.config_file import ConfigFile, read_json_config
from chalicelib.core.errors import ConfigError
from chalicelib.core.model import Channel

SUPPORTED_VERSION = 1
FEEDBACK_CONFIG_ENV = "OMNIHUB_FEEDBACK_CONFIG"
DEFAULT_FEEDBACK_PATH = Path(__file__).resolve().parents[1] / "config" / "feedback.v1.json"

MAX_DELAY_MINUTES = 7 * 24 * 60
MAX_ONCE_PER_DAYS = 366
MAX_ANSWER_WINDOW_HOURS = 30 * 24
MAX_COMMENT_WINDOW_MINUTES = 7 * 24 * 60
MAX_WORDING_CHARS = 1000
# A channel that can never carry a survey, whatever the file says.
CHANNELS_WITHOUT_SURVEYS: frozenset[Channel] = frozenset({Channel.VOICE})

_TOP_LEVEL = ("version", "default", "channels", "delay_minutes", "once_per_customer_days", "answer_window_hours",
              "comment_window_minutes", "fallback_language", "wording", "periodic_report")
_REPORT_KEYS = ("enabled", "weekday", "time")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_CHANNEL_KEYS = ("enabled", "kind")
_WORDING_KEYS = ("csat", "nps", "thanks")
_PLACEHOLDERS = frozenset({"reference", "name"})
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*$")


class SurveyKind(StrEnum):
    CSAT = "csat"  # customer satisfaction, 1-5
    NPS = "nps"  # net promoter score, 0-10

    @property
    def scale(self) -> tuple[int, int]:
        return (1, 5) if self is SurveyKind.CSAT else (0, 10)


class FeedbackConfigError(ConfigError, ValueError):
    """The feedback configuration is unreadable or invalid; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class ChannelSurvey:
    enabled: bool
    kind: SurveyKind


@dataclass(frozen=True, slots=True)
class Wording:
    csat: str
    nps: str
    thanks: str

    def question(self, kind: SurveyKind) -> str:
        return self.csat if kind is SurveyKind.CSAT else self.nps


@dataclass(frozen=True, slots=True)
class ReportSchedule:
    """When the weekly KPI report of the previous week (Monday to Sunday) goes out, in business time."""

    enabled: bool = True
    weekday: int = 0  # Monday
    hour: int = 8
    minute: int = 0


@dataclass(frozen=True, slots=True, eq=False)
class FeedbackConfig:
    default: ChannelSurvey
    channels: Mapping[Channel, ChannelSurvey]
    delay_minutes: int
    once_per_customer_days: int  # 0: no limit
    answer_window_hours: int
    comment_window_minutes: int
    fallback_language: str
    wording: Mapping[str, Wording]
    source: str = field(default="<feedback>")
    periodic_report: ReportSchedule = field(default_factory=ReportSchedule)

    def for_channel(self, channel: Channel) -> ChannelSurvey:
        chosen = self.channels.get(channel, self.default)
        if channel in CHANNELS_WITHOUT_SURVEYS:
            return ChannelSurvey(enabled=False, kind=chosen.kind)
        return chosen

    def wording_for(self, language: str | None) -> tuple[str, Wording]:
        """The customer's language when worded (``pt-BR`` → ``pt``), else the fallback."""
        for candidate in (language, (language or "").split("-")[0]):
            if candidate and candidate.lower() in self.wording:
                return candidate.lower(), self.wording[candidate.lower()]
        return self.fallback_language, self.wording[self.fallback_language]


def parse_feedback_config(data: Any, source: str = "<feedback>") -> FeedbackConfig:
    """Validate a decoded document; errors read ``<source>: <field>: <problem>``."""

    def fail(path: str, message: str) -> FeedbackConfigError:
        return FeedbackConfigError(f"{source}: {path}: {message}")

    if not isinstance(data, Mapping):
        raise fail("(top level)", "must be a JSON object")
    version = data.get("version")
    if type(version) is not int or version != SUPPORTED_VERSION:
        got = "required" if version is None else f"unsupported version {version!r}"
        raise fail("version", f"{got}; this code reads version {SUPPORTED_VERSION}")
    _reject_unknown(data, _TOP_LEVEL, "(top level)", fail)
    default = _channel_survey(data.get("default", {}), "default", ChannelSurvey(True, SurveyKind.CSAT), fail)
    channels_data = data.get("channels", {})
    if not isinstance(channels_data, Mapping):
        raise fail("channels", "must be an object {channel: {enabled, kind}}")
    channels: dict[Channel, ChannelSurvey] = {}
    for name, entry in channels_data.items():
        if str(name).startswith("_"):
            continue
        try:
            channel = Channel(str(name))
        except ValueError:
            raise fail(f"channels.{name}", f"unknown channel (one of {', '.join(c.value for c in Channel)})") from None
        channels[channel] = _channel_survey(entry, f"channels.{name}", default, fail)
    fallback = data.get("fallback_language", "en")
    if not isinstance(fallback, str) or not _LANGUAGE.match(fallback):
        raise fail("fallback_language", "must be a language tag such as en")
    wording = _wording(data.get("wording"), fail)
    if fallback not in wording:
        raise fail("fallback_language", f"{fallback!r} has no wording (wording.{fallback} is required)")
    return FeedbackConfig(
        default=default,
        channels=channels,
        delay_minutes=_integer(data, "delay_minutes", 0, MAX_DELAY_MINUTES, 0, fail),
        once_per_customer_days=_integer(data, "once_per_customer_days", 0, MAX_ONCE_PER_DAYS, 0, fail),
        answer_window_hours=_integer(data, "answer_window_hours", 1, MAX_ANSWER_WINDOW_HOURS, 72, fail),
        comment_window_minutes=_integer(data, "comment_window_minutes", 0, MAX_COMMENT_WINDOW_MINUTES, 30, fail),
        fallback_language=fallback,
        wording=wording,
        source=source,
        periodic_report=_report_schedule(data.get("periodic_report", {}), fail),
    )


def _report_schedule(value: Any, fail: Any) -> ReportSchedule:
    if not isinstance(value, Mapping):
        raise fail("periodic_report", 'must be an object {"enabled", "weekday", "time"}')
    _reject_unknown(value, _REPORT_KEYS, "periodic_report", fail)
    enabled = value.get("enabled", True)
    if not isinstance(enabled, bool):
        raise fail("periodic_report.enabled", "must be true or false")
    weekday = value.get("weekday", "monday")
    if weekday not in WEEKDAYS:
        raise fail("periodic_report.weekday", f"must be one of {', '.join(WEEKDAYS)}")
    clock = _CLOCK.match(str(value.get("time", "08:00")))
    if clock is None:
        raise fail("periodic_report.time", "must be HH:MM (business time, 24 h)")
    return ReportSchedule(enabled, WEEKDAYS.index(weekday), int(clock.group(1)), int(clock.group(2)))


def _reject_unknown(value: Mapping[str, Any], known: tuple[str, ...], path: str, fail: Any) -> None:
    unknown = sorted(str(k) for k in value if k not in known and not str(k).startswith("_"))
    if unknown:
        raise fail(path, f"unknown key(s) {', '.join(unknown)} (expected {', '.join(known)})")


def _channel_survey(value: Any, path: str, inherited: ChannelSurvey, fail: Any) -> ChannelSurvey:
    if not isinstance(value, Mapping):
        raise fail(path, 'must be an object {"enabled": true|false, "kind": "csat"|"nps"}')
    _reject_unknown(value, _CHANNEL_KEYS, path, fail)
    enabled = value.get("enabled", inherited.enabled)
    if not isinstance(enabled, bool):
        raise fail(f"{path}.enabled", "must be true or false")
    kind = value.get("kind", inherited.kind.value)
    try:
        survey_kind = SurveyKind(str(kind))
    except ValueError:
        raise fail(f"{path}.kind", 'must be "csat" (1-5) or "nps" (0-10)') from None
    return ChannelSurvey(enabled=enabled, kind=survey_kind)


def _integer(data: Mapping[str, Any], name: str, low: int, high: int, default: int, fail: Any) -> int:
    value = data.get(name, default)
    if type(value) is not int or not low <= value <= high:
        raise fail(name, f"must be an integer {low}-{high}")
    return value


def _wording(value: Any, fail: Any) -> dict[str, Wording]:
    if not isinstance(value, Mapping) or not value:
        raise fail("wording", 'required, an object {language: {"csat", "nps", "thanks"}}')
    result: dict[str, Wording] = {}
    for language, texts in value.items():
        path = f"wording.{language}"
        if str(language).startswith("_"):
            continue
        if not isinstance(language, str) or not _LANGUAGE.match(language):
            raise fail(path, "the key must be a lower-case language tag such as it or pt-br")
        if not isinstance(texts, Mapping):
            raise fail(path, 'must be an object {"csat", "nps", "thanks"}')
        _reject_unknown(texts, _WORDING_KEYS, path, fail)
        checked = [_text(texts.get(key), f"{path}.{key}", fail) for key in _WORDING_KEYS]
        result[language] = Wording(*checked)
    return result


def _text(value: Any, path: str, fail: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_WORDING_CHARS:
        raise fail(path, f"required, a text of 1-{MAX_WORDING_CHARS} characters")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as err:
        raise fail(path, f"malformed placeholder ({err})") from None
    unknown = sorted(names - _PLACEHOLDERS)
    if unknown:
        raise fail(path, f"unknown placeholder(s) {', '.join(unknown)} (known: reference, name)")
    return value


def _read_file(path: str) -> FeedbackConfig:
    return parse_feedback_config(read_json_config(path, "feedback configuration", FeedbackConfigError), source=path)


_FILE = ConfigFile(FEEDBACK_CONFIG_ENV, DEFAULT_FEEDBACK_PATH, _read_file)
feedback_config_path = _FILE.path  # path > $OMNIHUB_FEEDBACK_CONFIG > the shipped default
load_feedback_config = _FILE.load
clear_feedback_config_cache = _FILE.clear
