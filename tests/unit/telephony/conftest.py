"""Turns a simulated provider request into the WebhookRequest the ingest use case would build."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

import pytest

from chalicelib.providers.base import WebhookRequest
from devstack.simulators.base import SimulatedRequest

BASE_URL = "https://hub.example.com"
NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z

TWILIO_SECRETS = {"TWILIO_AUTH_TOKEN": "twilio-test-token"}
VONAGE_SECRETS = {"VONAGE_SIGNATURE_SECRET": "vonage-test-signature-secret-32-bytes!"}


def as_webhook_request(simulated: SimulatedRequest, received_at: str = "2026-01-01T00:00:00.000Z") -> WebhookRequest:
    path, _, query = simulated.path.partition("?")
    pairs = tuple(parse_qsl(query, keep_blank_values=True))
    return WebhookRequest(
        method=simulated.method,
        path=path,
        headers={k.lower(): v for k, v in simulated.headers.items()},
        body=simulated.body,
        query=dict(pairs),
        query_pairs=pairs,
        raw_query=query or None,
        public_url=BASE_URL + simulated.path,
        received_at=received_at,
    )


@pytest.fixture
def to_request() -> Callable[[SimulatedRequest], WebhookRequest]:
    return as_webhook_request


def path_of(request: WebhookRequest) -> str:
    return urlsplit(request.public_url).path
