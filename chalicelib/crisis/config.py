"""The crisis configuration (``chalicelib/config/crisis.v1.json``, or ``$OMNIHUB_CRISIS_CONFIG``).

Read and validated once per process; an invalid file raises :class:`CrisisConfigError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chalicelib.core.config_file import ConfigFile, read_json_config
from chalicelib.core.errors import ConfigError
from chalicelib.core.model import Channel

CONFIG_PATH_ENV = "OMNIHUB_CRISIS_CONFIG"
DEFAULT_CONFIG_PATH = Path(__file__).resolve().parents[1] / "config" / "crisis.v1.json"
DEFAULT_RATE_KEY = "default"


class CrisisConfigError(ConfigError, ValueError):
    """The crisis configuration file is unreadable or invalid."""


@dataclass(frozen=True, slots=True)
class SendRate:
    per_second: float
    burst: float


@dataclass(frozen=True, slots=True)
class BroadcastTemplate:
    name: str
    language: str
    params: tuple[str, ...] = ()
    content_sid: str | None = None


@dataclass(frozen=True, slots=True)
class CrisisConfig:
    rates: Mapping[str, SendRate]
    fallback_language: str = "en"
    whatsapp_templates: Mapping[str, BroadcastTemplate] = field(default_factory=dict)
    messenger_tag: str | None = None
    page_size: int = 100
    max_wait_seconds: float = 10.0
    # The dry run's budget (crisis/dry_run.py): exact within it, an extrapolated estimate beyond.
    dry_run_page_size: int = 1000
    dry_run_max_pages: int = 20
    dry_run_seconds: float = 3.0

    def rate_for(self, channel: Channel | str) -> SendRate:
        name = channel.value if isinstance(channel, Channel) else channel
        return self.rates.get(name) or self.rates[DEFAULT_RATE_KEY]

    def eta_seconds(self, recipients: int, channel: Channel | str) -> int:
        """Time to send ``recipients`` at the channel's rate, the bucket's burst going at once."""
        rate = self.rate_for(channel)
        return max(0, math.ceil((recipients - rate.burst) / rate.per_second)) if recipients else 0

    def template_for(self, language: str | None) -> BroadcastTemplate | None:
        """The exact language (``pt-br``), then its base (``pt``), then the fallback language."""
        candidates: list[str] = []
        if language:
            lowered = language.lower().replace("_", "-")
            candidates += [lowered, lowered.split("-")[0]]
        candidates.append(self.fallback_language)
        return next((self.whatsapp_templates[c] for c in candidates if c in self.whatsapp_templates), None)


def parse_crisis_config(document: Any, where: str = "crisis configuration") -> CrisisConfig:
    if not isinstance(document, dict) or document.get("version") != 1:
        raise CrisisConfigError(f"{where}: must be an object with \"version\": 1")
    rates_doc = document.get("rates")
    if not isinstance(rates_doc, dict) or DEFAULT_RATE_KEY not in rates_doc:
        raise CrisisConfigError(f"{where}: rates must be an object with a \"default\" entry")
    rates = {}
    for name, spec in rates_doc.items():
        if name != DEFAULT_RATE_KEY and name not in {c.value for c in Channel}:
            raise CrisisConfigError(f"{where}: rates.{name} is not a channel")
        per_second = spec.get("per_second") if isinstance(spec, dict) else None
        burst = spec.get("burst", per_second) if isinstance(spec, dict) else None
        if not _positive(per_second) or not _positive(burst):
            raise CrisisConfigError(f"{where}: rates.{name} needs positive per_second and burst")
        rates[name] = SendRate(float(per_second), float(burst))  # type: ignore[arg-type]
    templates_doc = document.get("whatsapp_templates") or {}
    if not isinstance(templates_doc, dict):
        raise CrisisConfigError(f"{where}: whatsapp_templates must be an object keyed by language")
    templates = {}
    for language, spec in templates_doc.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
            raise CrisisConfigError(f"{where}: whatsapp_templates.{language} needs a name")
        params = tuple(str(p) for p in spec.get("params") or ())
        if set(params) - {"text", "reference"}:
            raise CrisisConfigError(f"{where}: whatsapp_templates.{language}.params may name text and reference")
        templates[str(language).lower()] = BroadcastTemplate(
            spec["name"], str(spec.get("language") or language), params, spec.get("content_sid"))
    fallback = document.get("fallback_language", "en")
    tag = document.get("messenger_tag")
    page_size = document.get("page_size", 100)
    max_wait = document.get("max_wait_seconds", 10)
    if not isinstance(document.get("dry_run", {}), dict):
        raise CrisisConfigError(f"{where}: dry_run must be an object")
    if not isinstance(fallback, str) or not fallback:
        raise CrisisConfigError(f"{where}: fallback_language must be a language tag")
    if tag is not None and not isinstance(tag, str):
        raise CrisisConfigError(f"{where}: messenger_tag must be a string or null")
    if not isinstance(page_size, int) or not 1 <= page_size <= 1000:
        raise CrisisConfigError(f"{where}: page_size must be a whole number from 1 to 1000")
    if not _positive(max_wait):
        raise CrisisConfigError(f"{where}: max_wait_seconds must be positive")
    budget = document.get("dry_run", {})
    dry_page, dry_pages = budget.get("page_size", 1000), budget.get("max_pages", 20)
    dry_seconds = budget.get("seconds", 3)
    if not isinstance(dry_page, int) or isinstance(dry_page, bool) or not 1 <= dry_page <= 1000:
        raise CrisisConfigError(f"{where}: dry_run.page_size must be a whole number from 1 to 1000")
    if not isinstance(dry_pages, int) or isinstance(dry_pages, bool) or not 1 <= dry_pages <= 1000:
        raise CrisisConfigError(f"{where}: dry_run.max_pages must be a whole number from 1 to 1000")
    if not _positive(dry_seconds) or dry_seconds > 25:
        raise CrisisConfigError(f"{where}: dry_run.seconds must be positive and at most 25 (the API's deadline)")
    return CrisisConfig(rates, fallback.lower(), templates, tag, page_size, float(max_wait),
                        dry_page, dry_pages, float(dry_seconds))


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _read_file(path: str) -> CrisisConfig:
    return parse_crisis_config(read_json_config(path, "crisis configuration", CrisisConfigError), path)


_FILE = ConfigFile(CONFIG_PATH_ENV, DEFAULT_CONFIG_PATH, _read_file)
crisis_config_path = _FILE.path  # path > $OMNIHUB_CRISIS_CONFIG > the shipped default
load_crisis_config = _FILE.load
clear_crisis_config_cache = _FILE.clear
