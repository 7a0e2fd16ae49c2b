"""Provider sandbox: one loopback HTTP server that answers like each provider's send API.

Point the senders at it (``OMNIHUB_<PROVIDER>_API_BASE=http://127.0.0.1:4580``) and every outbound
message lands here instead of reaching a customer. It answers as the provider does (status code,
body, generated ids), records each request (method, path, headers without secrets, parsed body,
time) and lets tests and users rehearse failures:

- ``GET  /_sandbox/outbox?since=N&provider=P`` → JSON list of recorded requests with ``seq`` > N;
- ``POST /_sandbox/fail`` ``{"provider": "twilio", "preset": "rate_limited", "count": 1,
  "retry_after": 5}`` → the next ``count`` requests to that provider (or to ``"path"``, a path
  prefix) fail; presets: ``invalid_number``, ``blocked``, ``opted_out``, ``window_closed``,
  ``rate_limited``, ``server_error``, ``invalid_reply_token`` (LINE), ``monthly_limit`` (LINE); or
  give ``"status"`` (and optionally ``"body"``, ``"headers"``) directly; ``"delay"`` seconds delays
  the answer (to rehearse read timeouts);
- ``POST /_sandbox/reset`` forgets requests and pending failures; ``GET /_sandbox/health``.

SES is not served here: the embedded AWS (moto) answers SES locally. The other email send APIs
(SendGrid, Mailgun, Postmark) answer from email_apis.py.
Run: ``python -m devstack.sandbox --port 4580``.

The package, by concern: presets.py (each provider's error answers), readers.py (routes, bodies,
credentials), emulator.py (state and the answer per provider), server.py (HTTP, ``main``).
"""

from __future__ import annotations

from devstack.sandbox.emulator import FailureRule, Sandbox, SandboxState
from devstack.sandbox.presets import Answer, preset_answer, status_answer
from devstack.sandbox.readers import ROUTES, SECRET_HEADERS, secret_fingerprint
from devstack.sandbox.server import SandboxHandler, SandboxServer, main, sandbox_environment, start_sandbox

__all__ = [
    "ROUTES",
    "SECRET_HEADERS",
    "Answer",
    "FailureRule",
    "Sandbox",
    "SandboxHandler",
    "SandboxServer",
    "SandboxState",
    "main",
    "preset_answer",
    "sandbox_environment",
    "secret_fingerprint",
    "start_sandbox",
    "status_answer",
]
