"""Page cursors for listings: opaque to clients and signed, because a client echoes them back.

A cursor is ``base64url(state) "." base64url(HMAC-SHA256(key, query "\\x1f" state))``: the state
(where the listing stopped) bound to the query it pages, so a cursor cannot be forged, edited, or
replayed on another listing. Whatever fails to verify or to decode is :class:`InvalidCursor` (400),
and a verified state is still checked field by field before any of it reaches DynamoDB.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from chalicelib.core.errors import InvalidCursor

MAX_CURSOR_CHARS = 4096
_MAC_BYTES = 16


class CursorCodec:
    """Signs and verifies cursors with a key derived from a deployment secret (read lazily)."""

    def __init__(self, key: Callable[[], bytes]) -> None:
        self._key = key

    def encode(self, query: str, state: dict[str, Any]) -> str:
        payload = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
        return _b64(payload) + "." + _b64(self._mac(query, payload))

    def decode(self, query: str, cursor: str) -> dict[str, Any]:
        if not isinstance(cursor, str) or len(cursor) > MAX_CURSOR_CHARS or cursor.count(".") != 1:
            raise InvalidCursor("cursor is not one this API returned")
        payload_text, mac_text = cursor.split(".")
        try:
            payload, mac = _unb64(payload_text), _unb64(mac_text)
        except (ValueError, binascii.Error) as err:
            raise InvalidCursor("cursor is not one this API returned") from err
        if not hmac.compare_digest(mac, self._mac(query, payload)):
            raise InvalidCursor("cursor is not one this API returned")
        try:
            state = json.loads(payload)
        except ValueError as err:
            raise InvalidCursor("cursor is not one this API returned") from err
        if not isinstance(state, dict):
            raise InvalidCursor("cursor is not one this API returned")
        return state

    def _mac(self, query: str, payload: bytes) -> bytes:
        derived = hmac.new(self._key(), b"omnihub-cursor-v1", hashlib.sha256).digest()
        return hmac.new(derived, query.encode() + b"\x1f" + payload, hashlib.sha256).digest()[:_MAC_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not text or not all(c.isalnum() or c in "-_" for c in text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def whole_number(state: dict[str, Any], name: str, *, low: int, high: int) -> int:
    """A field of a verified state that must be an int in [low, high] (bool is not an int here)."""
    value = state.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidCursor("cursor is not one this API returned")
    return value


def start_key(state: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any] | None:
    """DynamoDB's ExclusiveStartKey as the cursor carried it: string attributes of known names only."""
    value = state.get("k")
    if value is None:
        return None
    if not isinstance(value, dict) or set(value) - set(names) or not value:
        raise InvalidCursor("cursor is not one this API returned")
    for attribute in value.values():
        if (
            not isinstance(attribute, dict)
            or list(attribute) != ["S"]
            or not isinstance(attribute["S"], str)
            or not 0 < len(attribute["S"]) <= 2048
        ):
            raise InvalidCursor("cursor is not one this API returned")
    return value
