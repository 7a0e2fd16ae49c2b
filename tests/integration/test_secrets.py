"""Secrets: an environment variable of the contract's name wins; otherwise the provider's secret in Secrets Manager."""

from __future__ import annotations

import json

import pytest

from chalicelib.adapters.secrets import SECRET_GROUPS, SecretSource, secret_id
from chalicelib.adapters.settings import Settings


@pytest.fixture
def secrets_manager(aws_env: None) -> object:
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        stored = json.dumps({"TWILIO_AUTH_TOKEN": "from-sm"})
        client.create_secret(Name=secret_id("prod", "twilio"), SecretString=stored)
        yield client


def test_the_secret_store_answers_when_the_environment_is_silent(secrets_manager: object) -> None:
    source = SecretSource(Settings.from_environ({"AWS_DEFAULT_REGION": "us-east-1"}, stage="prod"))
    assert source.get("TWILIO_AUTH_TOKEN") == "from-sm"
    assert source.get("TWILIO_ACCOUNT_SID") is None  # in the group's secret, but not set there
    assert source.get("LINE_CHANNEL_SECRET") is None  # no such secret: nothing, not an error


def test_the_environment_wins_over_the_secret_store(secrets_manager: object) -> None:
    source = SecretSource(Settings.from_environ({"TWILIO_AUTH_TOKEN": "from-env"}, stage="prod"))
    assert source.get_many(("TWILIO_AUTH_TOKEN",)) == {"TWILIO_AUTH_TOKEN": "from-env"}


def test_every_secret_the_channels_need_has_a_group() -> None:
    from chalicelib.providers import ENDPOINTS, channel_spec

    for endpoint in ENDPOINTS:
        for name in channel_spec(endpoint).secret_names:
            assert name in SECRET_GROUPS, name
