"""``./hub rules test``: which rule would route a message, why, and why the rules before it did not (pure)."""

from __future__ import annotations

from chalicelib.routing.config import RoutingConfig
from chalicelib.routing.rules import PreparedFacts, RoutingFacts, decide_route, first_failure, match_rule

TEXT_PREVIEW_CHARS = 60


def explain(config: RoutingConfig, facts: RoutingFacts) -> str:
    """A few lines for a person: the facts, each rule tried in order with the first condition that
    failed (and what held before it), the rule that matched and the rules never tried, the decision."""
    prepared = PreparedFacts(facts)
    lines = [
        f"configuration: {config.source} ({len(config.rules)} rules, first match wins)",
        f"message: {describe_facts(facts)}",
    ]
    for number, rule in enumerate(config.rules, start=1):
        failure = first_failure(rule, prepared)
        if failure is None:
            matched = match_rule(rule, prepared) or ["no conditions (matches every message)"]
            lines.append(f"  {number}. {rule.name}: MATCH: {' and '.join(matched)}")
            untried = [r.name for r in config.rules[number:]]
            if untried:
                lines.append(f"  not tried ({len(untried)}): {', '.join(untried)}")
            break
        held, why = failure
        after = f" (held: {' and '.join(held)})" if held else ""
        lines.append(f"  {number}. {rule.name}: no: {why}{after}")
    decision = decide_route(config, facts)
    outcome = f"→ route {decision.route}, priority {decision.priority.value}"
    if decision.tags:
        outcome += f", tags {', '.join(decision.tags)}"
    if decision.escalate:
        outcome += f", escalated at once (reason {decision.rule})"
    lines.append(outcome)
    lines.append(f"  rule: {decision.rule or '(default)'}; reason: {decision.reason}")
    return "\n".join(lines)


def describe_facts(facts: RoutingFacts) -> str:
    parts = [f"channel={facts.channel}"]
    if facts.public:
        parts.append("public=true")
    for name, value in (("language", facts.language), ("tier", facts.tier), ("mailbox", facts.mailbox),
                        ("consent", facts.consent)):
        if value:
            parts.append(f"{name}={value}")
    tags = sorted(facts.customer_tags)
    if tags:
        parts.append(f"tags={','.join(tags)}")
    if facts.business_hours is not None:
        parts.append(f"business_hours={'true' if facts.business_hours else 'false'}")
    if isinstance(facts.recent_conversations, int):
        parts.append(f"recent_conversations={facts.recent_conversations}")
    if facts.subject:
        parts.append(f"subject={_preview(facts.subject)}")
    parts.append(f"text={_preview(facts.text or '')}")
    return " ".join(parts)


def _preview(text: str) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= TEXT_PREVIEW_CHARS else flat[: TEXT_PREVIEW_CHARS - 1] + "…")
