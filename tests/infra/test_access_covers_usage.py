"""The roles of infra/stacks/access.py allow every AWS call the code really makes, per Lambda handler.

Realistic flows run through the app on moto in-process (webhooks and REST through the Chalice test
client as ``api_handler``, the pump driving the stream relay, the workers and the schedule), while
every botocore call is recorded under the handler that made it. Each call is mapped to its IAM
action and resource and checked against ``ACCESS``: on AWS a missing grant is an AccessDenied at
run time, which no synth test sees. The API function's role is also checked the other way round:
every action it grants was used ("no permission it does not use").
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest

from chalicelib.adapters import resources
from chalicelib.adapters.secrets import ID_KEY_GROUP, SECRET_GROUP_NAMES, secret_id
from infra.stacks.access import ACCESS, RAW_PAYLOAD_PREFIX, FunctionAccess, allowed_actions, grants
from infra.stacks.chalice_app import API_HANDLER_NAME
from tests.conftest import TEST_SECRETS, TEST_STAGE, Hub
from tests.helpers import api_event, post_api

BASE = "https://hub.example.com"  # PUBLIC_BASE_URL in tests/conftest.py
SUPPORT = {"x-api-key": "support-key"}

# Operations whose IAM action is not ``<service>:<OperationName>``.
_ACTION_OF = {
    "sqs:SendMessageBatch": "sqs:SendMessage",
    "sqs:DeleteMessageBatch": "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
    "s3:HeadObject": "s3:GetObject",
}
# Granted for the Lambda service itself (its log stream, its event source mappings), not for the code.
_RUNTIME_SCOPES = {"logs", "stream", "any", "consumed_queue"}

_running: ContextVar[str | None] = ContextVar("running_handler", default=None)


@dataclass(frozen=True, slots=True)
class Call:
    action: str  # the IAM action, e.g. "dynamodb:UpdateItem"
    operation: str  # the botocore operation, e.g. "UpdateItem"
    resource: str  # table[/index/name], queue name, bucket/key, secret id, or "" when the call names none


def _resource_of(service: str, params: dict[str, Any]) -> str:
    if service == "dynamodb":
        table = params.get("TableName") or ",".join(sorted(params.get("RequestItems", {})))
        return f"{table}/index/{params['IndexName']}" if params.get("IndexName") else table
    if service == "sqs":
        return str(params.get("QueueUrl", "")).rstrip("/").rsplit("/", 1)[-1]
    if service == "s3":
        return f"{params.get('Bucket', '')}/{params.get('Key', '')}"
    if service == "secretsmanager":
        return str(params.get("SecretId", ""))
    return ""


def call_of(service_model: Any, operation: str, params: dict[str, Any]) -> Call:
    # The signing name is the IAM prefix (sesv2 signs as "ses", dynamodbstreams as "dynamodb").
    prefix = service_model.signing_name
    action = f"{prefix}:{operation}"
    return Call(_ACTION_OF.get(action, action), operation, _resource_of(prefix, params))


@dataclass
class Recorder:
    calls: dict[str, set[Call]]
    ran: set[str]

    def tagged(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            self.ran.add(name)
            token = _running.set(name)
            try:
                return function(*args, **kwargs)
            finally:
                _running.reset(token)

        return run


class _AsApiHandler:
    """``hub.client`` whose HTTP calls run as the API function (what the Chalice test client invokes)."""

    def __init__(self, client: Any, recorder: Recorder) -> None:
        self._http = client.http
        self._recorder = recorder

    @property
    def http(self) -> _AsApiHandler:
        return self

    def __getattr__(self, name: str) -> Any:
        return self._recorder.tagged(API_HANDLER_NAME, getattr(self._http, name))


@pytest.fixture
def isolated_app() -> Iterator[None]:
    """Leave no ``app`` module of the test stage behind: the session's CDK synth imports ``app`` anew."""
    module, stream_arn = sys.modules.get("app"), os.environ.get("OMNIHUB_TABLE_STREAM_ARN")
    yield
    if module is None:
        sys.modules.pop("app", None)
    else:
        sys.modules["app"] = module
    if stream_arn is None:
        os.environ.pop("OMNIHUB_TABLE_STREAM_ARN", None)  # tests/conftest.py's hub sets it outside monkeypatch
    else:
        os.environ["OMNIHUB_TABLE_STREAM_ARN"] = stream_arn


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from devstack.sandbox import sandbox_environment, start_sandbox

    server, url = start_sandbox(0)
    for key, value in sandbox_environment(url).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("OMNIHUB_META_PHONE_NUMBER_ID", "106540352242922")
    yield url
    server.shutdown()


@pytest.fixture
def recorded(
    isolated_app: None, hub: Hub, sandbox: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Hub, Recorder, Any]]:
    """The hub as on AWS (queue URLs from the prefix, some secrets only in Secrets Manager), recorded."""
    from aws_lambda_powertools.utilities import parameters
    from botocore.client import BaseClient

    from chalicelib.adapters import runtime

    some_url = next(iter(hub.provisioned.queue_urls.values()))
    monkeypatch.setenv("OMNIHUB_QUEUE_URL_PREFIX", some_url.rsplit("/", 1)[0] + "/")
    # The API keys and the Cloud API token come from Secrets Manager, as on AWS (the environment wins).
    secretsmanager = hub.session.client("secretsmanager")
    monkeypatch.delenv("OMNIHUB_API_KEYS")
    secretsmanager.create_secret(Name=secret_id(TEST_STAGE, "api"),
                                 SecretString=json.dumps({"OMNIHUB_API_KEYS": TEST_SECRETS["OMNIHUB_API_KEYS"]}))
    secretsmanager.create_secret(Name=secret_id(TEST_STAGE, "meta"),
                                 SecretString=json.dumps({"META_ACCESS_TOKEN": "test-meta-access"}))
    monkeypatch.delenv("META_ACCESS_TOKEN", raising=False)
    secretsmanager.create_secret(Name=secret_id(TEST_STAGE, ID_KEY_GROUP),
                                 SecretString=json.dumps({"OMNIHUB_ID_KEY": TEST_SECRETS["OMNIHUB_ID_KEY"]}))
    monkeypatch.delenv("OMNIHUB_ID_KEY")
    parameters.clear_caches()
    runtime.reset()
    hub.app_module._outbound_ports.cache_clear()

    recorder = Recorder(defaultdict(set), set())
    make_api_call = BaseClient._make_api_call

    # Patched on the class, not per client: Powertools and the SES sender build clients of their own.
    def recording(client: Any, operation: str, params: dict[str, Any]) -> Any:
        handler = _running.get()
        if handler is not None:
            recorder.calls[handler].add(call_of(client.meta.service_model, operation, params))
        return make_api_call(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    def own_secret_cache(function: Callable[..., Any]) -> Callable[..., Any]:
        # Each handler is its own Lambda function on AWS: it never finds a secret another one cached.
        def run(*args: Any, **kwargs: Any) -> Any:
            parameters.clear_caches()
            runtime.secrets().clear_cache()
            return function(*args, **kwargs)

        return run

    hub.pump._handlers = {name: recorder.tagged(name, own_secret_cache(fn)) for name, fn in hub.pump._handlers.items()}
    yield hub, recorder, _AsApiHandler(hub.client, recorder)
    parameters.clear_caches()


# ---------------------------------------------------------------- flows
def _sandbox_fail(sandbox: str, **rule: Any) -> None:
    body = json.dumps(rule).encode()
    urllib.request.urlopen(urllib.request.Request(f"{sandbox}/_sandbox/fail", data=body, method="POST"), timeout=5)


def _outbox(sandbox: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{sandbox}/_sandbox/outbox", timeout=5) as response:
        return list(json.loads(response.read()))


def _post(api: Any, request: Any) -> Any:
    response = api.http.post(request.path, body=request.body, headers=request.headers)
    assert response.status_code == 200, response.body
    return response


def _twilio(api: Any, path: str, params: list[tuple[str, str]]) -> Any:
    from chalicelib.providers.twilio import sign_twilio_request

    signature = sign_twilio_request(TEST_SECRETS["TWILIO_AUTH_TOKEN"], BASE + path, params)
    response = api.http.post(path, body=urlencode(params).encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})
    assert response.status_code == 200, response.body
    return response


def _sms(api: Any, phone: str, text: str) -> tuple[str, str]:
    """(the TwiML answered, the message's sid)."""
    sid = "SM" + uuid.uuid4().hex
    response = _twilio(api, "/webhooks/twilio/messaging", [
        ("MessageSid", sid), ("SmsSid", sid), ("AccountSid", TEST_SECRETS["TWILIO_ACCOUNT_SID"]),
        ("From", phone), ("To", "+15005550006"), ("Body", text), ("NumMedia", "0")])
    return response.body.decode(), sid


def _get(api: Any, path: str) -> Any:
    response = api.http.get(path, headers=SUPPORT)
    assert response.status_code == 200, (path, response.body)
    return json.loads(response.body)


def _conversation_of(api: Any, channel: str, address: str) -> dict[str, Any]:
    customer = _get(api, f"/customers/lookup?channel={channel}&address={address}")
    return _get(api, f"/conversations/{customer['conversation_ids'][-1]}")


def run_flows(hub: Hub, api: Any, sandbox: str) -> None:
    from devstack.simulators.meta import simulate_meta_message, simulate_meta_status

    pump = hub.pump
    # Generic channel: a new customer, a follow-up, a duplicate delivery, a body too large to keep inline.
    first = api_event(sender="wendy", text="hello", **{"from": {
        "id": "wendy", "name": "Wendy", "email": "Wendy@Example.com", "phone": "+393330001111", "language": "it"}})
    assert post_api(api, first).status_code == 200
    pump.drain()
    assert post_api(api, api_event(sender="wendy", text="still there?")).status_code == 200
    assert post_api(api, first).status_code == 200  # the same event again: nothing new
    large = api_event(sender="wendy", text="logs attached", attachments=[
        {"url": f"https://files.example.com/{i}", "name": "x" * 2000, "content_type": "text/plain"}
        for i in range(150)])
    assert len(json.dumps(large)) > 256 * 1024
    assert post_api(api, large).status_code == 200
    pump.drain()

    # WhatsApp Cloud: acknowledged through the outbound worker and the Cloud API (the sandbox).
    _post(api, simulate_meta_message(TEST_SECRETS, "393331234567", "Buongiorno", name="Maria"))
    pump.drain()
    [sent] = [e for e in _outbox(sandbox) if e["body"].get("to") == "393331234567"]
    wamid = sent["response"]["body"]["messages"][0]["id"]
    # Twilio SMS: a new phone gets its acknowledgment in the TwiML; the WhatsApp customer's phone is
    # found through its WhatsApp identity (open conversation: no second acknowledgment).
    assert "<Message>" in _sms(api, "+393401112233", "Buongiorno, il mio pacco?")[0]
    _, sid = _sms(api, "+393331234567", "Sono sempre io")
    pump.drain()

    # Delivery status callbacks: Meta's for the WhatsApp acknowledgment, Twilio's for an unknown message.
    _post(api, simulate_meta_status(TEST_SECRETS, wamid, "delivered", recipient="393331234567"))
    _twilio(api, "/webhooks/twilio/status", [
        ("MessageSid", sid), ("MessageStatus", "delivered"), ("AccountSid", TEST_SECRETS["TWILIO_ACCOUNT_SID"]),
        ("To", "+393331234567"), ("From", "+15005550006")])
    pump.drain()

    # A rate-limited send comes back and goes; a provider error releases the claim for the retry.
    _sandbox_fail(sandbox, provider="meta", preset="rate_limited", count=1, retry_after=1)
    _post(api, simulate_meta_message(TEST_SECRETS, "393331234572", "hello", name="Rita"))
    pump.drain(timeout=30)
    _sandbox_fail(sandbox, provider="meta", preset="server_error", count=1)
    _post(api, simulate_meta_message(TEST_SECRETS, "393331234573", "hello", name="Sara"))
    pump.drain(timeout=30)
    for phone in ("393331234572", "393331234573"):
        statuses = [e["response"]["status"] for e in _outbox(sandbox) if e["body"].get("to") == phone]
        assert statuses[-1] == 200 and len(statuses) == 2, (phone, statuses)

    # An agent replies (the same Idempotency-Key twice), then resolves; lookups and listings.
    conversation = _conversation_of(api, "whatsapp", "%2B393331234567")
    for _ in range(2):
        reply = api.http.post(f"/conversations/{conversation['id']}/messages", body=json.dumps({"text": "Eccomi"}),
                              headers={**SUPPORT, "Content-Type": "application/json", "Idempotency-Key": "k1"})
        assert reply.status_code == 202, reply.body
    pump.drain()
    resolved = api.http.post(f"/conversations/{conversation['id']}/resolve", headers=SUPPORT)
    assert resolved.status_code == 200, resolved.body
    _conversation_of(api, "webchat", "wendy")
    _conversation_of(api, "sms", "%2B393331234567")
    _get(api, "/conversations?status=open")
    _get(api, f"/conversations?customer_id={conversation['customer_id']}")
    _get(api, "/conversations?route=default")
    assert api.http.get("/customers/lookup?channel=sms&address=%2B15550000000", headers=SUPPORT).status_code == 404
    pump.drain()

    # The SLA sweep: the pump ran it on its first pass; once more now that there is data to sweep.
    pump._next_schedule = {name: 0.0 for name in pump._next_schedule}
    schedules = pump.stats.schedules
    pump.pump_once()
    assert pump.stats.schedules > schedules


# ---------------------------------------------------------------- what ACCESS allows
def _queue_names(specs: tuple[resources.QueueSpec, ...]) -> set[str]:
    return {resources.queue_name(TEST_STAGE, spec) for spec in specs}


def refusals(handler: str, access: FunctionAccess, calls: set[Call]) -> list[str]:
    """The calls of ``handler`` the role built from ``access`` would refuse (action or resource)."""
    allowed = allowed_actions(access)
    table = resources.table_name(TEST_STAGE)
    tables = {table, *(f"{table}/index/{index.name}" for index in resources.TABLE.indexes)}
    sent = _queue_names(access.sends_to)
    if access.failure_queue:
        sent.add(f"omnihub-{TEST_STAGE}-{access.failure_queue}-failures")
    consumed = _queue_names((access.consumes,)) if access.consumes else set()
    secrets = {secret_id(TEST_STAGE, g) for g in SECRET_GROUP_NAMES if g != ID_KEY_GROUP and access.reads_secrets}
    if access.reads_id_key:
        secrets.add(secret_id(TEST_STAGE, ID_KEY_GROUP))
    refused = []
    for call in sorted(calls, key=lambda c: (c.action, c.resource)):
        service, _ = call.action.split(":")
        if call.action not in allowed:
            refused.append(f"{handler}: {call.action} ({call.operation} on {call.resource!r}) is not granted")
            continue
        if service == "dynamodb":
            ok = call.resource in tables
        elif call.action == "sqs:SendMessage":
            ok = call.resource in sent
        elif service == "sqs":
            ok = call.resource in consumed
        elif service == "s3":
            ok = call.resource.startswith(f"{resources.bucket_name(TEST_STAGE)}/{RAW_PAYLOAD_PREFIX}")
        elif service == "secretsmanager":
            ok = call.resource in secrets
        else:
            ok = True  # SES: any verified identity of the account
        if not ok:
            refused.append(f"{handler}: {call.action} on {call.resource!r} is outside the granted resources")
    return refused


def test_grants_and_allowed_actions_agree() -> None:
    for access in ACCESS.values():
        assert allowed_actions(access) == {a for grant in grants(access) for a in grant.actions}


def test_every_aws_call_of_every_handler_is_allowed_by_its_role(recorded: tuple[Hub, Recorder, Any],
                                                                 sandbox: str) -> None:
    hub, recorder, api = recorded
    run_flows(hub, api, sandbox)
    # The only failed batches are the provider failures the sandbox was told to answer (retried, then sent).
    assert all("TransientSendError: meta:" in error for error in hub.pump.stats.errors), hub.pump.stats.errors
    assert recorder.ran == set(ACCESS), "every handler of ACCESS ran"
    assert set(recorder.calls) <= set(ACCESS)
    refused = [line for handler, calls in recorder.calls.items() for line in refusals(handler, ACCESS[handler], calls)]
    assert not refused, "\n".join(refused)

    # The flows reach the paths that matter (a claim released, a retry delayed, a secret read, a relay).
    used_by = {handler: {call.action for call in calls} for handler, calls in recorder.calls.items()}
    assert {"dynamodb:DeleteItem", "sqs:ChangeMessageVisibility", "secretsmanager:GetSecretValue"} <= used_by[
        str(resources.OUTBOUND_QUEUE.consumer)]
    assert "sqs:SendMessage" in used_by[resources.STREAM_CONSUMER]
    assert "sqs:SendMessage" in used_by[str(resources.INBOUND_QUEUE.consumer)]
    for reader in (resources.STREAM_CONSUMER, str(resources.INBOUND_QUEUE.consumer)):  # the id key
        assert "secretsmanager:GetSecretValue" in used_by[reader]

    # Least privilege for the API function: every action its role grants was used by the flows.
    api_access = ACCESS[API_HANDLER_NAME]
    granted = {a for grant in grants(api_access) if grant.scope not in _RUNTIME_SCOPES for a in grant.actions}
    used = {call.action for call in recorder.calls[API_HANDLER_NAME]}
    assert granted - used == set(), f"granted to {API_HANDLER_NAME} but never used"
    # Worth seeing when the roles change: ``pytest -s`` shows what each handler really called.
    for handler in sorted(ACCESS):
        print(f"\nAWS usage of {handler}:", sorted({c.action for c in recorder.calls.get(handler, set())}))
