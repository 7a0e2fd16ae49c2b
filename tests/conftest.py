"""Shared fixtures: moto in-process with every resource provisioned, the Chalice test client, the pump."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TEST_STAGE = "local"  # the Chalice test client applies .chalice stage "local"s environment
TEST_SECRETS = {
    "OMNIHUB_API_SIGNING_SECRET": "test-api-secret",
    "OMNIHUB_API_KEYS": "support-tool:support-key:support,comms:crisis-key:crisis,ops:admin-key:admin",
    "TWILIO_ACCOUNT_SID": "AC00000000000000000000000000000000",
    "TWILIO_AUTH_TOKEN": "test-twilio-token",
    "META_APP_SECRET": "test-meta-secret",
    "META_VERIFY_TOKEN": "test-meta-verify",
    "TELEGRAM_SECRET_TOKEN": "test-telegram-secret",
    "LINE_CHANNEL_SECRET": "test-line-secret",
    "VIBER_AUTH_TOKEN": "test-viber-token",
    "VONAGE_SIGNATURE_SECRET": "test-vonage-signature-secret-of-32b",
    "OMNIHUB_ID_KEY": "test-id-key-0123456789abcdef0123456789",
    "X_CONSUMER_SECRET": "test-x-consumer-secret",
}


def load_schema(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "schemas" / f"{name}.json").read_text())


@dataclass
class Hub:
    """A provisioned embedded AWS plus the app, its client and a pump."""

    session: Any
    provisioned: Any
    client: Any
    pump: Any
    app_module: Any

    @property
    def dynamodb(self) -> Any:
        return self.session.client("dynamodb")

    @property
    def sqs(self) -> Any:
        return self.session.client("sqs")

    def table_items(self) -> list[dict[str, Any]]:
        from chalicelib.adapters import runtime

        return list(runtime.table().scan())

    def queue_url(self, logical: str, *, dlq: bool = False) -> str:
        from chalicelib.adapters import resources

        spec = next(s for s in resources.all_queues() if s.logical_name == logical)
        name = resources.dlq_name(TEST_STAGE, spec) if dlq else resources.queue_name(TEST_STAGE, spec)
        return self.provisioned.queue_urls[name]

    def receive_all(self, logical: str) -> list[dict[str, Any]]:
        """Every message on a queue, consumed (FIFO groups unlock as messages are deleted)."""
        url = self.queue_url(logical)
        bodies = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            if not messages:
                return bodies
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith(("AWS_", "OMNIHUB_")) or key in TEST_SECRETS:
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("OMNIHUB_STAGE", TEST_STAGE)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://hub.example.com")
    for key, value in TEST_SECRETS.items():
        monkeypatch.setenv(key, value)
    # No test may reach a real provider: senders default to a closed loopback port unless a test
    # points them at the provider sandbox.
    from chalicelib.providers.registry import REGISTRY

    for entry in REGISTRY:
        if entry.api_base:
            monkeypatch.setenv(f"OMNIHUB_{entry.name.upper()}_API_BASE", "http://127.0.0.1:9")
    yield


@pytest.fixture
def hub(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Hub]:
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    with mock_aws():
        from chalicelib.adapters import runtime
        from devstack.provision import provision
        from devstack.pump import LocalPump, app_handlers

        session = boto3.session.Session()
        provisioned = provision(session, TEST_STAGE)
        monkeypatch.setenv("OMNIHUB_TABLE_STREAM_ARN", provisioned.stream_arn)
        runtime.reset()
        import app as app_module

        app_module._outbound_ports.cache_clear()
        pump = LocalPump(session, TEST_STAGE, provisioned.stream_arn, app_handlers(app_module))
        with Client(app_module.app, stage_name=TEST_STAGE, project_dir=str(ROOT)) as client:
            yield Hub(session, provisioned, client, pump, app_module)
        runtime.reset()
        app_module._outbound_ports.cache_clear()


@pytest.fixture
def make_job() -> Any:
    """An outbound job with sensible defaults; keyword arguments override any field."""
    from chalicelib.core.model import Channel
    from chalicelib.outbound import OutboundJob, OutboundKind

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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The ledger (minutes, one file) first: with ``-n 2 --dist loadfile`` it then runs on one worker
    while the other takes the rest of the suite, instead of running alone at the end."""
    items.sort(key=lambda item: not item.nodeid.startswith("tests/ledger/"))
