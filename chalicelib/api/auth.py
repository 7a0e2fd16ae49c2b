"""REST API keys and scopes from ``OMNIHUB_API_KEYS`` (``name:key:scope1+scope2,...``)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from chalicelib.core.errors import Forbidden, Unauthorized

SCOPES = frozenset({"support", "crisis", "admin"})


@dataclass(frozen=True, slots=True)
class ApiKey:
    name: str
    key: str
    scopes: frozenset[str]


def parse_api_keys(spec: str) -> tuple[ApiKey, ...]:
    """Parse the setting; raises ValueError naming the bad entry (never echoing a key)."""
    keys = []
    for position, entry in enumerate(filter(None, (part.strip() for part in spec.split(",")))):
        name, _, rest = entry.partition(":")
        key, _, scopes_text = rest.partition(":")
        scopes = frozenset(filter(None, scopes_text.split("+")))
        if not name or not key or not scopes:
            raise ValueError(f"OMNIHUB_API_KEYS entry {position + 1} is not name:key:scope1+scope2")
        unknown = scopes - SCOPES
        if unknown:
            raise ValueError(f"OMNIHUB_API_KEYS entry {name!r} has unknown scopes {sorted(unknown)}")
        keys.append(ApiKey(name, key, scopes))
    return tuple(keys)


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
