"""REST API keys and scopes from ``OMNIHUB_API_KEYS`` (``name:key:scope1+scope2,...``).

The setting is read on every request through the secret source (whose cache lasts five minutes,
like every secret's), so a revoked key stops working within that time and a key added to a secret
that was empty is picked up without a cold start. Parsing is cached per value of the setting.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from functools import lru_cache

from chalicelib.adapters.observability import logger
from chalicelib.core.errors import ConfigError, Forbidden, Unauthorized

SCOPES = frozenset({"support", "crisis", "admin"})
SETTING = "OMNIHUB_API_KEYS"


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    key: str
    scopes: frozenset[str]


class ApiKeysMisconfigured(ConfigError):
    """``OMNIHUB_API_KEYS`` cannot be read: every REST call answers 503 until an operator fixes it."""


def parse_api_keys(spec: str) -> tuple[ApiKey, ...]:
    """Parse the setting; raises ApiKeysMisconfigured naming the bad entry (never echoing a key)."""
    keys = []
    for position, entry in enumerate(filter(None, (part.strip() for part in spec.split(",")))):
        name, _, rest = entry.partition(":")
        key, _, scopes_text = rest.partition(":")
        scopes = frozenset(filter(None, scopes_text.split("+")))
        if not name or not key or not scopes:
            raise ApiKeysMisconfigured(f"{SETTING} entry {position + 1} is not name:key:scope1+scope2")
        unknown = scopes - SCOPES
        if unknown:
            raise ApiKeysMisconfigured(f"{SETTING} entry {name!r} has unknown scopes {sorted(unknown)}")
        keys.append(ApiKey(name, key, scopes))
    return tuple(keys)


@lru_cache(maxsize=4)
def _parsed(spec: str) -> tuple[ApiKey, ...]:
    return parse_api_keys(spec)


def api_keys_from_setting(spec: str | None) -> tuple[ApiKey, ...]:
    """The keys of the setting's current value; a malformed value is logged (naming the entry, not a key)."""
    try:
        return _parsed(spec or "")
    except ApiKeysMisconfigured as err:
        logger.error("API keys setting is malformed: every REST call is refused with 503", extra={"reason": err.reason})
        raise


def authorize(keys: tuple[ApiKey, ...], presented: str | None, scope: str) -> ApiKey:
    """The key presented, if it is known and carries ``scope`` (``admin`` carries every scope)."""
    if not presented:
        raise Unauthorized("missing x-api-key header")
    match = None
    for candidate in keys:  # compare against every key: the time taken says nothing about which matched
        if hmac.compare_digest(candidate.key.encode(), presented.encode()):
            match = candidate
    if match is None:
        raise Unauthorized("unknown API key")
    if scope not in match.scopes and "admin" not in match.scopes:
        raise Forbidden(f"this key lacks the {scope!r} scope")
    return match
