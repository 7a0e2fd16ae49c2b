from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.core.model import Priority
from chalicelib.routing import (
    MAX_MATCH_CHARS,
    RoutingConfig,
    RoutingDecision,
    RoutingFacts,
    decide_route,
    explain,
    load_routing_config,
    parse_routing_config,
    should_reroute,
)

ROUTES: dict[str, dict[str, str]] = {"default": {}, "billing": {}, "vip": {}, "sales": {}, "x": {}}


def config_of(*rules: dict[str, Any]) -> RoutingConfig:
    return parse_routing_config({
        "version": 1,
        "routes": ROUTES,
        "rules": list(rules),
        "default": {"route": "default", "priority": "normal"},
    }, source="test")


def one_rule(conditions: dict[str, Any]) -> RoutingConfig:
    return config_of({"name": "the-rule", "if": conditions, "then": {"route": "x", "priority": "high"}})


def matches(conditions: dict[str, Any], facts: RoutingFacts) -> bool:
    return decide_route(one_rule(conditions), facts).rule == "the-rule"


def facts(**values: Any) -> RoutingFacts:
    values.setdefault("channel", "whatsapp")
    return RoutingFacts(**values)


# ---- each condition alone --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("conditions", "holds", "fails"),
    [
        ({"channel": "whatsapp"}, facts(channel="whatsapp"), facts(channel="sms")),
        ({"channel": ["sms", "email"]}, facts(channel="email"), facts(channel="whatsapp")),
        ({"public": True}, facts(public=True), facts(public=False)),
        ({"public": False}, facts(), facts(public=True)),
        ({"language": "it"}, facts(language="it"), facts(language="en")),
        ({"language": "it"}, facts(language="it-CH"), facts(language="its")),
        ({"language": "pt-br"}, facts(language="pt_BR"), facts(language="pt")),
        ({"language": ["es", "fr"]}, facts(language="FR"), facts(language=None)),
        ({"tier": "vip"}, facts(tier="VIP"), facts(tier="gold")),
        ({"tier": ["gold", "vip"]}, facts(tier="gold"), facts(tier=None)),
        ({"tags": "crisis"}, facts(customer_tags=["Crisis", "b2b"]), facts(customer_tags=["b2b"])),
        ({"tags": ["a", "b"]}, facts(customer_tags=("b",)), facts(customer_tags=())),
        ({"text_matches": "fattur\\w*"}, facts(text="La FATTURAZIONE è sbagliata"), facts(text="il pacco")),
        ({"text_matches": ["invoice", "rechnung"]}, facts(text="Meine Rechnung"), facts(text=None)),
        ({"text_matches": "invoice"}, facts(channel="email", text="hello", subject="Invoice 12"),
         facts(channel="email", text="hello", subject="Order 12")),
        ({"text_matches": "perch\\w+"}, facts(text="PERCHÉ?"), facts(text="per che")),
        ({"mailbox": "billing@example.com"}, facts(channel="email", mailbox="Billing@Example.com"),
         facts(channel="email", mailbox="info@example.com")),
        ({"mailbox": "@example.com"}, facts(channel="email", mailbox="anyone@example.com"),
         facts(channel="email", mailbox="anyone@example.com.evil")),
        ({"business_hours": True}, facts(business_hours=True), facts(business_hours=False)),
        ({"business_hours": False}, facts(business_hours=False), facts(business_hours=None)),
        ({"consent": "withdrawn"}, facts(consent="withdrawn"), facts(consent="granted")),
        ({"consent": "unknown"}, facts(consent=None), facts(consent="granted")),
        ({"repeat_contact": {"conversations": 3, "days": 7}}, facts(recent_conversations=3),
         facts(recent_conversations=2)),
        ({"repeat_contact": {"conversations": 3, "days": 7}}, facts(recent_conversations={7: 4, 1: 1}),
         facts(recent_conversations={1: 9})),
        ({"repeat_contact": {"conversations": 2, "days": 1}}, facts(recent_conversations=lambda days: days * 2),
         facts(recent_conversations=None)),
    ],
)
def test_each_condition_alone_holds_and_fails(conditions: dict[str, Any], holds: RoutingFacts,
                                              fails: RoutingFacts) -> None:
    assert matches(conditions, holds)
    assert not matches(conditions, fails)


def test_an_empty_if_matches_every_message() -> None:
    decision = decide_route(one_rule({}), facts(text=None))
    assert decision.rule == "the-rule"
    assert decision.reason == "no conditions (matches every message)"


def test_every_condition_must_hold() -> None:
    conditions = {"channel": "whatsapp", "tier": "vip", "text_matches": "avvocat\\w*", "business_hours": False}
    everything = facts(tier="vip", text="il mio avvocato", business_hours=False)
    assert matches(conditions, everything)
    for spoiled in (
        facts(channel="sms", tier="vip", text="il mio avvocato", business_hours=False),
        facts(tier="gold", text="il mio avvocato", business_hours=False),
        facts(tier="vip", text="il mio commercialista", business_hours=False),
        facts(tier="vip", text="il mio avvocato", business_hours=True),
    ):
        assert not matches(conditions, spoiled)


def test_text_is_searched_only_up_to_the_cap() -> None:
    assert matches({"text_matches": "needle"}, facts(text="x" * (MAX_MATCH_CHARS - 6) + "needle"))
    assert not matches({"text_matches": "needle"}, facts(text="x" * MAX_MATCH_CHARS + "needle"))


def test_repeat_contact_asks_the_worker_once_per_window_and_only_when_reached() -> None:
    asked: list[int] = []

    def count(days: int) -> int:
        asked.append(days)
        return 5

    config = config_of(
        {"name": "a", "if": {"tier": "vip", "repeat_contact": {"conversations": 3, "days": 7}}, "then": {}},
        {"name": "b", "if": {"repeat_contact": {"conversations": 9, "days": 7}}, "then": {}},
        {"name": "c", "if": {"repeat_contact": {"conversations": 2, "days": 1}}, "then": {"route": "x"}},
    )
    decision = decide_route(config, facts(tier="gold", recent_conversations=count))
    assert decision.rule == "c"
    assert asked == [7, 1]  # rule a failed on tier before asking; b and c each asked their window once
    assert decision.reason == "repeat_contact=5 conversations within 1 days"


# ---- the decision ----------------------------------------------------------------------------------


def test_first_match_wins() -> None:
    config = config_of(
        {"name": "first", "if": {"text_matches": "refund"}, "then": {"route": "billing"}},
        {"name": "second", "if": {"text_matches": "refund", "tier": "vip"},
         "then": {"route": "vip", "priority": "urgent"}},
    )
    decision = decide_route(config, facts(text="refund please", tier="vip"))
    assert (decision.rule, decision.route, decision.priority) == ("first", "billing", Priority.NORMAL)


def test_the_decision_carries_the_rules_action_and_a_reason_in_evaluation_order() -> None:
    config = config_of({"name": "vip-legal", "if": {"text_matches": ["lawyer", "avvocat\\w*"], "tier": "vip"},
                        "then": {"route": "vip", "priority": "urgent", "tags": ["legal"], "escalate": True}})
    decision = decide_route(config, facts(tier="vip", text="Chiamo il mio AVVOCATO"))
    assert decision == RoutingDecision("vip", Priority.URGENT, ("legal",), True, "vip-legal",
                                       'tier=vip and text matched "avvocat\\w*"')
    assert decision.to_routing() == {"rule": "vip-legal", "reason": 'tier=vip and text matched "avvocat\\w*"'}


def test_the_text_is_preferred_to_the_subject_in_the_reason() -> None:
    decision = decide_route(one_rule({"text_matches": ["order", "refund"]}),
                            facts(channel="email", subject="Order 12", text="I want a refund"))
    assert decision.reason == 'text matched "refund"'


def test_no_rule_matching_gives_the_default() -> None:
    decision = decide_route(config_of({"name": "r", "if": {"tier": "vip"}, "then": {"route": "vip"}}), facts())
    assert (decision.route, decision.priority, decision.rule, decision.escalate) == (
        "default", Priority.NORMAL, None, False)
    assert decision.reason == "no rule matched (1 tried): the default route"


@pytest.mark.parametrize(
    ("current", "rule_priority", "expected"),
    [
        ("normal", "urgent", True),
        ("low", "normal", True),
        ("high", "urgent", True),
        ("high", "high", False),
        ("urgent", "high", False),
        ("normal", "low", False),
    ],
)
def test_a_later_message_reroutes_only_on_a_higher_priority(current: str, rule_priority: str,
                                                            expected: bool) -> None:
    config = config_of({"name": "r", "if": {"text_matches": "help"}, "then": {"route": "x",
                                                                              "priority": rule_priority}})
    assert should_reroute(Priority(current), decide_route(config, facts(text="help"))) is expected


def test_the_default_never_reroutes() -> None:
    config = parse_routing_config({"version": 1, "routes": {"default": {}}, "rules": [],
                                   "default": {"route": "default", "priority": "urgent"}})
    assert not should_reroute("low", decide_route(config, facts()))


# ---- the shipped configuration routes the seed departments -----------------------------------------


@pytest.mark.parametrize(
    ("message", "route", "priority", "rule"),
    [
        (facts(tier="vip", text="Se non risolvete parlerò con il mio avvocato"), "vip", "urgent", "vip-legal"),
        (facts(tier="vip", text="My lawyer will contact you"), "vip", "urgent", "vip-legal"),
        (facts(tier="vip", text="Mein Anwalt wird sich melden"), "vip", "urgent", "vip-legal"),
        (facts(tier="standard", text="Mi rivolgerò a un avvocato"), "default", "high", "legal"),
        (facts(tier="vip", text="Ciao, una domanda sul mio ordine"), "vip", "high", "vip"),
        (facts(text="C'è un disservizio? L'app non si apre"), "crisis", "high", "outage"),
        (facts(text="Is the service down?"), "crisis", "high", "outage"),
        (facts(text="La fattura di ottobre è sbagliata"), "billing", "normal", "billing"),
        (facts(text="I was charged twice, I want a refund"), "billing", "normal", "billing"),
        (facts(text="Necesito la factura de mi pedido"), "billing", "normal", "billing"),
        (facts(text="Je n'ai pas reçu ma facture"), "billing", "normal", "billing"),
        (facts(text="Wo ist meine Rechnung?"), "billing", "normal", "billing"),
        (facts(channel="email", mailbox="billing@example.com", subject="Hello", text="see attached"),
         "billing", "normal", "billing-mailbox"),
        (facts(text="Il pacco non è ancora arrivato, il corriere dice..."), "logistics", "normal", "logistics"),
        (facts(text="Where is my parcel? The tracking has not moved"), "logistics", "normal", "logistics"),
        (facts(text="¿Cuándo llega mi envío?"), "logistics", "normal", "logistics"),
        (facts(text="Ma livraison est en retard"), "logistics", "normal", "logistics"),
        (facts(text="Meine Lieferung ist nicht angekommen"), "logistics", "normal", "logistics"),
        (facts(text="Vorrei un preventivo per 20 licenze"), "sales", "normal", "sales"),
        (facts(text="What is the price of the pro plan?"), "sales", "normal", "sales"),
        (facts(text="Quisiera un presupuesto"), "sales", "normal", "sales"),
        (facts(text="Je voudrais un devis"), "sales", "normal", "sales"),
        (facts(text="Können Sie mir ein Angebot schicken?"), "sales", "normal", "sales"),
        (facts(text="L'app non funziona dopo l'aggiornamento"), "product", "normal", "product"),
        (facts(text="The app crashes when I log in"), "product", "normal", "product"),
        (facts(text="La aplicación no funciona"), "product", "normal", "product"),
        (facts(text="L'application ne fonctionne pas"), "product", "normal", "product"),
        (facts(text="Die App funktioniert nicht"), "product", "normal", "product"),
        (facts(text="Ciao, sono ancora io", recent_conversations={7: 3}), "default", "high", "repeat-contact"),
        (facts(channel="instagram", public=True, text="Vergogna!"), "default", "high", "public-post"),
        (facts(text="Buongiorno"), "default", "normal", None),
    ],
)
def test_the_shipped_configuration_routes_the_seed_examples(message: RoutingFacts, route: str, priority: str,
                                                            rule: str | None) -> None:
    decision = decide_route(load_routing_config(), message)
    assert (decision.route, decision.priority.value, decision.rule) == (route, priority, rule), decision.reason


def test_a_vip_writing_avvocato_is_routed_urgent_and_escalated_at_once() -> None:
    decision = decide_route(load_routing_config(), facts(tier="vip", language="it", text="Chiamerò l'avvocato"))
    assert (decision.route, decision.priority, decision.escalate, decision.tags) == (
        "vip", Priority.URGENT, True, ("legal",))
    assert decision.reason == 'tier=vip and text matched "avvocat\\w*"'


# ---- explain ---------------------------------------------------------------------------------------


def test_explain_shows_the_rules_tried_the_first_failure_the_match_and_the_rules_not_tried() -> None:
    config = config_of(
        {"name": "vip-only", "if": {"tier": "vip"}, "then": {"route": "vip"}},
        {"name": "sms-refund", "if": {"channel": "sms", "text_matches": ["refund", "rimbors\\w*"]}, "then": {}},
        {"name": "wa-refund", "if": {"channel": "whatsapp", "text_matches": ["refund", "rimbors\\w*"]},
         "then": {"route": "billing", "tags": ["money"]}},
        {"name": "later", "if": {}, "then": {}},
    )
    text = explain(config, facts(tier="gold", language="it", text="Vorrei un rimborso"))
    lines = text.splitlines()
    assert lines[0] == "configuration: test (4 rules, first match wins)"
    assert lines[1] == "message: channel=whatsapp language=it tier=gold text='Vorrei un rimborso'"
    assert lines[2] == "  1. vip-only: no: tier is gold, not one of [vip]"
    assert lines[3] == "  2. sms-refund: no: channel is whatsapp, not one of [sms]"
    assert lines[4] == '  3. wa-refund: MATCH: channel=whatsapp and text matched "rimbors\\w*"'
    assert lines[5] == "  not tried (1): later"
    assert lines[6] == "→ route billing, priority normal, tags money"
    assert lines[7] == '  rule: wa-refund; reason: channel=whatsapp and text matched "rimbors\\w*"'


def test_explain_says_what_held_before_the_condition_that_failed_and_when_the_default_applies() -> None:
    config = config_of({"name": "vip-legal", "if": {"tier": "vip", "text_matches": ["a1", "a2", "a3", "a4"]},
                        "then": {}})
    text = explain(config, facts(tier="vip", text="hello"))
    assert ('  1. vip-legal: no: text matched none of "a1", "a2", "a3" and 1 more (held: tier=vip)'
            in text.splitlines())
    assert text.splitlines()[-2:] == ["→ route default, priority normal",
                                      "  rule: (default); reason: no rule matched (1 tried): the default route"]


def test_explain_of_the_shipped_vip_example_says_escalated() -> None:
    text = explain(load_routing_config(), facts(tier="vip", text="avvocato"))
    assert "1. vip-legal: MATCH: tier=vip and text matched" in text
    assert "→ route vip, priority urgent, tags legal, escalated at once (reason vip-legal)" in text


# ---- first match wins, against an independent reference -------------------------------------------

WORDS = ("refund", "parcel", "price", "lawyer")
TIERS = ("vip", "gold", "standard")
CHANNELS = ("whatsapp", "sms", "email")

condition_sets = st.fixed_dictionaries({}, optional={
    "channel": st.lists(st.sampled_from(CHANNELS), min_size=1, max_size=2),
    "tier": st.lists(st.sampled_from(TIERS), min_size=1, max_size=2),
    "tags": st.lists(st.sampled_from(("b2b", "crisis")), min_size=1, max_size=2),
    "text_matches": st.lists(st.sampled_from(WORDS), min_size=1, max_size=2),
    "business_hours": st.booleans(),
})


def reference_holds(conditions: dict[str, Any], channel: str, tier: str, tags: set[str], text: str,
                    open_now: bool) -> bool:
    """What the issue says, written independently: every condition holds, a list when any element does."""
    return (
        ("channel" not in conditions or channel in conditions["channel"])
        and ("tier" not in conditions or tier in conditions["tier"])
        and ("tags" not in conditions or bool(tags & set(conditions["tags"])))
        and ("text_matches" not in conditions or any(w in text.lower() for w in conditions["text_matches"]))
        and ("business_hours" not in conditions or conditions["business_hours"] == open_now)
    )


@settings(max_examples=200, deadline=None)
@given(
    rule_conditions=st.lists(condition_sets.filter(bool), min_size=1, max_size=6),
    channel=st.sampled_from(CHANNELS),
    tier=st.sampled_from(TIERS),
    tags=st.sets(st.sampled_from(("b2b", "crisis"))),
    words=st.lists(st.sampled_from((*WORDS, "hello")), max_size=3),
    open_now=st.booleans(),
    upper=st.booleans(),
)
def test_the_decision_is_the_first_rule_whose_every_condition_holds(
    rule_conditions: list[dict[str, Any]], channel: str, tier: str, tags: set[str], words: list[str],
    open_now: bool, upper: bool,
) -> None:
    rules = [{"name": f"r{i}", "if": c, "then": {"route": "x", "priority": "high"}}
             for i, c in enumerate(rule_conditions)]
    text = " ".join(words)
    decision = decide_route(config_of(*rules), RoutingFacts(
        channel=channel, tier=tier.upper() if upper else tier, customer_tags=tags,
        text=text.upper() if upper else text, business_hours=open_now))
    expected = next((f"r{i}" for i, c in enumerate(rule_conditions)
                     if reference_holds(c, channel, tier, tags, text, open_now)), None)
    assert decision.rule == expected
    assert decision.route == ("x" if expected else "default")
