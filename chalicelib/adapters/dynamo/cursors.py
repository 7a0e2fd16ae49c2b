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
