"""Simulators of Vonage Messages API webhooks: compact JSON signed with an HS256 JWT, as Vonage does."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from chalicelib.providers.vonage import SECRET_NAME, sign_vonage_webhook
from devstack.simulators.base import SimulatedRequest

MESSAGES_PATH = "/webhooks/vonage/messages"
DEFAULT_BUSINESS_NUMBER = "447700900000"
_CHANNELS = {"sms": "sms", "whatsapp": "whatsapp", "messenger": "messenger", "viber": "viber_service"}


def _iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _signed_json(secrets: Mapping[str, str], payload: dict[str, Any], issued_at: int | None) -> SimulatedRequest:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    iat = int(time.time()) if issued_at is None else issued_at
    return SimulatedRequest(
        method="POST",
        path=MESSAGES_PATH,
        headers={
            "Content-Type": "application/json",
            "Authorization": sign_vonage_webhook(secrets[SECRET_NAME], body, issued_at=iat, jti=str(uuid.uuid4())),
        },
        body=body,
    )


def simulate_vonage_messages_message(
    secrets: Mapping[str, str],
    sender: str,
    text: str,
    *,
    name: str | None = None,
    language: str | None = None,  # Vonage sends no language hint: accepted and ignored
    public_base_url: str = "http://127.0.0.1:8000",  # Vonage signs the body, not the URL
    event_id: str | None = None,
    channel: str = "sms",
    to: str = DEFAULT_BUSINESS_NUMBER,
    issued_at: int | None = None,
) -> SimulatedRequest:
    """An inbound text on ``channel`` sms | whatsapp | messenger | viber.

    ``sender`` is a phone number (``447700900001`` or ``+447700900001``) or, on Messenger, a PSID.
    """
    if channel not in _CHANNELS:
        raise ValueError(f"channel must be one of {sorted(_CHANNELS)}")
    now = int(time.time()) if issued_at is None else issued_at
    payload: dict[str, Any] = {
        "channel": _CHANNELS[channel],
        "message_uuid": event_id or str(uuid.uuid4()),
        "to": to,
        "from": sender.lstrip("+") if channel != "messenger" else sender,
        "timestamp": _iso(now),
        "message_type": "text",
        "text": text,
    }
    if channel == "sms":
        payload["sms"] = {"num_messages": "1", "count_total": "1"}
    if name and channel == "whatsapp":
        payload["profile"] = {"name": name}
    return _signed_json(secrets, payload, issued_at)


def simulate_vonage_status(
    secrets: Mapping[str, str],
    message_uuid: str,
    status: str,
    *,
    to: str = "447700900001",
    channel: str = "sms",
    error_code: int | None = None,
    client_ref: str | None = None,
    public_base_url: str = "http://127.0.0.1:8000",
    issued_at: int | None = None,
) -> SimulatedRequest:
    """A status webhook (``submitted``, ``delivered``, ``read``, ``rejected``, ``undeliverable``)."""
    now = int(time.time()) if issued_at is None else issued_at
    payload: dict[str, Any] = {
        "message_uuid": message_uuid,
        "to": to,
        "from": DEFAULT_BUSINESS_NUMBER,
        "timestamp": _iso(now),
        "status": status,
        "channel": _CHANNELS.get(channel, channel),
    }
    if client_ref:
        payload["client_ref"] = client_ref
    if error_code is not None:
        payload["error"] = {
            "type": f"https://developer.vonage.com/api-errors/messages#{error_code}",
            "title": error_code,
            "detail": "Message rejected",
            "instance": str(uuid.uuid4()),
        }
    return _signed_json(secrets, payload, issued_at)
