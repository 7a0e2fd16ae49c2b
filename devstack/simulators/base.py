"""What a simulator returns: a request ready to send to the hub, signed as the provider would."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class SimulatedRequest:
    method: str
    path: str  # e.g. /webhooks/twilio/messaging (query string included when the provider sends one)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True, slots=True)
class SimulatedResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


def send(base_url: str, request: SimulatedRequest, timeout: float = 30.0) -> SimulatedResponse:
    """Send over real HTTP (standard library only)."""
    http_request = urllib.request.Request(  # noqa: S310 - the URL is the hub's own base URL
        base_url.rstrip("/") + request.path, data=request.body or None, method=request.method,
        headers=request.headers,
    )
    try:
        with urllib.request.urlopen(http_request, timeout=timeout) as response:  # noqa: S310
            return SimulatedResponse(response.status, dict(response.headers), response.read())
    except urllib.error.HTTPError as err:
        return SimulatedResponse(err.code, dict(err.headers), err.read())
