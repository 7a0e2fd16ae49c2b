from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.model import Priority
from chalicelib.routing import (
    CONFIG_PATH_ENV,
    DEFAULT_CONFIG_PATH,
    RoutingConfigError,
    clear_routing_config_cache,
    load_routing_config,
    parse_routing_config,
    route_queue_name,
)
from chalicelib.routing.config import MAX_ROUTE_NAME_CHARS, MAX_STAGE_CHARS
from chalicelib.sla.ladder import DEFAULT_LADDER, EscalationAction, EscalationLevel

# The example of the issue, verbatim: a public contract that outside tests write.
ISSUE_EXAMPLE: dict[str, Any] = {
    "version": 1,
    "routes": {"default": {}, "billing": {"description": "invoices, payments"}, "vip": {}},
    "rules": [
        {"name": "vip-legal", "if": {"tier": ["vip"], "text_matches": ["avvocat\\w*", "lawyer"]},
         "then": {"route": "vip", "priority": "urgent", "tags": ["legal"], "escalate": True}},
        {"name": "billing", "if": {"text_matches": ["fattur\\w*", "invoice"]}, "then": {"route": "billing"}},
    ],
    "default": {"route": "default", "priority": "normal"},
    "sla": {"calendar": "business",
            "policies": {p: {"first_response_minutes": 240, "next_response_minutes": 480, "resolution_minutes": 2880}
                         for p in ("low", "normal", "high", "urgent")}},
}


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(CONFIG_PATH_ENV, raising=False)
    clear_routing_config_cache()
    yield
    clear_routing_config_cache()


def example(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(ISSUE_EXAMPLE)
    data.update(changes)
    return data


def with_rule(rule: dict[str, Any]) -> dict[str, Any]:
    data = example()
    data["rules"].insert(1, rule)
    return data


def error_of(data: Any) -> str:
    with pytest.raises(RoutingConfigError) as caught:
        parse_routing_config(data, source="routing.json")
    return str(caught.value)


# ---- the issue's example ---------------------------------------------------------------------------


def test_the_issues_example_parses_into_routes_rules_default_and_sla() -> None:
    config = parse_routing_config(ISSUE_EXAMPLE, source="example")
    assert list(config.routes) == ["default", "billing", "vip"]
    assert config.routes["billing"].description == "invoices, payments"
    assert [rule.name for rule in config.rules] == ["vip-legal", "billing"]
    vip = config.rules[0]
    assert vip.conditions.tier == ("vip",)
    assert [p.source for p in vip.conditions.text_matches or ()] == ["avvocat\\w*", "lawyer"]
    assert (vip.then.route, vip.then.priority, vip.then.tags, vip.then.escalate) == ("vip", Priority.URGENT,
                                                                                     ("legal",), True)
    billing = config.rules[1].then
    assert (billing.route, billing.priority, billing.escalate) == ("billing", Priority.NORMAL, False)
    assert config.default.route == "default" and config.default.priority is Priority.NORMAL
    assert config.sla is not None and config.sla.calendar_mode == "business"
    assert config.sla.policies[Priority.NORMAL].first_response_minutes == 240
    assert config.escalation == DEFAULT_LADDER and config.escalation_is_default


def test_without_an_sla_block_the_service_levels_sla_applies() -> None:
    data = example()
    del data["sla"]
    config = parse_routing_config(data)
    own = parse_routing_config(ISSUE_EXAMPLE)
    assert config.sla is None
    assert own.sla is not None
    assert config.sla_policies(own.sla) is own.sla
    assert own.sla_policies(object()) is own.sla  # type: ignore[arg-type]


def test_the_default_ladder_notifies_at_the_breach_itself() -> None:
    first = DEFAULT_LADDER[0]
    assert first.after_minutes == 0 and first.action is EscalationAction.NOTIFY
    assert [level.after_minutes for level in DEFAULT_LADDER] == sorted(level.after_minutes for level in DEFAULT_LADDER)


def test_a_ladder_in_the_file_replaces_the_default() -> None:
    config = parse_routing_config(example(escalation={"levels": [
        {"after_minutes": 0, "action": "notify"},
        {"after_minutes": 30, "action": "reroute", "route": "vip", "priority": "high"},
        {"after_minutes": 30, "action": "notify_supervisors"},
    ]}))
    assert not config.escalation_is_default
    assert config.escalation == (
        EscalationLevel(0, EscalationAction.NOTIFY),
        EscalationLevel(30, EscalationAction.REROUTE, "vip", Priority.HIGH),
        EscalationLevel(30, EscalationAction.NOTIFY_SUPERVISORS),
    )


def test_single_strings_are_lists_of_one_and_values_are_lower_cased() -> None:
    config = parse_routing_config(with_rule({"name": "x", "if": {"channel": "WhatsApp", "tier": " Gold ",
                                                                  "language": "IT"},
                                             "then": {"tags": "Hot"}}))
    rule = config.rules[1]
    assert rule.conditions.channel == ("whatsapp",)
    assert rule.conditions.tier == ("gold",)
    assert rule.conditions.language == ("it",)
    assert rule.then.tags == ("hot",)
    assert rule.conditions.asked == ("channel", "language", "tier")  # the evaluation order, cheap first


def test_a_then_without_route_or_priority_takes_the_defaults() -> None:
    config = parse_routing_config(with_rule({"name": "tag-only", "if": {"public": True}, "then": {"tags": ["x"]}}))
    assert (config.rules[1].then.route, config.rules[1].then.priority) == ("default", Priority.NORMAL)


def test_comment_keys_are_ignored_everywhere() -> None:
    data = example(_comment="top")
    data["routes"]["_note"] = "not a route"
    data["rules"][0]["_why"] = "legal"
    data["rules"][0]["if"]["_note"] = 1
    config = parse_routing_config(data)
    assert "_note" not in config.routes


def test_repeat_contact_windows_are_collected_for_the_worker() -> None:
    config = parse_routing_config(with_rule({"name": "again", "if": {"repeat_contact": {"conversations": 3,
                                                                                         "days": 7}},
                                             "then": {"priority": "high"}}))
    assert config.repeat_contact_days == frozenset({7})


# ---- every error names the rule and the field ------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ({"name": "bad-re", "if": {"text_matches": ["ok", "fattur(\\w*"]}, "then": {}},
         'routing.json: rules[1] "bad-re": if.text_matches[1]: invalid regular expression'),
        ({"name": "nested", "if": {"text_matches": ["(a+)+$"]}, "then": {}},
         'rules[1] "nested": if.text_matches[0]: a repeated group'),
        ({"name": "long", "if": {"text_matches": ["a" * 201]}, "then": {}},
         'rules[1] "long": if.text_matches[0]: longer than 200 characters'),
        ({"name": "typo", "if": {"tierr": ["vip"]}, "then": {}},
         'rules[1] "typo": if: unknown condition(s) tierr'),
        ({"name": "act", "if": {}, "then": {"queue": "x"}},
         'rules[1] "act": then: unknown action(s) queue'),
        ({"name": "nowhere", "if": {"tier": "vip"}, "then": {"route": "legal"}},
         "rules[1] \"nowhere\": then.route: unknown route 'legal' (configured: default, billing, vip)"),
        ({"name": "prio", "if": {"tier": "vip"}, "then": {"priority": "critical"}},
         "rules[1] \"prio\": then.priority: must be one of low, normal, high, urgent, got 'critical'"),
        ({"name": "esc", "if": {"tier": "vip"}, "then": {"escalate": "yes"}},
         'rules[1] "esc": then.escalate: must be true or false'),
        ({"name": "chan", "if": {"channel": ["whatsapp", "pigeon"]}, "then": {}},
         "rules[1] \"chan\": if.channel[1]: unknown channel 'pigeon'"),
        ({"name": "pub", "if": {"public": "true"}, "then": {}},
         'rules[1] "pub": if.public: must be true or false'),
        ({"name": "hours", "if": {"business_hours": 1}, "then": {}},
         'rules[1] "hours": if.business_hours: must be true or false'),
        ({"name": "cons", "if": {"consent": "maybe"}, "then": {}},
         'rules[1] "cons": if.consent[0]: must be one of granted, withdrawn, unknown'),
        ({"name": "lang", "if": {"language": ["it", "italian!"]}, "then": {}},
         'rules[1] "lang": if.language[1]: not a language tag'),
        ({"name": "mail", "if": {"mailbox": "billing"}, "then": {}},
         'rules[1] "mail": if.mailbox[0]: an address'),
        ({"name": "rep", "if": {"repeat_contact": {"conversations": 0, "days": 7}}, "then": {}},
         'rules[1] "rep": if.repeat_contact.conversations: required, an integer 1-1000, got 0'),
        ({"name": "rep2", "if": {"repeat_contact": {"conversations": 3}}, "then": {}},
         'rules[1] "rep2": if.repeat_contact.days: required'),
        ({"name": "rep3", "if": {"repeat_contact": {"conversations": 3, "days": 7, "hours": 1}}, "then": {}},
         'rules[1] "rep3": if.repeat_contact: unknown key(s) hours'),
        ({"name": "empty", "if": {"tier": []}, "then": {}},
         'rules[1] "empty": if.tier: must be a string or a list of 1-100 strings'),
        ({"name": "blank", "if": {"tags": ["vip", " "]}, "then": {}},
         'rules[1] "blank": if.tags[1]: must be a non-empty string'),
        ({"name": "noif", "then": {}}, 'rules[1] "noif": if: required'),
        ({"name": "nothen", "if": {}}, 'rules[1] "nothen": then: required'),
        ({"name": "extra", "if": {}, "then": {}, "when": 1}, 'rules[1] "extra": unknown key(s) when'),
        ({"name": "has space", "if": {}, "then": {}}, "rules[1].name: required, 1-64 letters"),
        ({"if": {}, "then": {}}, "rules[1].name: required"),
        ({"name": "repeat_contact", "if": {}, "then": {}},
         'rules[1] "repeat_contact": name: \'repeat_contact\' is reserved'),
        ({"name": "billing", "if": {}, "then": {}}, 'rules[2] "billing": name: the same name as rules[1]'),
    ],
)
def test_configuration_errors_name_the_rule_and_the_field(rule: dict[str, Any], expected: str) -> None:
    data = with_rule(rule)
    if rule.get("name") == "billing":  # the duplicate goes after the original
        data["rules"].pop(1)
        data["rules"].append(rule)
    assert expected in error_of(data)


def test_a_rule_after_a_catch_all_is_unreachable() -> None:
    data = example()
    data["rules"].insert(0, {"name": "everything", "if": {}, "then": {"route": "vip"}})
    assert 'rules[1] "vip-legal": unreachable: rule "everything" before it has an empty "if"' in error_of(data)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"version": 2}, "routing.json: version: unsupported version 2; this code reads version 1"),
        ({"version": None}, "version: required"),
        ({"version": True}, "version: unsupported version True"),
        ({"rout": {}}, "(top level): unknown key(s) rout"),
        ({"routes": {}}, "routes: required"),
        ({"routes": {"default": {}, "bill ing": {}}}, "routes.bill ing: a route name is 1-40 letters"),
        ({"routes": {"default": {}, "x" * 41: {}}}, "a route name is 1-40 letters"),
        ({"routes": {"default": {}, "billing": {"desc": "x"}, "vip": {}}}, "routes.billing: unknown key(s) desc"),
        ({"routes": {"default": {}, "billing": [], "vip": {}}}, "routes.billing: must be an object"),
        ({"rules": {}}, "rules: required, a list"),
        ({"rules": ["billing"]}, "rules[0]: must be an object"),
        ({"default": {"route": "default"}}, "default.priority: required"),
        ({"default": {"route": "support", "priority": "normal"}}, "default.route: unknown route 'support'"),
        ({"default": {"route": "default", "priority": "asap"}}, "default.priority: must be one of"),
        ({"default": {"route": "default", "priority": "low", "tags": []}}, "default: unknown key(s) tags"),
        ({"sla": {"calendar": "weekdays", "policies": {}}}, "routing.json: sla.calendar: must be 'business'"),
        ({"escalation": []}, 'escalation: must be an object {"levels": [...]}'),
        ({"escalation": {"levels": []}}, "escalation.levels: required, a list of 1-10 levels"),
        ({"escalation": {"levels": [{"after_minutes": -1, "action": "notify"}]}},
         "escalation.levels[0].after_minutes: required, an integer 0-100000"),
        ({"escalation": {"levels": [{"after_minutes": 60, "action": "notify"},
                                    {"after_minutes": 30, "action": "notify_supervisors"}]}},
         "escalation.levels[1].after_minutes: must not be less than the level before (60)"),
        ({"escalation": {"levels": [{"after_minutes": 0, "action": "page"}]}},
         "escalation.levels[0].action: must be one of notify, reroute, notify_supervisors, got 'page'"),
        ({"escalation": {"levels": [{"after_minutes": 0, "action": "reroute"}]}},
         "escalation.levels[0]: reroute needs a route, a priority or both"),
        ({"escalation": {"levels": [{"after_minutes": 0, "action": "reroute", "route": "legal"}]}},
         "escalation.levels[0].route: unknown route 'legal'"),
        ({"escalation": {"levels": [{"after_minutes": 0, "action": "notify", "priority": "high"}]}},
         "escalation.levels[0]: route and priority belong to reroute only, not to notify"),
        ({"escalation": {"levels": [{"after_minutes": 0, "action": "notify", "when": 1}]}},
         "escalation.levels[0]: unknown key(s) when"),
    ],
)
def test_top_level_errors_name_the_field(change: dict[str, Any], expected: str) -> None:
    assert expected in error_of(example(**change))


def test_an_sla_error_keeps_the_full_field_path() -> None:
    data = example()
    data["sla"]["policies"]["urgent"]["first_response_minutes"] = 0
    message = error_of(data)
    assert message.startswith("routing.json: sla.policies.urgent.first_response_minutes: ")


def test_the_error_carries_source_path_and_detail() -> None:
    with pytest.raises(RoutingConfigError) as caught:
        parse_routing_config(with_rule({"name": "x", "if": {}, "then": {"priority": "p0"}}), source="f.json")
    assert caught.value.source == "f.json"
    assert caught.value.path == 'rules[1] "x": then.priority'
    assert isinstance(caught.value, ValueError)


# ---- queue names -----------------------------------------------------------------------------------


def test_route_names_make_valid_sqs_fifo_queue_names_with_their_dlq() -> None:
    longest = "r" * MAX_ROUTE_NAME_CHARS
    stage = "s" * MAX_STAGE_CHARS
    name = route_queue_name(stage, longest)
    assert name == f"omnihub-{stage}-route-{longest}.fifo"
    assert len(name.replace(".fifo", "-dlq.fifo")) == 80
    config = parse_routing_config(example(routes={"default": {}, "billing": {}, "vip": {}, longest: {}}))
    assert config.route_queue_name("dev", "billing") == "omnihub-dev-route-billing.fifo"
    assert config.route_queue_name("local", "default") == "omnihub-local-route-default.fifo"  # keeps its name
    with pytest.raises(ValueError, match="does not make a valid SQS queue name"):
        route_queue_name(stage + "x", longest)
    with pytest.raises(KeyError):
        config.route_queue_name("dev", "unknown")


# ---- loading ---------------------------------------------------------------------------------------


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_the_shipped_configuration_loads_with_the_seed_departments() -> None:
    config = load_routing_config()
    assert config.source == str(DEFAULT_CONFIG_PATH)
    assert set(config.routes) == {"default", "billing", "sales", "product", "logistics", "vip", "crisis"}
    assert config.sla is None  # the service levels' SLA applies
    assert config.escalation_is_default
    assert len({rule.name for rule in config.rules}) == len(config.rules)


def test_the_shipped_files_together_give_the_service_levels_sla() -> None:
    from chalicelib.sla import load_service_levels

    service_levels = load_service_levels()
    assert load_routing_config().sla_policies(service_levels.sla) is service_levels.sla


def test_precedence_is_explicit_then_environment_then_shipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from_env = write(tmp_path / "env.json", example(routes={"default": {}, "billing": {}, "vip": {}, "env": {}}))
    explicit = write(tmp_path / "explicit.json", example(routes={"default": {}, "billing": {}, "vip": {}, "own": {}}))
    assert "env" not in load_routing_config().routes
    monkeypatch.setenv(CONFIG_PATH_ENV, str(from_env))
    assert "env" in load_routing_config().routes
    assert "own" in load_routing_config(explicit).routes
    monkeypatch.setenv(CONFIG_PATH_ENV, "")
    assert load_routing_config().source == str(DEFAULT_CONFIG_PATH)


def test_a_file_is_read_once_until_the_cache_is_cleared(tmp_path: Path) -> None:
    path = write(tmp_path / "routing.json", ISSUE_EXAMPLE)
    first = load_routing_config(path)
    write(path, example(routes={"default": {}, "billing": {}, "vip": {}, "new": {}}))
    assert load_routing_config(path) is first
    clear_routing_config_cache()
    assert "new" in load_routing_config(path).routes


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"{not json", "(file): not valid JSON (line 1, column 2"),
        (b'{"version": 1, "version": 1}', "(file): the key 'version' appears twice in one object"),
        (b"\xff\xfe", "(file): not UTF-8"),
        (b"[]", "(top level): must be a JSON object"),
    ],
)
def test_unreadable_files_are_refused_with_the_file_named(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "routing.json"
    path.write_bytes(content)
    with pytest.raises(RoutingConfigError) as caught:
        load_routing_config(path)
    assert str(caught.value).startswith(str(path))
    assert expected in str(caught.value)


def test_two_routes_of_one_name_are_refused_not_merged(tmp_path: Path) -> None:
    path = tmp_path / "routing.json"
    path.write_text('{"version": 1, "routes": {"vip": {}, "vip": {"description": "again"}}, "rules": [], '
                    '"default": {"route": "vip", "priority": "normal"}}')
    with pytest.raises(RoutingConfigError, match="the key 'vip' appears twice"):
        load_routing_config(path)


def test_a_missing_file_and_an_invalid_one_fail_every_time(tmp_path: Path) -> None:
    with pytest.raises(RoutingConfigError, match="cannot read the routing configuration"):
        load_routing_config(tmp_path / "absent.json")
    bad = write(tmp_path / "bad.json", example(version=3))
    for _ in range(2):
        with pytest.raises(RoutingConfigError, match="unsupported version 3"):
            load_routing_config(bad)

