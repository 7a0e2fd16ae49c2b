"""Simulator of LINE's webhook (``POST /webhooks/line``), signed as the LINE Platform signs."""

from __future__ import annotations

import json
import secrets as random_tokens
import time
from collections.abc import Mapping
from typing import Any

from chalicelib.providers.line import SECRET_NAME, sign_line_body
from devstack.simulators.base import SimulatedRequest

PATH = "/webhooks/line"
DEFAULT_DESTINATION = "U00000000000000000000000000000000"  # the bot's own user id
_ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32, as in webhookEventId


def new_webhook_event_id(now_ms: int | None = None) -> str:
    """A ULID like LINE's ``webhookEventId``: 48-bit millisecond time + 80 random bits."""
    value = ((int(time.time() * 1000) if now_ms is None else now_ms) << 80) | random_tokens.randbits(80)
    return "".join(_ULID_ALPHABET[(value >> shift) & 31] for shift in range(125, -1, -5))


def signed_line_request(secrets: Mapping[str, str], payload: dict[str, Any]) -> SimulatedRequest:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return SimulatedRequest(
        method="POST",
        path=PATH,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "LineBotWebhook/2.0",
            "x-line-signature": sign_line_body(secrets[SECRET_NAME], body),
        },
        body=body,
    )


def simulate_line_message(
    secrets: Mapping[str, str],
    sender: str,
    text: str,
    *,
    name: str | None = None,
    language: str | None = None,
    public_base_url: str = "http://127.0.0.1:8000",
    event_id: str | None = None,
    message_id: str | None = None,
    reply_token: str | None = None,
    destination: str = DEFAULT_DESTINATION,
    timestamp_ms: int | None = None,
    is_redelivery: bool = False,
    mode: str = "active",
) -> SimulatedRequest:
    """A text message from ``sender`` (a LINE user id, ``U`` + 32 hex digits).

    ``name`` and ``language`` are accepted for a uniform simulator signature but LINE webhooks
    carry neither (the hub would read them from the profile API); ``public_base_url`` is unused
    because LINE signs only the body.
    """
    del name, language, public_base_url
    now_ms = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    event: dict[str, Any] = {
        "type": "message",
        "message": {
            "type": "text",
            "id": message_id or str(random_tokens.randbelow(10**18) + 10**17),
            "quoteToken": random_tokens.token_urlsafe(32),
            "text": text,
        },
        "webhookEventId": event_id or new_webhook_event_id(now_ms),
        "deliveryContext": {"isRedelivery": is_redelivery},
        "timestamp": now_ms,
        "source": {"type": "user", "userId": sender},
        "mode": mode,
    }
    if mode == "active":  # standby-mode events carry no reply token
        event["replyToken"] = reply_token or random_tokens.token_hex(16)
    return signed_line_request(secrets, {"destination": destination, "events": [event]})


def simulate_line_verification(
    secrets: Mapping[str, str],
    *,
    destination: str = DEFAULT_DESTINATION,
    public_base_url: str = "http://127.0.0.1:8000",
) -> SimulatedRequest:
    """What the console's "Verify" button sends: a signed POST with no events."""
    del public_base_url
    return signed_line_request(secrets, {"destination": destination, "events": []})
