"""Small helpers for building signed generic-channel webhooks in tests."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from chalicelib.providers.api import sign_api_payload
from tests.conftest import TEST_SECRETS


def api_event(sender: str = "alice", text: str = "Hello", **extra: Any) -> dict[str, Any]:
    event: dict[str, Any] = {"event_id": uuid.uuid4().hex, "type": "message", "from": {"id": sender}, "text": text}
    event.update(extra)
    return event


def signed_headers(body: bytes, *, secret: str | None = None, timestamp: int | None = None) -> dict[str, str]:
    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        "X-Omnihub-Timestamp": str(ts),
        "X-Omnihub-Signature": sign_api_payload(secret or TEST_SECRETS["OMNIHUB_API_SIGNING_SECRET"], ts, body),
    }


def post_api(client: Any, event: dict[str, Any] | bytes, **kwargs: Any) -> Any:
    body = event if isinstance(event, bytes) else json.dumps(event).encode()
    return client.http.post("/webhooks/api", body=body, headers=signed_headers(body, **kwargs))
