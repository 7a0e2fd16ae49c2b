"""The fuzz's embedded hub: moto provisioned once per module, the store emptied between examples.

The shared ``hub`` fixture provisions moto for every test function; hypothesis runs hundreds of
examples inside one test, so the fuzz keeps one provisioned hub per module and asserts on what each
example added (the table and the raw-payload bucket are emptied after every example).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from chalicelib.handlers import wiring
from tests.conftest import ROOT, TEST_SECRETS, TEST_STAGE

# A few hundred cases per endpoint in total, within about a minute of CPU for the whole fuzz on two
# workers. FUZZ_SCALE multiplies every count (e.g. FUZZ_SCALE=10 for a long local run).
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
settings.register_profile(
    "fuzz",
    deadline=None,
    database=None,  # no .hypothesis directory in the worktree; failures print their reproduction
    derandomize=False,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                           HealthCheck.function_scoped_fixture, HealthCheck.large_base_example],
)


def examples(count: int) -> settings:
    """The fuzz profile with ``count`` examples (times FUZZ_SCALE)."""
    return settings(settings.get_profile("fuzz"), max_examples=max(1, int(count * SCALE)))


@dataclass
class FuzzHub:
    session: Any
    client: Any
    app_module: Any
    table_name: str = ""
    bucket_name: str = ""

    def __post_init__(self) -> None:
        from chalicelib.adapters.settings import get_settings

        # One client each: creating a botocore client costs more than the request it checks.
        self.dynamodb = self.session.client("dynamodb")
        self.s3 = self.session.client("s3")
        self.table_name, self.bucket_name = get_settings().table_name, get_settings().bucket_name

    def table_items(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self.dynamodb.get_paginator("scan").paginate(TableName=self.table_name):
            items += [{name: next(iter(value.values())) for name, value in item.items()} for item in page["Items"]]
        return items

    def bucket_keys(self) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.bucket_name)
        return [o["Key"] for o in listed.get("Contents", [])]

    def stored(self) -> tuple[list[dict[str, Any]], list[str]]:
        return self.table_items(), self.bucket_keys()

    def clear(self, stored: tuple[list[dict[str, Any]], list[str]] | None = None) -> None:
        """Empty the table and the bucket (cheap: an example leaves at most a few items)."""
        items, keys = self.stored() if stored is None else stored
        for item in items:
            self.dynamodb.delete_item(TableName=self.table_name,
                                      Key={"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}})
        for key in keys:
            self.s3.delete_object(Bucket=self.bucket_name, Key=key)


@pytest.fixture(scope="module")
def fuzz_hub() -> Iterator[FuzzHub]:
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    with pytest.MonkeyPatch.context() as monkeypatch:
        for key in list(os.environ):
            if key.startswith(("AWS_", "OMNIHUB_")) or key in TEST_SECRETS:
                monkeypatch.delenv(key, raising=False)
        from tests.fuzz.signers import email_environment

        for key, value in {
            **email_environment(),  # the email providers' secrets and the local stage's SNS trust
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
            "OMNIHUB_STAGE": TEST_STAGE, "POWERTOOLS_METRICS_DISABLED": "true",
            "PUBLIC_BASE_URL": "https://hub.example.com", **TEST_SECRETS,
        }.items():
            monkeypatch.setenv(key, value)
        from chalicelib.providers.registry import REGISTRY

        for entry in REGISTRY:
            if entry.api_base:  # no example may reach a real provider
                monkeypatch.setenv(f"OMNIHUB_{entry.name.upper()}_API_BASE", "http://127.0.0.1:9")
        with mock_aws():
            from chalicelib.adapters import runtime
            from devstack.provision import provision

            session = boto3.session.Session()
            provisioned = provision(session, TEST_STAGE)
            monkeypatch.setenv("OMNIHUB_TABLE_STREAM_ARN", provisioned.stream_arn)
            runtime.reset()
            import app as app_module

            app_module._outbound_ports.cache_clear()
            wiring.ses_channel_for.cache_clear()
            with Client(app_module.app, stage_name=TEST_STAGE, project_dir=str(ROOT)) as client:
                yield FuzzHub(session, client, app_module)
            runtime.reset()
            app_module._outbound_ports.cache_clear()
            wiring.ses_channel_for.cache_clear()


def error_codes() -> set[str]:
    from chalicelib.core.error_codes import ERROR_CODES

    return set(ERROR_CODES)


def assert_error_body(status: int, body: bytes | str) -> None:
    """``{"error": <a code of the table with this status>, "reason": <str>}``, nothing leaked."""
    from chalicelib.core.error_codes import ERROR_CODES

    text = body.decode("utf-8") if isinstance(body, bytes) else body
    parsed = json.loads(text)
    assert isinstance(parsed, dict) and set(parsed) == {"error", "reason"}, text
    assert parsed["error"] in ERROR_CODES, text
    assert ERROR_CODES[parsed["error"]].status == status, (status, text)
    assert isinstance(parsed["reason"], str), text
    assert_no_leak(text)


LEAKS = ("Traceback", "botocore", "Parameter validation", "ClientError", "Exception", "Error:", "errorMessage",
         "ValueError", "TypeError", "KeyError", "OverflowError", "RecursionError", "UnicodeDecodeError",
         "UnicodeEncodeError", "JSONDecodeError", "AttributeError", 'File "')


def assert_no_leak(text: str) -> None:
    for leak in LEAKS:
        assert leak not in text, (leak, text[:500])
