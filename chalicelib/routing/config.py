"""The versioned routing configuration: routes, ordered rules, the default, SLA and the escalation ladder.

The format is a public contract (tests outside the repository write such files)::

    {"version": 1,
     "routes": {"default": {}, "billing": {"description": "invoices, payments"}, "vip": {}},
     "rules": [{"name": "vip-legal",
                "if": {"tier": ["vip"], "text_matches": ["avvocat\\\\w*", "lawyer"]},
                "then": {"route": "vip", "priority": "urgent", "tags": ["legal"], "escalate": true}}],
     "default": {"route": "default", "priority": "normal"},
     "sla": {"calendar": "business", "policies": {...}},            (optional: else the service levels')
     "escalation": {"levels": [{"after_minutes": 0, "action": "notify"}, ...]}}   (optional)

Conditions (``if``; every one must hold; a list holds when any element does; a single string is a
list of one): ``channel``, ``public`` (true/false), ``language`` (``"it"`` also holds for ``it-CH``),
``tier``, ``tags`` (any of the customer's tags), ``text_matches`` (regular expressions, see
:mod:`chalicelib.routing.patterns`), ``mailbox`` (an address, or ``"@example.com"`` for a domain),
``business_hours`` (true/false), ``repeat_contact`` (``{"conversations": n, "days": d}``: at least n
conversations of this customer, this one included, within d days), ``consent`` (``granted``,
``withdrawn``, ``unknown``). Values compare case-insensitively.

Actions (``then``): ``route`` (a configured route; default: the default's), ``priority`` (``low``,
``normal``, ``high``, ``urgent``; default: the default's), ``tags``, ``escalate`` (true: escalate at
once, the rule's name being the reason).

Escalation ladder: ordered levels, each ``{"after_minutes": n, "action": "notify" | "reroute" |
"notify_supervisors", "route"?, "priority"?}``; ``after_minutes`` counts from the SLA breach in the
SLA's calendar and never decreases from one level to the next; ``route``/``priority`` belong to
``reroute`` only (at least one of them; the route defaults to the conversation's own). Without a
ladder, :data:`chalicelib.sla.ladder.DEFAULT_LADDER` applies (level 1 notifies at once).

Each route is the SQS FIFO queue ``omnihub-{stage}-route-{route}.fifo`` (and its ``-dlq.fifo``), so
route names are letters, digits, ``-`` and ``_``, short enough for SQS's 80 characters with a stage
of up to :data:`MAX_STAGE_CHARS`. Keys starting with ``_`` are comments, anywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from chalicelib.core.config_file import ConfigFile
from chalicelib.core.errors import ConfigError
from chalicelib.core.model import Priority
from chalicelib.routing.patterns import TextPattern, UnsafePatternError, compile_pattern
from chalicelib.routing.validation import (
    Fail,
    RoutingConfigError,
    condition_values,
    known_route,
    parse_escalation,
    reject_unknown,
    string_list,
    valid_priority,
    visible,
)
from chalicelib.sla.ladder import DEFAULT_LADDER, EscalationLevel
from chalicelib.sla.policy import SlaConfigError, SlaPolicies, parse_sla

SUPPORTED_VERSION = 1
CONFIG_PATH_ENV = "OMNIHUB_ROUTING_CONFIG"
DEFAULT_CONFIG_PATH = Path(__file__).resolve().parents[1] / "config" / "routing.v1.json"

SQS_MAX_QUEUE_NAME = 80
MAX_STAGE_CHARS = 16  # a longer stage name would leave route names too little room
# omnihub-{stage}-route-{route}-dlq.fifo, the longer of the two queues, must fit in 80 characters
MAX_ROUTE_NAME_CHARS = SQS_MAX_QUEUE_NAME - len("omnihub-") - MAX_STAGE_CHARS - len("-route-") - len("-dlq.fifo")
MAX_CONFIG_BYTES = 1_000_000
MAX_RULES = 500

CONDITION_KEYS = (
    "channel", "public", "language", "tier", "tags", "text_matches", "mailbox", "business_hours",
    "repeat_contact", "consent",
)
# The order rules test their conditions in: cheap comparisons first, then the regular expressions, then
# repeat_contact (which may cost the worker a query). Explanations name the first that fails in it.
EVALUATION_ORDER = (
    "channel", "public", "language", "tier", "tags", "consent", "mailbox", "business_hours",
    "text_matches", "repeat_contact",
)
ACTION_KEYS = ("route", "priority", "tags", "escalate")
RESERVED_RULE_NAMES = frozenset({"repeat_contact"})  # an escalation reason of its own

_ROUTE_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_RULE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_TOP_LEVEL_KEYS = ("version", "routes", "rules", "default", "sla", "escalation")


@dataclass(frozen=True, slots=True)
class Route:
    name: str
    description: str | None = None


@dataclass(frozen=True, slots=True)
class RepeatContact:
    conversations: int
    days: int


@dataclass(frozen=True, slots=True)
class Conditions:
    """A rule's ``if``: ``None`` is "not asked"; strings are lower-cased once, here."""

    channel: tuple[str, ...] | None = None
    public: bool | None = None
    language: tuple[str, ...] | None = None
    tier: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    text_matches: tuple[TextPattern, ...] | None = None
    mailbox: tuple[str, ...] | None = None
    business_hours: bool | None = None
    repeat_contact: RepeatContact | None = None
    consent: tuple[str, ...] | None = None
    asked: tuple[str, ...] = ()  # the conditions given, in EVALUATION_ORDER

    @property
    def is_empty(self) -> bool:
        return not self.asked


@dataclass(frozen=True, slots=True)
class Action:
    """Where a matching conversation goes (a rule's ``then``, or the default)."""

    route: str
    priority: Priority
    tags: tuple[str, ...] = ()
    escalate: bool = False


@dataclass(frozen=True, slots=True)
class Rule:
    position: int  # 0-based index in ``rules``, as error messages name it
    name: str
    conditions: Conditions
    then: Action


@dataclass(frozen=True, slots=True, eq=False)
class RoutingConfig:
    version: int
    routes: Mapping[str, Route]
    rules: tuple[Rule, ...]
    default: Action
    sla: SlaPolicies | None  # None: the service levels' SLA applies
    escalation: tuple[EscalationLevel, ...]
    source: str
    escalation_is_default: bool = False
    repeat_contact_days: frozenset[int] = field(default_factory=frozenset)  # windows the rules ask about

    def sla_policies(self, service_levels_sla: SlaPolicies) -> SlaPolicies:
        """This file's SLA, else the service levels' (pass ``load_service_levels().sla``)."""
        return self.sla if self.sla is not None else service_levels_sla

    def route_queue_name(self, stage: str, route: str) -> str:
        if route not in self.routes:
            raise KeyError(f"unknown route {route!r}")
        return route_queue_name(stage, route)


def route_queue_name(stage: str, route: str) -> str:
    """``omnihub-{stage}-route-{route}.fifo``; ValueError when its DLQ's name would not fit SQS's 80 characters."""
    name = f"omnihub-{stage}-route-{route}.fifo"
    if len(name) + len("-dlq") > SQS_MAX_QUEUE_NAME or not _ROUTE_NAME.match(route):
        raise ValueError(f"route {route!r} in stage {stage!r} does not make a valid SQS queue name: {name}")
    return name


# ---- parsing -------------------------------------------------------------------------------------


def parse_routing_config(data: Any, source: str = "<routing>") -> RoutingConfig:
    """Validate a decoded document and build the :class:`RoutingConfig` (patterns compiled once).

    Raises :class:`RoutingConfigError` naming the source, the rule and the field, e.g.
    ``routing.json: rules[1] "billing": if.text_matches[0]: invalid regular expression (...)``.
    """

    def fail(path: str, detail: str) -> RoutingConfigError:
        return RoutingConfigError(source, path, detail)

    if not isinstance(data, Mapping):
        raise fail("(top level)", "must be a JSON object")
    version = data.get("version")
    if type(version) is not int or version != SUPPORTED_VERSION:
        got = "required" if version is None else f"unsupported version {version!r}"
        raise fail("version", f"{got}; this code reads version {SUPPORTED_VERSION}")
    reject_unknown(data, _TOP_LEVEL_KEYS, "(top level)", fail)
    routes = _parse_routes(data.get("routes"), fail)
    default = _parse_default(data.get("default"), routes, fail)
    rules = _parse_rules(data.get("rules"), routes, default, fail)
    sla = None
    if "sla" in data:
        try:
            sla = parse_sla(data["sla"], "sla")
        except SlaConfigError as err:
            path, _, detail = str(err).partition(": ")
            raise fail(path, detail) from err
    ladder_given = "escalation" in data
    escalation = parse_escalation(data["escalation"], routes, fail) if ladder_given else DEFAULT_LADDER
    return RoutingConfig(
        version=version,
        routes=MappingProxyType(routes),
        rules=rules,
        default=default,
        sla=sla,
        escalation=escalation,
        source=source,
        escalation_is_default=not ladder_given,
        repeat_contact_days=frozenset(
            r.conditions.repeat_contact.days for r in rules if r.conditions.repeat_contact is not None
        ),
    )


def _parse_routes(value: Any, fail: Fail) -> dict[str, Route]:
    if not isinstance(value, Mapping) or not visible(value):
        raise fail("routes", 'required, an object of route name → {"description"?: "..."} with at least one route')
    routes: dict[str, Route] = {}
    for name, entry in value.items():
        if str(name).startswith("_"):
            continue
        path = f"routes.{name}"
        if not _ROUTE_NAME.match(name) or len(name) > MAX_ROUTE_NAME_CHARS:
            raise fail(path, f"a route name is 1-{MAX_ROUTE_NAME_CHARS} letters, digits, '-' or '_' "
                       f"(it names the SQS queue omnihub-{{stage}}-route-{name}.fifo)")
        if not isinstance(entry, Mapping):
            raise fail(path, 'must be an object, {} or {"description": "..."}')
        reject_unknown(entry, ("description",), path, fail)
        description = entry.get("description")
        if description is not None and (not isinstance(description, str) or len(description) > 500):
            raise fail(f"{path}.description", "must be a string of at most 500 characters")
        routes[name] = Route(name, description)
    return routes


def _parse_default(value: Any, routes: Mapping[str, Route], fail: Fail) -> Action:
    if not isinstance(value, Mapping):
        raise fail("default", 'required, {"route": "...", "priority": "normal"}')
    reject_unknown(value, ("route", "priority"), "default", fail)
    for key in ("route", "priority"):
        if key not in value:
            raise fail(f"default.{key}", "required")
    return Action(
        known_route(value["route"], routes, "default.route", fail),
        valid_priority(value["priority"], "default.priority", fail),
    )


def _parse_rules(value: Any, routes: Mapping[str, Route], default: Action, fail: Fail) -> tuple[Rule, ...]:
    if not isinstance(value, list):
        raise fail("rules", "required, a list of rules (first match wins); [] routes everything to the default")
    if len(value) > MAX_RULES:
        raise fail("rules", f"at most {MAX_RULES} rules, got {len(value)}")
    rules: list[Rule] = []
    seen: dict[str, int] = {}
    for position, entry in enumerate(value):
        where = f"rules[{position}]"
        if not isinstance(entry, Mapping):
            raise fail(where, 'must be an object {"name", "if", "then"}')
        name = entry.get("name")
        if not isinstance(name, str) or not _RULE_NAME.match(name):
            raise fail(f"{where}.name", "required, 1-64 letters, digits, '-', '_' or '.' (it is the escalation reason)")
        where = f'{where} "{name}"'
        if name in RESERVED_RULE_NAMES:
            raise fail(f"{where}: name", f"{name!r} is reserved (an escalation reason of its own)")
        if name in seen:
            raise fail(f"{where}: name", f"the same name as rules[{seen[name]}]; rule names must be unique")
        seen[name] = position
        reject_unknown(entry, ("name", "if", "then"), where, fail)
        for previous in rules:
            if previous.conditions.is_empty:
                raise fail(where, f'unreachable: rule "{previous.name}" before it has an empty "if"')
        conditions = _parse_conditions(entry.get("if"), where, fail)
        then = _parse_action(entry.get("then"), routes, default, where, fail)
        rules.append(Rule(position, name, conditions, then))
    return tuple(rules)


def _parse_conditions(value: Any, where: str, fail: Fail) -> Conditions:
    if not isinstance(value, Mapping):
        raise fail(f"{where}: if", "required, an object of conditions ({} matches everything)")
    reject_unknown(value, CONDITION_KEYS, f"{where}: if", fail, kind="condition")
    found: dict[str, Any] = {}
    for key in CONDITION_KEYS:
        if key not in value:
            continue
        path, item = f"{where}: if.{key}", value[key]
        if key in ("public", "business_hours"):
            if not isinstance(item, bool):
                raise fail(path, f"must be true or false, got {item!r}")
            found[key] = item
        elif key == "repeat_contact":
            found[key] = _repeat_contact(item, path, fail)
        elif key == "text_matches":
            patterns = []
            for index, text in enumerate(string_list(item, path, fail, lower=False)):
                try:
                    patterns.append(compile_pattern(text))
                except UnsafePatternError as err:
                    raise fail(f"{path}[{index}]", str(err)) from err
            found[key] = tuple(patterns)
        else:
            found[key] = condition_values(key, string_list(item, path, fail, lower=True), path, fail)
    return Conditions(**found, asked=tuple(key for key in EVALUATION_ORDER if key in found))


def _parse_action(value: Any, routes: Mapping[str, Route], default: Action, where: str, fail: Fail) -> Action:
    path = f"{where}: then"
    if not isinstance(value, Mapping):
        raise fail(path, 'required, an object like {"route": "billing", "priority": "high"}')
    reject_unknown(value, ACTION_KEYS, path, fail, kind="action")
    route = known_route(value["route"], routes, f"{path}.route", fail) if "route" in value else default.route
    priority = valid_priority(value["priority"], f"{path}.priority", fail) if "priority" in value else default.priority
    tags = string_list(value["tags"], f"{path}.tags", fail, lower=True) if "tags" in value else ()
    escalate = value.get("escalate", False)
    if not isinstance(escalate, bool):
        raise fail(f"{path}.escalate", f"must be true or false, got {escalate!r}")
    return Action(route, priority, tags, escalate)


def _repeat_contact(value: Any, path: str, fail: Fail) -> RepeatContact:
    if not isinstance(value, Mapping):
        raise fail(path, 'must be an object {"conversations": n, "days": d}')
    reject_unknown(value, ("conversations", "days"), path, fail)
    numbers = []
    for key, top in (("conversations", 1000), ("days", 365)):
        number = value.get(key)
        if type(number) is not int or not 1 <= number <= top:
            raise fail(f"{path}.{key}", f"required, an integer 1-{top}, got {number!r}")
        numbers.append(number)
    return RepeatContact(*numbers)


# ---- loading -------------------------------------------------------------------------------------


def _read_file(path: str) -> RoutingConfig:
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as err:
        raise RoutingConfigError(path, "(file)", f"cannot read the routing configuration: {err.strerror}") from err
    if len(raw) > MAX_CONFIG_BYTES:
        raise RoutingConfigError(path, "(file)", f"larger than {MAX_CONFIG_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"), object_pairs_hook=_no_duplicate_keys)
    except UnicodeDecodeError as err:
        raise RoutingConfigError(path, "(file)", "not UTF-8") from err
    except json.JSONDecodeError as err:
        where = f"line {err.lineno}, column {err.colno}"
        raise RoutingConfigError(path, "(file)", f"not valid JSON ({where}: {err.msg})") from err
    except _DuplicateKey as err:
        raise RoutingConfigError(path, "(file)", f"the key {err.args[0]!r} appears twice in one object") from err
    return parse_routing_config(data, source=path)


# path > $OMNIHUB_ROUTING_CONFIG > chalicelib/config/routing.v1.json; an invalid file raises
# RoutingConfigError every time it is asked for (so make run refuses to start, a worker fails loudly)
_FILE = ConfigFile(CONFIG_PATH_ENV, DEFAULT_CONFIG_PATH, _read_file)
routing_config_path = _FILE.path
load_routing_config = _FILE.load
clear_routing_config_cache = _FILE.clear


class _DuplicateKey(ConfigError, ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json keeps the last of two equal keys: two routes or rules with one name would silently merge
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result
