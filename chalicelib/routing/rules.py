"""The routing decision: which route and priority a conversation gets, and why (pure).

:func:`decide_route` tries the configuration's rules in order; the first whose every condition
holds wins, otherwise the default applies. The decision carries a human explanation of what matched
(``tier=vip and text matched "avvocat\\w*"``), stored on the conversation and shown by the API.

The worker fills :class:`RoutingFacts` from what it already read. ``recent_conversations`` answers
``repeat_contact``: a mapping or a callable from a number of days to the customer's conversations in
that window (this one included), asked only when a rule gets that far and at most once per window
per decision; a plain number is taken as the count for every window (enough when the configuration
asks one, see :attr:`RoutingConfig.repeat_contact_days`); ``None`` means unknown, and a rule asking
for it does not match.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.core.model import Channel, Priority
from chalicelib.routing.config import Conditions, RoutingConfig, Rule
from chalicelib.routing.patterns import MAX_MATCH_CHARS, fold_text

PRIORITY_RANK: Mapping[Priority, int] = {
    Priority.LOW: 0,
    Priority.NORMAL: 1,
    Priority.HIGH: 2,
    Priority.URGENT: 3,
}

_PATTERNS_SHOWN = 3  # in an explanation of a text that matched none

RecentConversations = int | Mapping[int, int] | Callable[[int], int] | None


@dataclass(frozen=True, slots=True)
class RoutingFacts:
    """What the rules may look at, for one inbound message."""

    channel: Channel | str
    text: str | None = None
    subject: str | None = None  # email only: searched by text_matches too
    public: bool = False  # a public post or comment rather than a private message
    language: str | None = None  # the customer's (or the message's) language tag
    tier: str | None = None
    customer_tags: Collection[str] = ()
    mailbox: str | None = None  # the address an email was sent to
    business_hours: bool | None = None  # None: unknown, and a rule asking does not match
    recent_conversations: RecentConversations = None
    consent: str | None = None  # on this channel: "granted", "withdrawn", or None (never asked)


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    route: str
    priority: Priority
    tags: tuple[str, ...]
    escalate: bool  # escalate at once, the rule's name being the reason
    rule: str | None  # None: no rule matched, the default applies
    reason: str

    def to_routing(self) -> dict[str, Any]:
        """The ``routing`` object of the routed envelope and of ``GET /conversations/{id}``."""
        return {"rule": self.rule, "reason": self.reason}


def priority_rank(priority: Priority | str) -> int:
    return PRIORITY_RANK[Priority(priority)]


def should_reroute(current_priority: Priority | str, decision: RoutingDecision) -> bool:
    """A later message moves a routed conversation only when it matches a rule of higher priority
    than the conversation has (the default never moves one; an equal priority keeps it where it is)."""
    return decision.rule is not None and priority_rank(decision.priority) > priority_rank(current_priority)


def decide_route(config: RoutingConfig, facts: RoutingFacts) -> RoutingDecision:
    """The first rule whose every condition holds, else the default."""
    prepared = PreparedFacts(facts)
    for rule in config.rules:
        matched = match_rule(rule, prepared)
        if matched is not None:
            then = rule.then
            reason = " and ".join(matched) if matched else "no conditions (matches every message)"
            return RoutingDecision(then.route, then.priority, then.tags, then.escalate, rule.name, reason)
    default = config.default
    return RoutingDecision(
        default.route, default.priority, default.tags, default.escalate, None,
        f"no rule matched ({len(config.rules)} tried): the default route",
    )


def match_rule(rule: Rule, facts: PreparedFacts) -> list[str] | None:
    """What made each condition of ``rule`` hold, in evaluation order; ``None`` when one does not."""
    conditions = rule.conditions
    matched = []
    for key in conditions.asked:
        description = _CHECKS[key](conditions, facts)
        if description is None:
            return None
        matched.append(description)
    return matched


def first_failure(rule: Rule, facts: PreparedFacts) -> tuple[list[str], str] | None:
    """For explanations: the conditions that held before the first that failed, and why it failed."""
    conditions = rule.conditions
    held: list[str] = []
    for key in conditions.asked:
        description = _CHECKS[key](conditions, facts)
        if description is None:
            return held, _why_not(key, conditions, facts)
        held.append(description)
    return None


class PreparedFacts:
    """The facts normalized once per decision (lower case, a tag set), and the repeat-contact counts
    asked so far (the worker's callable may cost a query)."""

    __slots__ = ("_counts", "_folded", "_recent", "business_hours", "channel", "consent", "language", "mailbox",
                 "public", "subject", "tags", "text", "tier")

    def __init__(self, facts: RoutingFacts) -> None:
        self.channel = str(facts.channel).strip().lower()
        self.public = facts.public
        self.language = _lower(facts.language, "_", "-")
        self.tier = _lower(facts.tier)
        self.tags = frozenset(tag.strip().lower() for tag in facts.customer_tags if isinstance(tag, str))
        self.consent = _lower(facts.consent) or "unknown"
        self.mailbox = _lower(facts.mailbox)
        self.business_hours = facts.business_hours
        self.text = facts.text or ""
        self.subject = facts.subject or ""
        self._recent = facts.recent_conversations
        self._counts: dict[int, int | None] = {}
        self._folded: dict[str, str] = {}

    def folded(self, text: str) -> str:
        """``text`` (the message or the subject) folded once for the patterns' literal prefilter."""
        folded = self._folded.get(text)
        if folded is None:
            folded = self._folded[text] = fold_text(text)
        return folded

    def recent_conversations(self, days: int) -> int | None:
        if days not in self._counts:
            recent = self._recent
            if recent is None or isinstance(recent, int):
                count = recent
            elif isinstance(recent, Mapping):
                count = recent.get(days)
            else:
                count = recent(days)
            self._counts[days] = count
        return self._counts[days]


def _lower(value: str | None, old: str = "", new: str = "") -> str | None:
    if not value or not value.strip():
        return None
    text = value.strip().lower()
    return text.replace(old, new) if old else text


# ---- the conditions: each returns what held, or None -----------------------------------------------


def _channel(c: Conditions, f: PreparedFacts) -> str | None:
    return f"channel={f.channel}" if c.channel is not None and f.channel in c.channel else None


def _public(c: Conditions, f: PreparedFacts) -> str | None:
    return f"public={_bool(f.public)}" if f.public == c.public else None


def _language(c: Conditions, f: PreparedFacts) -> str | None:
    language = f.language
    if language is None or c.language is None:
        return None
    for wanted in c.language:
        if language == wanted or language.startswith(wanted + "-"):
            return f"language={language}"
    return None


def _tier(c: Conditions, f: PreparedFacts) -> str | None:
    return f"tier={f.tier}" if c.tier is not None and f.tier in c.tier else None


def _tags(c: Conditions, f: PreparedFacts) -> str | None:
    for tag in c.tags or ():
        if tag in f.tags:
            return f"tag={tag}"
    return None


def _consent(c: Conditions, f: PreparedFacts) -> str | None:
    return f"consent={f.consent}" if c.consent is not None and f.consent in c.consent else None


def _mailbox(c: Conditions, f: PreparedFacts) -> str | None:
    mailbox = f.mailbox
    if mailbox is None:
        return None
    for wanted in c.mailbox or ():
        if mailbox == wanted or (wanted.startswith("@") and mailbox.endswith(wanted)):
            return f"mailbox={mailbox}"
    return None


def _business_hours(c: Conditions, f: PreparedFacts) -> str | None:
    if f.business_hours is None or f.business_hours != c.business_hours:
        return None
    return f"business_hours={_bool(f.business_hours)}"


def _text_matches(c: Conditions, f: PreparedFacts) -> str | None:
    patterns = c.text_matches or ()
    for where, text in (("text", f.text), ("subject", f.subject)):
        if not text:
            continue
        folded = f.folded(text)
        for pattern in patterns:
            # TextPattern.search, inlined: this loop is the hot path of a decision
            literal = pattern.literal
            if literal is not None and literal not in folded:
                continue
            if pattern.compiled.search(text, 0, MAX_MATCH_CHARS) is not None:
                return f'{where} matched "{pattern.source}"'
    return None


def _repeat_contact(c: Conditions, f: PreparedFacts) -> str | None:
    wanted = c.repeat_contact
    if wanted is None:
        return None
    count = f.recent_conversations(wanted.days)
    if count is None or count < wanted.conversations:
        return None
    return f"repeat_contact={count} conversations within {wanted.days} days"


_CHECKS: dict[str, Callable[[Conditions, PreparedFacts], str | None]] = {
    "channel": _channel,
    "public": _public,
    "language": _language,
    "tier": _tier,
    "tags": _tags,
    "consent": _consent,
    "mailbox": _mailbox,
    "business_hours": _business_hours,
    "text_matches": _text_matches,
    "repeat_contact": _repeat_contact,
}


def _why_not(key: str, c: Conditions, f: PreparedFacts) -> str:
    """Why condition ``key`` did not hold, in words (explanations only: never on the hot path)."""
    if key == "text_matches":
        patterns = c.text_matches or ()
        shown = ", ".join(f'"{p.source}"' for p in patterns[:_PATTERNS_SHOWN])
        more = f" and {len(patterns) - _PATTERNS_SHOWN} more" if len(patterns) > _PATTERNS_SHOWN else ""
        where = "text" + (" or subject" if f.subject else "")
        return f"{where} matched none of {shown}{more}" if f.text or f.subject else "no text to match"
    if key == "repeat_contact" and c.repeat_contact is not None:
        wanted = c.repeat_contact
        count = f.recent_conversations(wanted.days)
        shown = "unknown" if count is None else str(count)
        return f"repeat_contact: {shown} conversations within {wanted.days} days, not {wanted.conversations} or more"
    if key in ("public", "business_hours"):
        actual: object = getattr(f, key)
        return f"{key} is {'unknown' if actual is None else _bool(bool(actual))}, wanted {_bool(bool(getattr(c, key)))}"
    wanted_values = ", ".join(getattr(c, key) or ())
    if key == "tags":
        return f"tags are {', '.join(sorted(f.tags)) or 'none'}, none of [{wanted_values}]"
    return f"{key} is {getattr(f, key) or 'unknown'}, not one of [{wanted_values}]"


def _bool(value: bool) -> str:
    return "true" if value else "false"
