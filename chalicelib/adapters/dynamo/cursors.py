"""Page cursors for listings: opaque to clients, decoded defensively (a client echoes them back)."""

from __future__ import annotations

import base64
import json
from typing import Any

from chalicelib.core.errors import BadRequest


def encode_cursor(state: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        state = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, json.JSONDecodeError) as err:
        raise BadRequest("cursor is not one this API returned") from err
    if not isinstance(state, dict):
        raise BadRequest("cursor is not one this API returned")
    return state


def cursor_number(state: dict[str, Any], name: str) -> int:
    """A position the API put in a cursor; anything else in its place was not ours (never a 500)."""
    value = state.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest("cursor is not one this API returned")
    return value


def cursor_start_key(state: dict[str, Any], attributes: frozenset[str]) -> dict[str, Any] | None:
    """The table's LastEvaluatedKey a cursor carries: string key attributes, exactly these."""
    key = state.get("k")
    if key is None:
        return None
    if not isinstance(key, dict) or set(key) != attributes or any(
        not isinstance(value, dict) or list(value) != ["S"] or not isinstance(value["S"], str)
        for value in key.values()
    ):
        raise BadRequest("cursor is not one this API returned")
    return key
