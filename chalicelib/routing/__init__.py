"""Routing: the versioned rules that send each conversation to a department's queue, and why (pure
apart from reading the configuration file)."""

from __future__ import annotations

from chalicelib.routing.config import (
    CONFIG_PATH_ENV,
    DEFAULT_CONFIG_PATH,
    SUPPORTED_VERSION,
    Action,
    Conditions,
    RepeatContact,
    Route,
    RoutingConfig,
    RoutingConfigError,
    Rule,
    clear_routing_config_cache,
    load_routing_config,
    parse_routing_config,
    route_queue_name,
    routing_config_path,
)
from chalicelib.routing.explain import explain
from chalicelib.routing.patterns import MAX_MATCH_CHARS, MAX_PATTERN_CHARS, UnsafePatternError
from chalicelib.routing.rules import (
    PRIORITY_RANK,
    RoutingDecision,
    RoutingFacts,
    decide_route,
    priority_rank,
    should_reroute,
)

__all__ = [
    "CONFIG_PATH_ENV",
    "DEFAULT_CONFIG_PATH",
    "MAX_MATCH_CHARS",
    "MAX_PATTERN_CHARS",
    "PRIORITY_RANK",
    "SUPPORTED_VERSION",
    "Action",
    "Conditions",
    "RepeatContact",
    "Route",
    "RoutingConfig",
    "RoutingConfigError",
    "RoutingDecision",
    "RoutingFacts",
    "Rule",
    "UnsafePatternError",
    "clear_routing_config_cache",
    "decide_route",
    "explain",
    "load_routing_config",
    "parse_routing_config",
    "priority_rank",
    "route_queue_name",
    "routing_config_path",
    "should_reroute",
]
