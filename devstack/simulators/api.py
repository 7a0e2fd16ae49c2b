"""Simulator of the generic signed channel (``POST /webhooks/api``)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping

from chalicelib.providers.api import SECRET_NAME, sign_api_payload
from devstack.simulators.base import SimulatedRequest


def simulate_api_message(
    secret: str,
    sender_id: str,
    text: str,
    *,
    name: str | None = None,
    language: str | None = None,
    event_id: str | None = None,
    timestamp: int | None = None,
) -> SimulatedRequest:
    sender: dict[str, str] = {"id": sender_id}
    if name:
        sender["name"] = name
    if language:
        sender["language"] = language
    body = json.dumps(
        {"event_id": event_id or uuid.uuid4().hex, "type": "message", "from": sender, "text": text}
    ).encode()
    ts = int(time.time()) if timestamp is None else timestamp
    return SimulatedRequest(
        method="POST",
        path="/webhooks/api",
        headers={
            "Content-Type": "application/json",
            "X-Omnihub-Timestamp": str(ts),
            "X-Omnihub-Signature": sign_api_payload(secret, ts, body),
        },
        body=body,
    )


def simulate_api_webhook(
    secrets: Mapping[str, str],
    sender: str,
    text: str,
    *,
    name: str | None = None,
    language: str | None = None,
    event_id: str | None = None,
    public_base_url: str = "",  # the generic channel signs the body, not the URL: accepted and ignored
) -> SimulatedRequest:
    """:func:`simulate_api_message` with the signature every ``./hub simulate`` command shares."""
    return simulate_api_message(secrets[SECRET_NAME], sender, text, name=name, language=language,
                                event_id=event_id)
