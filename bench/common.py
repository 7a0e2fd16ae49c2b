"""What several benchmarks share: the repository root, the environment, signed webhooks, quiet logs."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "results"
STAGE = "local"
SIGNING_SECRET = "bench-api-signing-secret"
SUPPORT_KEY = "bench-support-key"
# moto's placeholder credentials: clients aimed at the embedded AWS or a stub never reach AWS
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def bench_environment() -> dict[str, str]:
    """The variables an in-process benchmark needs (fake credentials, stage, the signing secret)."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "OMNIHUB_STAGE": STAGE,
        "PUBLIC_BASE_URL": "https://hub.example.com",
        "OMNIHUB_API_SIGNING_SECRET": SIGNING_SECRET,
        "OMNIHUB_API_KEYS": f"bench:{SUPPORT_KEY}:support",
        "OMNIHUB_ID_KEY": "bench-id-key-0123456789abcdef0123456789",  # the relay and the worker need it
    }


def apply_environment(values: dict[str, str]) -> None:
    """Replace every AWS_/OMNIHUB_ variable with ``values`` and forget the cached adapters."""
    for key in list(os.environ):
        if key.startswith(("AWS_", "OMNIHUB_")):
            del os.environ[key]
    os.environ.update(values)
    from chalicelib.adapters import runtime

    runtime.reset()


def api_body(sender_id: str, text: str, event_id: str) -> bytes:
    return json.dumps({"event_id": event_id, "type": "message", "from": {"id": sender_id}, "text": text}).encode()


def signed_headers(body: bytes, timestamp: int | None = None) -> dict[str, str]:
    from chalicelib.providers.api import sign_api_payload

    ts = int(time.time()) if timestamp is None else timestamp
    return {
        "Content-Type": "application/json",
        "X-Omnihub-Timestamp": str(ts),
        "X-Omnihub-Signature": sign_api_payload(SIGNING_SECRET, ts, body),
    }


@contextlib.contextmanager
def quiet_powertools() -> Iterator[None]:
    """Send Powertools' log lines and EMF metrics to a sink: still formatted, never printed."""
    from chalicelib.adapters.observability import logger

    handler = logger.registered_handler
    with open(os.devnull, "w") as sink:  # a real write per line, as Lambda's stdout pipe costs one
        previous = handler.setStream(sink) if isinstance(handler, logging.StreamHandler) else None
        try:
            with contextlib.redirect_stdout(sink):
                yield
        finally:
            if isinstance(handler, logging.StreamHandler) and previous is not None:
                handler.setStream(previous)
