"""Job factory for the outbound unit tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.model import Channel
from chalicelib.outbound import OutboundJob, OutboundKind


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
