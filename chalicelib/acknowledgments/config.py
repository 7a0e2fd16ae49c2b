"""The acknowledgment policy: the versioned wording file composed with the shared service levels.

``chalicelib/config/acknowledgments.v1.json`` (or ``$OMNIHUB_ACK_CONFIG``) holds what only
acknowledgments need: the quiet period, the age limit, channel length hints and the languages.
Business hours and SLA targets are meant to be shared with routing, SLA timers and crisis pacing, so
they live in the service-levels file (:mod:`chalicelib.sla.service_levels`); the acknowledgment promises
the first-response time of the conversation's priority and picks its in/out-of-hours wording from
that calendar.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any

from chalicelib.acknowledgments.templates import parse_language_pack, render_sample
from chalicelib.acknowledgments.validation import (
    AckConfigError,
    Fail,
    failure_in,
    reject_unknown_keys,
    whole_number,
)
from chalicelib.acknowledgments.wording import LanguagePack, Variant
from chalicelib.core.calendar import BusinessCalendar
from chalicelib.core.config_file import path_in_force, read_json_config
from chalicelib.core.language import is_language_tag
from chalicelib.core.model import Channel, Priority
from chalicelib.sla import (
    SERVICE_LEVELS_PATH_ENV,
    ServiceLevels,
    SlaKind,
    clear_service_levels_cache,
    load_service_levels,
)

SUPPORTED_VERSION = 1
CONFIG_PATH_ENV = "OMNIHUB_ACK_CONFIG"
DEFAULT_CONFIG_PATH = Path(__file__).resolve().parents[1] / "config" / "acknowledgments.v1.json"

_TOP_LEVEL_KEYS = frozenset({
    "version", "quiet_period_minutes", "max_event_age_minutes", "relative_expected_max_minutes",
    "fallback_language", "channels", "languages", "acknowledge_public",
})
# Keys an older acknowledgments.v1.json had: refused with where they went, not as unknown typos.
_SERVICE_LEVELS_FILE = "chalicelib/config/service_levels.v1.json"
_MOVED_KEYS = {
    "sla_minutes": "sla.policies.<priority>.first_response_minutes",
    "business_hours": "business_hours",
}


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
    relative_expected_max_minutes: int  # up to this, in hours, "within about 2 hours"; beyond, "by 16:00 today"
    fallback_language: str
    languages: Mapping[str, LanguagePack]
    channel_limits: Mapping[str, ChannelLimits]  # channel name or "default"
    service_levels: ServiceLevels  # the business calendar and the SLA targets, shared
    source: str
    # A public conversation (a comment, a mention, a reply post) is acknowledged only when this is
    # true, and then in public (a comment reply, a reply post). Default false: a brand's automatic
    # "thanks, your reference is ..." under a complaint is seen by everyone and reads as a brush-off.
    acknowledge_public: bool = False

    @property
    def calendar(self) -> BusinessCalendar:
        return self.service_levels.calendar

    def limits_for(self, channel: Channel | str) -> ChannelLimits:
        return self.channel_limits.get(str(channel), self.channel_limits["default"])

    def expected_reply_at(self, now: datetime, priority: Priority | str) -> datetime:
        """When the first response to a message received ``now`` is due, in the calendar's time zone."""
        return self.service_levels.due(now, priority, SlaKind.FIRST_RESPONSE)


def parse_policy(data: Any, source: str = "<policy>", *, service_levels: ServiceLevels | None = None) -> Policy:
    """Validate a decoded acknowledgment configuration and build the :class:`Policy`.

    ``service_levels`` defaults to :func:`~chalicelib.sla.load_service_levels` (the file in force).
    Raises :class:`AckConfigError` naming the source and the offending key, e.g.
    ``acknowledgments.v1.json: languages.it.in_hours: must contain {reference}``.
    """
    fail = failure_in(source)
    if not isinstance(data, Mapping):
        raise fail("(top level)", "must be a JSON object")
    version = data.get("version")
    if version is None:
        raise fail("version", f"required; this code reads version {SUPPORTED_VERSION}")
    if type(version) is not int or version != SUPPORTED_VERSION:
        raise fail("version", f"unsupported version {version!r}; this code reads version {SUPPORTED_VERSION}")
    for key, new_place in _MOVED_KEYS.items():
        if key in data:
            raise fail(
                key,
                f"moved to the service-levels file ({_SERVICE_LEVELS_FILE}, or "
                f"${SERVICE_LEVELS_PATH_ENV}) as {new_place}; remove it from this file",
            )
    reject_unknown_keys(data, _TOP_LEVEL_KEYS, "(top level)", fail)

    quiet = whole_number(data, "quiet_period_minutes", fail, minimum=0)
    max_age = whole_number(data, "max_event_age_minutes", fail, minimum=1)
    relative_max = whole_number(data, "relative_expected_max_minutes", fail, minimum=0, default=180)
    limits = _parse_channel_limits(data.get("channels", {"default": {"max_length": 1000}}), fail)
    acknowledge_public = data.get("acknowledge_public", False)
    if not isinstance(acknowledge_public, bool):
        raise fail("acknowledge_public", f"must be true or false, got {acknowledge_public!r}")

    languages_data = data.get("languages")
    if not isinstance(languages_data, Mapping) or not languages_data:
        raise fail("languages", "required, an object of language code → templates")
    languages: dict[str, LanguagePack] = {}
    for code, pack_data in languages_data.items():
        if code.startswith("_"):
            continue
        if not is_language_tag(code):
            raise fail(f"languages.{code}", "not a lower-case language code like 'en', 'it' or 'pt-br'")
        languages[code] = parse_language_pack(code, pack_data, fail)

    fallback = data.get("fallback_language")
    if not isinstance(fallback, str) or fallback not in languages:
        raise fail("fallback_language", f"{fallback!r} must name one of the languages ({', '.join(sorted(languages))})")

    shortest = min(limits.items(), key=lambda item: item[1].max_length)
    for code, pack in languages.items():
        for variant in Variant:
            length = len(render_sample(pack, variant))
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
        relative_expected_max_minutes=relative_max,
        fallback_language=fallback,
        languages=MappingProxyType(languages),
        channel_limits=MappingProxyType(limits),
        service_levels=service_levels if service_levels is not None else load_service_levels(),
        source=source,
        acknowledge_public=acknowledge_public,
    )


def _parse_channel_limits(data: Any, fail: Fail) -> dict[str, ChannelLimits]:
    if not isinstance(data, Mapping):
        raise fail("channels", "must be an object of channel name → {max_length, preferred_length}")
    allowed = frozenset({"default", *(c.value for c in Channel)})
    reject_unknown_keys(data, allowed, "channels", fail)
    limits: dict[str, ChannelLimits] = {}
    for name, entry in data.items():
        if name.startswith("_"):
            continue
        path = f"channels.{name}"
        if not isinstance(entry, Mapping):
            raise fail(path, "must be an object like {\"max_length\": 320}")
        reject_unknown_keys(entry, frozenset({"max_length", "preferred_length"}), path, fail)
        max_length = whole_number(entry, "max_length", fail, minimum=70, path=f"{path}.", unit="characters")
        preferred = entry.get("preferred_length")
        if preferred is not None and (type(preferred) is not int or not 1 <= preferred <= max_length):
            raise fail(
                f"{path}.preferred_length", f"must be a whole number between 1 and max_length, got {preferred!r}"
            )
        limits[name] = ChannelLimits(max_length, preferred)
    if "default" not in limits:
        raise fail("channels.default", "required: the limits for channels not listed")
    return limits


def load_policy(path: str | os.PathLike[str] | None = None) -> Policy:
    """The policy from ``path`` > ``$OMNIHUB_ACK_CONFIG`` > ``chalicelib/config/acknowledgments.v1.json``,
    with the service levels in force (:func:`~chalicelib.sla.load_service_levels`).

    Each pair of files is read and validated once per process (cached); invalid files raise
    :class:`AckConfigError` (or :class:`~chalicelib.sla.ServiceLevelsError`) every time they are asked for.
    """
    return _load_policy_file(path_in_force(path, CONFIG_PATH_ENV, DEFAULT_CONFIG_PATH), load_service_levels().source)


def clear_policy_cache() -> None:
    """Forget loaded policies and service levels (tests, or a long-running process after a file changed)."""
    _load_policy_file.cache_clear()
    clear_service_levels_cache()


@functools.lru_cache(maxsize=8)
def _load_policy_file(path: str, service_levels_source: str) -> Policy:
    data = read_json_config(path, "acknowledgment configuration", AckConfigError)
    return parse_policy(data, source=path, service_levels=load_service_levels(service_levels_source))
