"""The provider sandbox on loopback (real HTTP), shared by the outbound integration tests."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.sandbox import SandboxServer, start_sandbox


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
