"""Provider sandbox: one loopback HTTP server that answers like each provider's send API.

The HTTP side of the sandbox: the control API under ``/_sandbox/``, the server and how to start it.
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from chalicelib.providers.registry import REGISTRY
from chalicelib.providers.ses import TRUSTED_SUBSCRIBE_URL_ENV
from devstack.sandbox.emulator import Sandbox
from devstack.sandbox.presets import Answer


class SandboxHandler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        parts = urlsplit(self.path)
        sandbox = self.server.sandbox
        try:
            if parts.path.startswith("/_sandbox/"):
                status, extra, body = self._control(method, parts.path, parts.query, raw)
            else:
                status, extra, body = sandbox.handle(method, self.path, headers, raw)
        except ValueError as err:
            status, extra, body = 400, {}, {"error": str(err)}
        payload = b"" if body is None else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a rehearsed timeout): nothing to answer

    def _control(self, method: str, path: str, query: str, raw: bytes) -> Answer:
        sandbox = self.server.sandbox
        params = dict(parse_qsl(query))
        if method == "GET" and path == "/_sandbox/outbox":
            return 200, {}, sandbox.outbox(int(params.get("since") or 0), params.get("provider"))
        if method == "GET" and path == "/_sandbox/health":
            return 200, {}, {"ok": True}
        if method == "POST" and path == "/_sandbox/fail":
            spec = json.loads(raw or b"{}")
            if not isinstance(spec, dict):
                raise ValueError("the failure spec is a JSON object")
            rule = sandbox.add_failure(spec)
            return 200, {}, {"ok": True, "status": rule.status, "count": rule.remaining}
        if method == "POST" and path == "/_sandbox/reset":
            sandbox.reset()
            return 200, {}, {"ok": True}
        return 404, {}, {"error": f"no sandbox control {method} {path}"}


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: Sandbox | None = None, verbose: bool = False) -> None:
        super().__init__(address, SandboxHandler)
        self.sandbox = sandbox or Sandbox()
        self.verbose = verbose

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def start_sandbox(port: int = 0, host: str = "127.0.0.1") -> tuple[SandboxServer, str]:
    """Start the sandbox on a background thread; stop it with ``server.shutdown(); server.server_close()``."""
    server = SandboxServer((host, port))
    threading.Thread(target=server.serve_forever, name="provider-sandbox", daemon=True).start()
    return server, server.base_url


def sandbox_environment(base_url: str) -> dict[str, str]:
    """The variables that point every HTTP sender of the provider registry at the sandbox, and the SNS
    subscribe endpoint the local stage trusts (the worker confirms subscriptions there)."""
    senders = {f"OMNIHUB_{entry.name.upper()}_API_BASE": base_url for entry in REGISTRY if entry.api_base}
    return {**senders, TRUSTED_SUBSCRIBE_URL_ENV: f"{base_url}/sns/confirm"}


def main(argv: list[str] | None = None) -> None:
    summary = __doc__.split("\n", 1)[0] if __doc__ else None
    parser = argparse.ArgumentParser(prog="python -m devstack.sandbox", description=summary)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4580)
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)
    server = SandboxServer((args.host, args.port), verbose=not args.quiet)
    print(f"provider sandbox on {server.base_url}; point the senders at it with:")
    for name, value in sorted(sandbox_environment(server.base_url).items()):
        print(f"  export {name}={value}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
