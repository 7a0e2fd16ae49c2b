"""The provider sandbox on loopback (real HTTP), shared by the outbound integration tests."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chalicelib.local.sandbox import SandboxServer, start_sandbox
from chalicelib.model import Channel
from chalicelib.outbound import OutboundJob, OutboundKind


class SandboxClient:
    def __init__(self, server: SandboxServer, base_url: str) -> None:
        self.server = server
        self.base_url = base_url

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=5) as response:
            return json.loads(response.read())

    def outbox(self, since: int = 0, provider: str | None = None) -> list[dict[str, Any]]:
        query = f"?since={since}" + (f"&provider={provider}" if provider else "")
        return self._call("GET", "/_sandbox/outbox" + query)

    def last(self) -> dict[str, Any]:
        records = self.outbox()
        assert records, "the sandbox received nothing"
        return records[-1]

    def fail(self, **spec: Any) -> Any:
        return self._call("POST", "/_sandbox/fail", spec)

    def reset(self) -> None:
        self._call("POST", "/_sandbox/reset", {})


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[tuple[SandboxServer, str]]:
    server, base_url = start_sandbox(port=0)
    try:
        yield server, base_url
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def sandbox(sandbox_server: tuple[SandboxServer, str]) -> Iterator[SandboxClient]:
    client = SandboxClient(*sandbox_server)
    client.reset()
    yield client
    client.reset()


@pytest.fixture
def make_job() -> Callable[..., OutboundJob]:
    def build(**overrides: Any) -> OutboundJob:
        values: dict[str, Any] = {
            "outbound_id": "0b7f3c1e-5d2a-4c1b-9e8f-123456789abc",
            "conversation_id": "conv-1",
            "kind": OutboundKind.ACKNOWLEDGMENT,
            "channel": Channel.SMS,
            "provider": "twilio",
            "to": "+393331234567",
            "text": "Thanks, we got your message. Reference ABC-123.",
            "customer_last_inbound_at": "2026-11-22T20:08:29.123Z",
        }
        values.update(overrides)
        return OutboundJob(**values)

    return build
