"""Whether an inbound event gets an immediate acknowledgment, and which one (pure).

The promise to the customer: never left without an answer — if we cannot solve it now, the answer is
at least immediate and personal (their name, their language, a reference, an honest expected time).
The other half of the promise is what we never do: reply to STOP, to an auto-responder, to our own
echo, twice to the same message, to every line of a burst, or "we just received it" to a provider's
retry three days late.

:func:`decide_acknowledgment` takes an :class:`AckContext` the caller fills from what it already
read, and a :class:`~chalicelib.acknowledgments.config.Policy`. The decision carries a stable reason
code for logs and metrics, the text, the language chosen and the expected reply time the text
promises (the SLA sweeper can hold us to it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from chalicelib.acknowledgments.config import Policy
from chalicelib.acknowledgments.wording import (
    Variant,
    compose,
    describe_back_at,
    describe_expected,
    with_crisis_line,
)
from chalicelib.core.consent import KEYWORD_CHANNELS, ConsentKeyword, ConsentState, consent_keyword
from chalicelib.core.language import match_language
from chalicelib.core.model import Channel, EventKind, Priority
from chalicelib.core.timestamps import format_timestamp, parse_timestamp


class AckReason(StrEnum):
    """Stable codes for logs, metrics and tests: why an acknowledgment was or was not sent."""

    # sent
    NEW_CONVERSATION = "new_conversation"
    FIRST_INBOUND = "first_inbound"  # the conversation was opened by us; this is the customer's first word
    AFTER_QUIET_PERIOD = "after_quiet_period"
    # not sent
    NOT_A_MESSAGE = "not_a_message"
    ECHO = "echo"
    REPLY_NOT_OURS = "reply_not_ours"  # LINE standby, Meta handover: another app holds the chat
    PUBLIC_CONVERSATION = "public_conversation"  # a comment or mention: not unless acknowledge_public
    ALREADY_ACKNOWLEDGED = "already_acknowledged"
    OPT_OUT_KEYWORD = "opt_out_keyword"
    CONSENT_KEYWORD = "consent_keyword"  # START / HELP: the provider or the consent flow answers those
    CONSENT_WITHDRAWN = "consent_withdrawn"
    AUTO_REPLY = "auto_reply"
    TOO_OLD = "too_old"
    WITHIN_QUIET_PERIOD = "within_quiet_period"


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
    reply_not_ours: bool = False  # another app answers this chat (LINE standby, Meta handover/standby)
    public: bool = False  # a comment, mention or reply post: everyone would see the acknowledgment
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
        if self.consent_state not in (None, *ConsentState):
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


def choose_language(customer_language: str | None, provider_hint: str | None, policy: Policy) -> str:
    """The customer's language, then the provider's hint — each exactly, then its base
    (``pt-BR`` → ``pt``) — then the policy's fallback."""
    return match_language((customer_language, provider_hint), policy.languages, policy.fallback_language)


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
    body = compose(
        pack,
        variant,
        customer_name=ctx.customer_name,
        reference=ctx.reference.strip(),
        expected=describe_expected(
            expected_at, now, pack, calendar, relative_max_minutes=policy.relative_expected_max_minutes
        ),
        back_at=describe_back_at(calendar.next_open(now), now, pack, calendar),
    )
    text = with_crisis_line(body, ctx.crisis_status_line, pack, policy.limits_for(ctx.channel).max_length)
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
    if ctx.public and not policy.acknowledge_public:
        return AckReason.PUBLIC_CONVERSATION
    if ctx.already_acknowledged:
        return AckReason.ALREADY_ACKNOWLEDGED
    keyword = ctx.consent_keyword
    if keyword is None and ctx.channel in KEYWORD_CHANNELS:
        keyword = consent_keyword(ctx.text)
    if keyword is ConsentKeyword.OPT_OUT:
        return AckReason.OPT_OUT_KEYWORD
    if keyword is not None:
        return AckReason.CONSENT_KEYWORD
    if ctx.consent_state == ConsentState.WITHDRAWN:
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
