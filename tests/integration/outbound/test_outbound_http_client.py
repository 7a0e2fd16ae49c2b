"""The HTTP client over real loopback sockets: bodies, headers, timeouts and error classes."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest

from chalicelib.outbound import HttpClient, PermanentSendError, ProviderErrorDetail, TransientSendError
from chalicelib.outbound.http import basic_auth


class ScriptedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[dict[str, Any]] = []
    script: list[tuple[int, dict[str, str], bytes]] = []

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).seen.append({"path": self.path, "headers": dict(self.headers.items()), "body": raw})
        status, headers, body = type(self).script.pop(0) if type(self).script else (200, {}, b"{}")
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server() -> Iterator[str]:
    ScriptedHandler.seen = []
    ScriptedHandler.script = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), ScriptedHandler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_json_body_and_headers(server):
    ScriptedHandler.script = [(201, {"Content-Type": "application/json"}, b'{"id": "x1"}')]
    response = HttpClient().request("POST", server + "/a?b=1", provider="p", json_body={"t": "è"},
                                    authorization="Bearer tok", headers={"X-Extra": "1"})
    assert response.status == 201 and response.json() == {"id": "x1"}
    assert response.header("Content-Type") == "application/json"
    seen = ScriptedHandler.seen[0]
    assert seen["path"] == "/a?b=1"
    assert seen["headers"]["Authorization"] == "Bearer tok"
    assert seen["headers"]["Content-Type"] == "application/json"
    assert seen["headers"]["X-Extra"] == "1"
    assert json.loads(seen["body"]) == {"t": "è"}


def test_form_body_keeps_repeated_keys(server):
    HttpClient().request("POST", server, provider="p", form=[("To", "+1"), ("MediaUrl", "a"), ("MediaUrl", "b")],
                         authorization=basic_auth("u", "p"))
    seen = ScriptedHandler.seen[0]
    assert seen["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert parse_qs(seen["body"].decode()) == {"To": ["+1"], "MediaUrl": ["a", "b"]}


def test_429_with_retry_after_seconds_and_date(server):
    ScriptedHandler.script = [(429, {"Retry-After": "12"}, b"{}"),
                              (503, {"Retry-After": formatdate(usegmt=True)}, b"{}")]
    with pytest.raises(TransientSendError) as first:
        HttpClient().request("POST", server, provider="p")
    assert first.value.retry_after == 12 and first.value.http_status == 429
    with pytest.raises(TransientSendError) as second:
        HttpClient().request("POST", server, provider="p")
    assert second.value.retry_after is not None and second.value.retry_after <= 1


def test_4xx_is_permanent_with_the_provider_detail(server):
    ScriptedHandler.script = [(400, {}, b'{"code": 21211, "message": "invalid To"}')]

    def reader(response):
        body = response.json()
        return ProviderErrorDetail(code=str(body["code"]), message=body["message"])

    with pytest.raises(PermanentSendError) as caught:
        HttpClient().request("POST", server, provider="twilio", error_reader=reader)
    assert (caught.value.error_code, caught.value.reason, caught.value.http_status) == ("21211", "invalid To", 400)
    assert str(caught.value) == "twilio: invalid To (code 21211)"


def test_reader_may_declare_a_4xx_transient(server):
    ScriptedHandler.script = [(400, {}, b"{}")]
    with pytest.raises(TransientSendError):
        HttpClient().request("POST", server, provider="p",
                             error_reader=lambda r: ProviderErrorDetail(code="130429", transient=True))


def test_connection_refused_is_transient_and_not_ambiguous():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransientSendError) as caught:
        HttpClient(connect_timeout=0.5).request("POST", f"http://127.0.0.1:{port}/x", provider="p")
    assert caught.value.error_code == "connect_error" and not caught.value.ambiguous


def test_only_http_urls():
    with pytest.raises(PermanentSendError):
        HttpClient().request("POST", "file:///etc/passwd", provider="p")
