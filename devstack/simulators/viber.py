"""Simulator of Viber's bot callbacks (``POST /webhooks/viber``), signed as Viber signs them."""

from __future__ import annotations

import json
import secrets as random_tokens
import time
from collections.abc import Mapping
from typing import Any

from chalicelib.providers.viber import SECRET_NAME, sign_viber_body
from devstack.simulators.base import SimulatedRequest

PATH = "/webhooks/viber"
CHAT_HOSTNAME = "SN-CHAT-01_"


def new_message_token() -> int:
    """A 64-bit token like Viber's: deliberately above 2^53 so lossy readers show up in tests."""
    return 2**62 + random_tokens.randbelow(2**62)


def signed_viber_request(secrets: Mapping[str, str], payload: dict[str, Any]) -> SimulatedRequest:
    # json.dumps writes Python ints exactly, so the token goes out as a bare 19-digit number
    # like Viber's own callbacks.
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return SimulatedRequest(
        method="POST",
        path=PATH,
        headers={
            "Content-Type": "application/json",
            "X-Viber-Content-Signature": sign_viber_body(secrets[SECRET_NAME], body),
        },
        body=body,
    )


def _token(event_id: str | int | None) -> int:
    return new_message_token() if event_id is None else int(event_id)


def simulate_viber_message(
    secrets: Mapping[str, str],
    sender: str,
    text: str,
    *,
    name: str | None = None,
    language: str | None = None,
    public_base_url: str = "http://127.0.0.1:8000",
    event_id: str | int | None = None,
    country: str | None = None,
    tracking_data: str | None = None,
    timestamp_ms: int | None = None,
) -> SimulatedRequest:
    """A text message from ``sender`` (a Viber user id such as ``01234567890A=``).

    ``event_id`` is the ``message_token`` (digits); ``public_base_url`` is unused because Viber
    signs only the body.
    """
    del public_base_url
    profile: dict[str, Any] = {"id": sender, "name": name or "Subscriber", "api_version": 10}
    if language:
        profile["language"] = language
    if country:
        profile["country"] = country
    message: dict[str, Any] = {"type": "text", "text": text}
    if tracking_data is not None:
        message["tracking_data"] = tracking_data
    payload = {
        "event": "message",
        "timestamp": int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
        "chat_hostname": CHAT_HOSTNAME,
        "message_token": _token(event_id),
        "sender": profile,
        "message": message,
        "silent": False,
    }
    return signed_viber_request(secrets, payload)


def simulate_viber_status(
    secrets: Mapping[str, str],
    user_id: str,
    message_token: str | int,
    status: str = "delivered",
    *,
    desc: str | None = None,
    public_base_url: str = "http://127.0.0.1:8000",
    timestamp_ms: int | None = None,
) -> SimulatedRequest:
    """A receipt (``delivered``, ``seen`` or ``failed``) for a message the hub sent."""
    del public_base_url
    if status not in ("delivered", "seen", "failed"):
        raise ValueError("status must be delivered, seen or failed")
    payload: dict[str, Any] = {
        "event": status,
        "timestamp": int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
        "chat_hostname": CHAT_HOSTNAME,
        "message_token": int(message_token),
        "user_id": user_id,
    }
    if status == "failed":
        payload["desc"] = desc or "failure description"
    return signed_viber_request(secrets, payload)


def simulate_viber_webhook_check(
    secrets: Mapping[str, str],
    *,
    public_base_url: str = "http://127.0.0.1:8000",
    timestamp_ms: int | None = None,
) -> SimulatedRequest:
    """The callback ``set_webhook`` triggers to check the URL before accepting it."""
    del public_base_url
    payload = {
        "event": "webhook",
        "timestamp": int(time.time() * 1000) if timestamp_ms is None else timestamp_ms,
        "chat_hostname": CHAT_HOSTNAME,
        "message_token": new_message_token(),
    }
    return signed_viber_request(secrets, payload)
