"""routing_decisions_per_second: decide_route over a generated 50-rule configuration, one core.

The configuration looks like a real one grown large: every rule has three word patterns in the
shipped file's style (``\\bword\\w*``, words of varied first letters), every third one also a
channel list, every fifth a tier, every seventh a language. The measured message matches no rule,
so all 50 are tried (the worst case, and the common one for a message the default takes). The floor
is what any text-based router must pay at least: one compiled pattern of the same shape searched
(without a match) in the same text, so the ratio says what share of one pattern search a whole
decision costs (each pattern's leading literal is looked up before its expression runs: see
chalicelib/routing/patterns.py). A second line times a message the first rule claims (the best case).
"""

from __future__ import annotations

import re
from typing import Any

from bench.cpu import ROUNDS, per_call_cpu
from bench.report import Row

NAME = "routing_decisions_per_second"
RULES = 50
PATTERNS_PER_RULE = 3
CHANNELS = ("whatsapp", "sms", "email", "messenger", "telegram")
TEXT = (
    "Buongiorno, scrivo perché da ieri non riesco a entrare nel mio account: mi chiede una password "
    "che non ricordo di avere impostato. Potete aiutarmi? Grazie mille, a presto."
)


SYLLABLES = ("ba", "ce", "di", "fo", "gu", "la", "me", "ni", "po", "ru", "sa", "te", "vi", "zo", "qu", "re")


def rule_words(index: int) -> list[str]:
    """Distinct made-up words, as varied as real ones (different first letters), that never occur in
    TEXT: the measured message falls through every rule."""
    words = []
    for slot in range(PATTERNS_PER_RULE):
        n = index * PATTERNS_PER_RULE + slot
        words.append(SYLLABLES[n % 16] + SYLLABLES[(n // 16 + 3 * slot) % 16] + SYLLABLES[(n * 7 + 5) % 16])
    return words


def generated_config(rules: int = RULES) -> dict[str, Any]:
    generated = []
    for index in range(rules):
        conditions: dict[str, Any] = {"text_matches": [rf"\b{word}\w*" for word in rule_words(index)]}
        if index % 3 == 0:
            conditions["channel"] = list(CHANNELS[: 2 + index % 3])
        if index % 5 == 0:
            conditions["tier"] = ["gold", "standard"]
        if index % 7 == 0:
            conditions["language"] = ["it", "en"]
        generated.append({"name": f"rule-{index:02d}", "if": conditions,
                          "then": {"route": f"route-{index % 10}", "priority": "high"}})
    return {
        "version": 1,
        "routes": {"default": {}, **{f"route-{n}": {} for n in range(10)}},
        "rules": generated,
        "default": {"route": "default", "priority": "normal"},
    }


def run(quick: bool) -> list[Row]:
    from chalicelib.routing import RoutingFacts, decide_route, parse_routing_config

    iterations = 500 if quick else 10_000
    config = parse_routing_config(generated_config(), source="bench")
    falls_through = RoutingFacts(channel="whatsapp", text=TEXT, language="it", tier="standard")
    first_claims = RoutingFacts(channel="whatsapp", text=f"{TEXT} {rule_words(0)[0]}", language="it",
                                tier="standard")
    if decide_route(config, falls_through).rule is not None or decide_route(config, first_claims).rule != "rule-00":
        raise RuntimeError("the generated configuration does not route the bench messages as intended")
    floor_pattern = re.compile(r"\bpoquvi\w*", re.IGNORECASE)
    if floor_pattern.search(TEXT) is not None:
        raise RuntimeError("the floor's pattern must not match")

    worst = per_call_cpu(lambda: decide_route(config, falls_through), iterations)
    best = per_call_cpu(lambda: decide_route(config, first_claims), iterations)
    floor = per_call_cpu(lambda: floor_pattern.search(TEXT), iterations * 10)
    searches = RULES * PATTERNS_PER_RULE
    return [
        Row(
            NAME,
            1 / worst,
            "/s",
            floor=1 / floor,
            goal="↑",
            note=f"{RULES} rules, no match ({searches} patterns); floor = one compiled pattern searched, "
            f"per second; best of {ROUNDS} × {iterations}",
        ),
        Row(
            "  first rule matches",
            1 / best,
            "/s",
            floor=1 / floor,
            goal="↑",
            note="the same configuration, a message the first rule claims",
        ),
    ]
