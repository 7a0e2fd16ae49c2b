"""The local stack as `make run` starts it, in a subprocess on free ports (real HTTP, moto server).

The process management is devstack.launcher's (shared with the benchmarks); this fixture
only adds the helpers the end-to-end tests use.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from devstack.launcher import running_local_stack


@dataclass
class LocalStack:
    api_url: str
    aws_url: str
    sandbox_url: str
    env: dict[str, str]

    def outbox(self, provider: str | None = None) -> list[dict[str, Any]]:
        query = f"?provider={provider}" if provider else ""
        with urllib.request.urlopen(f"{self.sandbox_url}/_sandbox/outbox{query}", timeout=10) as response:
            return list(json.loads(response.read()))

    def wait_for_outbox(self, predicate: Any, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for entry in self.outbox():
                if predicate(entry):
                    return entry
            time.sleep(0.3)
        raise AssertionError("nothing matching reached the provider sandbox")

    def post(self, path: str, body: dict[str, Any], key: str = "dev-support-key") -> tuple[int, Any]:
        request = urllib.request.Request(
            self.api_url + path, data=json.dumps(body).encode(), method="POST",
            headers={"x-api-key": key, "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")

    def secrets(self) -> dict[str, str]:
        from devstack.run import DEV_SECRETS

        return dict(DEV_SECRETS)

    def get(self, path: str, key: str = "dev-support-key") -> tuple[int, Any]:
        request = urllib.request.Request(self.api_url + path, headers={"x-api-key": key})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")

    def wait_for_conversation(self, channel: str, address: str, timeout: float = 30) -> dict[str, Any]:
        query = urllib.parse.urlencode({"channel": channel, "address": address})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, customer = self.get(f"/customers/lookup?{query}")
            if status == 200 and customer["conversation_ids"]:
                status, conversation = self.get(f"/conversations/{customer['conversation_ids'][-1]}")
                if status == 200 and conversation["messages"]:
                    return conversation
            time.sleep(0.3)
        raise AssertionError(f"no conversation for {channel}:{address} within {timeout} s")

    def sqs(self) -> Any:
        import boto3

        return boto3.session.Session().client(
            "sqs", region_name="us-east-1", endpoint_url=self.aws_url,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )

    def route_envelopes(self) -> list[dict[str, Any]]:
        sqs = self.sqs()
        url = sqs.get_queue_url(QueueName="omnihub-local-route-default.fifo")["QueueUrl"]
        found = []
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
            if not messages:
                return found
            for message in messages:
                found.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture(scope="session")
def local_stack() -> Iterator[LocalStack]:
    with running_local_stack() as urls:
        yield LocalStack(urls.api_url, urls.aws_url, urls.sandbox_url, urls.env)
