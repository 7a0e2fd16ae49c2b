"""Acknowledgments: whether an inbound event gets an immediate reply, and its words (pure).

Inside: ``config`` (the versioned wording file composed with the shared service levels),
``decision`` (the rules and the decision), ``wording`` (greeting, name, expected time, crisis line),
``templates`` (a language's templates, checked on load), ``flow`` (the decision in the message flow).
Language tags live in :mod:`chalicelib.core.language`, email auto-reply detection in
:mod:`chalicelib.email.loops`, business hours and SLA targets in :mod:`chalicelib.sla`.
"""

from __future__ import annotations

from chalicelib.acknowledgments.config import (
    CONFIG_PATH_ENV,
    DEFAULT_CONFIG_PATH,
    SUPPORTED_VERSION,
    ChannelLimits,
    Policy,
    clear_policy_cache,
    load_policy,
    parse_policy,
)
from chalicelib.acknowledgments.decision import (
    KEYWORD_CHANNELS,
    AckContext,
    AckDecision,
    AckReason,
    choose_language,
    decide_acknowledgment,
)
from chalicelib.acknowledgments.validation import AckConfigError
from chalicelib.acknowledgments.wording import (
    MAX_NAME_CHARS,
    MIN_STATUS_LINE_CHARS,
    LanguagePack,
    Variant,
    describe_back_at,
    describe_expected,
    greeting,
    personal_name,
)

__all__ = [
    "CONFIG_PATH_ENV",
    "DEFAULT_CONFIG_PATH",
    "KEYWORD_CHANNELS",
    "MAX_NAME_CHARS",
    "MIN_STATUS_LINE_CHARS",
    "SUPPORTED_VERSION",
    "AckConfigError",
    "AckContext",
    "AckDecision",
    "AckReason",
    "ChannelLimits",
    "LanguagePack",
    "Policy",
    "Variant",
    "choose_language",
    "clear_policy_cache",
    "decide_acknowledgment",
    "describe_back_at",
    "describe_expected",
    "greeting",
    "load_policy",
    "parse_policy",
    "personal_name",
]
