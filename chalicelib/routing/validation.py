"""What the routing configuration's parser checks field by field, and the escalation ladder block.

Every check raises :class:`RoutingConfigError` through the parser's ``fail``, which prefixes the
source; ``path`` is the field (``rules[1] "billing": then.priority``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

from chalicelib.core.consent import ConsentState
from chalicelib.core.errors import ConfigError
from chalicelib.core.model import Channel, Priority
from chalicelib.sla.ladder import EscalationAction, EscalationLevel
from chalicelib.sla.policy import MAX_TARGET_MINUTES

MAX_LIST_ITEMS = 100
MAX_VALUE_CHARS = 254  # an e-mail address's limit; tiers, tags and languages are far shorter
MAX_LADDER_LEVELS = 10
MAX_AFTER_MINUTES = MAX_TARGET_MINUTES  # a level is never further from the breach than a target from its start
# the `consent` condition: a recorded state, or "unknown" (never asked on the channel)
_CONDITION_STATES = (*(state.value for state in ConsentState), "unknown")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*$")


class RoutingConfigError(ConfigError, ValueError):
    """The routing configuration is unreadable or invalid; the message names the file, the rule and the field."""

    def __init__(self, source: str, path: str, detail: str) -> None:
        super().__init__(f"{source}: {path}: {detail}")
        self.source = source
        self.path = path
        self.detail = detail


Fail = Callable[[str, str], RoutingConfigError]


def parse_escalation(value: Any, routes: Collection[str], fail: Fail) -> tuple[EscalationLevel, ...]:
    if not isinstance(value, Mapping):
        raise fail("escalation", 'must be an object {"levels": [...]}')
    reject_unknown(value, ("levels",), "escalation", fail)
    levels = value.get("levels")
    if not isinstance(levels, list) or not 1 <= len(levels) <= MAX_LADDER_LEVELS:
        raise fail("escalation.levels", f"required, a list of 1-{MAX_LADDER_LEVELS} levels")
    ladder: list[EscalationLevel] = []
    for index, entry in enumerate(levels):
        path = f"escalation.levels[{index}]"
        if not isinstance(entry, Mapping):
            raise fail(path, 'must be an object {"after_minutes", "action", "route"?, "priority"?}')
        reject_unknown(entry, ("after_minutes", "action", "route", "priority"), path, fail)
        minutes = entry.get("after_minutes")
        if type(minutes) is not int or not 0 <= minutes <= MAX_AFTER_MINUTES:
            raise fail(f"{path}.after_minutes", f"required, an integer 0-{MAX_AFTER_MINUTES} (after the breach)")
        if ladder and minutes < ladder[-1].after_minutes:
            raise fail(f"{path}.after_minutes", f"must not be less than the level before ({ladder[-1].after_minutes})")
        try:
            action = EscalationAction(str(entry.get("action")))
        except ValueError:
            allowed = ", ".join(a.value for a in EscalationAction)
            raise fail(f"{path}.action", f"must be one of {allowed}, got {entry.get('action')!r}") from None
        route = known_route(entry["route"], routes, f"{path}.route", fail) if "route" in entry else None
        priority = valid_priority(entry["priority"], f"{path}.priority", fail) if "priority" in entry else None
        if action is EscalationAction.REROUTE and route is None and priority is None:
            raise fail(path, "reroute needs a route, a priority or both")
        if action is not EscalationAction.REROUTE and (route is not None or priority is not None):
            raise fail(path, f"route and priority belong to reroute only, not to {action.value}")
        ladder.append(EscalationLevel(minutes, action, route, priority))
    return tuple(ladder)


def string_list(value: Any, path: str, fail: Fail, *, lower: bool) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or len(items) > MAX_LIST_ITEMS:
        raise fail(path, f"must be a string or a list of 1-{MAX_LIST_ITEMS} strings")
    result = []
    for index, item in enumerate(items):
        if not isinstance(item, str) or not item.strip() or len(item) > MAX_VALUE_CHARS:
            raise fail(f"{path}[{index}]", f"must be a non-empty string of at most {MAX_VALUE_CHARS} characters")
        result.append(item.strip().lower() if lower else item)
    return tuple(result)


def known_route(value: Any, routes: Collection[str], path: str, fail: Fail) -> str:
    if not isinstance(value, str) or value not in routes:
        raise fail(path, f"unknown route {value!r} (configured: {', '.join(routes)})")
    return value


def valid_priority(value: Any, path: str, fail: Fail) -> Priority:
    try:
        return Priority(value)
    except ValueError:
        raise fail(path, f"must be one of {', '.join(p.value for p in Priority)}, got {value!r}") from None


def reject_unknown(data: Mapping[str, Any], allowed: tuple[str, ...], path: str, fail: Fail, kind: str = "key") -> None:
    unknown = sorted(str(k) for k in data if k not in allowed and not str(k).startswith("_"))
    if unknown:
        raise fail(path, f"unknown {kind}(s) {', '.join(unknown)} (expected {', '.join(allowed)})")


def visible(data: Mapping[str, Any]) -> bool:
    return any(not str(key).startswith("_") for key in data)


def condition_values(key: str, values: tuple[str, ...], path: str, fail: Fail) -> tuple[str, ...]:
    for index, item in enumerate(values):
        if key == "channel" and item not in set(Channel):
            raise fail(f"{path}[{index}]", f"unknown channel {item!r} (one of {', '.join(c.value for c in Channel)})")
        if key == "consent" and item not in _CONDITION_STATES:
            raise fail(f"{path}[{index}]", f"must be one of {', '.join(_CONDITION_STATES)}, got {item!r}")
        if key == "language" and not _LANGUAGE.match(item):
            raise fail(f"{path}[{index}]", f"not a language tag like 'it' or 'pt-br': {item!r}")
        if key == "mailbox" and (item.count("@") != 1 or item.endswith("@")):
            raise fail(f"{path}[{index}]", f"an address (a@example.com) or a domain (@example.com), got {item!r}")
    return values
