"""cpu_per_webhook: CPU time of one webhook through ingest_webhook, AWS answered by an in-memory stub.

The DynamoDB client is a real boto3 client whose 'before-send' hook returns a canned 200 PutItem
response, so parameter validation, serialization and SigV4 signing are all paid; no byte leaves
the process. Powertools logs and EMF metrics are formatted and written to /dev/null, as they would
be to Lambda's stdout. The floor is what a webhook that stores anything must cost: HMAC-SHA256
verification of the raw body, json.loads of it, and one stubbed put_item (the one write the design
allows, on the same stubbed client). The HMAC + json.loads figure alone is shown on its own line.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import time
from collections.abc import Callable
from typing import Any

from bench.common import FAKE_CREDENTIALS, SIGNING_SECRET, api_body, quiet_powertools, signed_headers
from bench.report import Row

NAME = "cpu_per_webhook"
ROUNDS = 5


class _RawBody(io.BytesIO):
    def stream(self, **_: Any) -> Any:
        yield self.getvalue()


def stubbed_dynamodb() -> Any:
    """A boto3 DynamoDB client that answers every PutItem 200 {} without the network."""
    import boto3
    from botocore.awsrequest import AWSResponse

    session = boto3.session.Session(region_name="us-east-1", **FAKE_CREDENTIALS)
    client = session.client("dynamodb")

    def answer(request: Any, **_: Any) -> AWSResponse:
        headers = {"content-type": "application/x-amz-json-1.0", "x-amzn-requestid": "bench"}
        return AWSResponse(request.url, 200, headers, _RawBody(b"{}"))

    client.meta.events.register("before-send.dynamodb", answer)
    return client


def per_call_cpu(work: Callable[[], object], iterations: int) -> float:
    """Seconds of CPU per call: the best of a few rounds (the least disturbed by the rest of the machine)."""
    best = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(iterations):
            work()
        best = min(best, (time.process_time() - started) / iterations)
    return best


def run(quick: bool) -> list[Row]:
    from chalicelib.adapters.dynamo import dynamo_repositories
    from chalicelib.adapters.secrets import SecretSource
    from chalicelib.adapters.settings import Settings
    from chalicelib.core.timestamps import utc_now
    from chalicelib.ingest.webhook import IngestResult, ingest_webhook
    from chalicelib.providers import WebhookRequest

    iterations = 200 if quick else 4000
    timestamp = int(time.time())
    body = api_body("bench-cpu-customer", "Hello, my parcel is late, order 12345", "bench-cpu-event")
    headers = {k.lower(): v for k, v in signed_headers(body, timestamp).items()}
    request = WebhookRequest(
        method="POST",
        path="/webhooks/api",
        headers=headers,
        body=body,
        public_url="https://hub.example.com/webhooks/api",
        received_at=utc_now(),
    )
    client = stubbed_dynamodb()
    inbox = dynamo_repositories(client, "omnihub-local-main").inbox
    secrets = SecretSource(Settings.from_environ({"OMNIHUB_API_SIGNING_SECRET": SIGNING_SECRET}))
    expected = headers["x-omnihub-signature"]

    def webhook() -> IngestResult:
        return ingest_webhook("api", request, inbox=inbox, secrets=secrets, now=timestamp)

    def floor() -> object:
        mac = hmac.new(SIGNING_SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(f"v1={mac}", expected):
            raise AssertionError("the floor's signature does not match")
        return json.loads(body)

    def put_item_only() -> object:
        return client.put_item(TableName="omnihub-local-main", Item={"pk": {"S": "x"}, "sk": {"S": "INBOX"}})

    with quiet_powertools():
        result = webhook()
        if result.response.status != 200 or len(result.new_events) != 1:
            raise RuntimeError(f"the stubbed webhook did not store its event: {result.response}")
        floor()
        webhook_cpu = per_call_cpu(webhook, iterations)
        floor_cpu = per_call_cpu(floor, iterations * 10)
        put_cpu = per_call_cpu(put_item_only, iterations)
    micro = 1e6
    design_floor = floor_cpu + put_cpu  # what any storing webhook pays: verify, parse, one write
    return [
        Row(
            NAME,
            webhook_cpu * micro,
            "µs",
            floor=design_floor * micro,
            goal="↓ (→ 1)",
            note=f"best of {ROUNDS} × {iterations}; floor = HMAC-SHA256 verify + json.loads + one stubbed put_item",
        ),
        Row(
            "  vs verify + parse alone",
            webhook_cpu * micro,
            "µs",
            floor=floor_cpu * micro,
            note="the old floor (HMAC-SHA256 + json.loads): no webhook that stores anything approaches it",
        ),
        Row(
            "  of which boto3 PutItem",
            put_cpu * micro,
            "µs",
            floor=webhook_cpu * micro,
            goal="↑ (→ 1)",
            note="share of the webhook's CPU: one stubbed put_item (validate, serialize, sign, parse)",
        ),
    ]
