"""The error vocabulary: one tree of errors, one table of codes, the README that documents them.

A code is part of the API: these tests fail when one is renamed, re-numbered, left out of the
README, or when an error class appears outside the tree.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import importlib
import inspect
import json
import pkgutil
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest

import chalicelib
from chalicelib.core.error_codes import (
    ERROR_CODES,
    ERROR_TABLE,
    code_for_status,
    error_body,
    http_status,
    public_code,
)
from chalicelib.core.errors import (
    BadRequest,
    OmnihubError,
    PermanentError,
    RetryableError,
    StoreUnavailable,
    Unauthorized,
)
from chalicelib.core.model import InboundEvent
from chalicelib.ingest import webhook
from chalicelib.ingest.webhook import error_response, ingest_webhook
from chalicelib.providers import ENDPOINTS, ChannelSpec, WebhookRequest, channel_spec

ROOT = Path(__file__).resolve().parents[2]
SNAKE_CASE = re.compile(r"^[a-z]+(_[a-z]+)*$")

# The API's contract: changing a line here is changing what integrators see.
PINNED_STATUSES = {
    "bad_request": 400,
    "invalid_json": 400,
    "invalid_cursor": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "not_acceptable": 406,
    "conflict": 409,
    "payload_too_large": 413,
    "idempotency_key_reused": 422,
    "send_refused": 422,
    "window_closed": 422,
    "opted_out": 422,
    "sender_not_configured": 422,
    "unavailable": 503,
    "misconfigured": 503,
}


def chalicelib_exception_classes() -> Iterator[type[BaseException]]:
    """Every exception class defined anywhere in the chalicelib package."""
    for module_info in pkgutil.walk_packages(chalicelib.__path__, "chalicelib."):
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                yield value


ERROR_CLASSES = sorted(set(chalicelib_exception_classes()), key=lambda cls: f"{cls.__module__}.{cls.__name__}")


# ------------------------------------------------------------------ the table
def test_every_code_is_snake_case_unique_and_has_its_pinned_status() -> None:
    codes = [entry.code for entry in ERROR_TABLE]
    assert len(codes) == len(set(codes)) == len(ERROR_CODES)
    assert all(SNAKE_CASE.match(code) for code in codes), codes
    assert {code: http_status(code) for code in codes} == PINNED_STATUSES


def test_every_meaning_is_a_sentence_of_our_own() -> None:
    for entry in ERROR_TABLE:
        assert entry.meaning and entry.meaning[0].islower() and not entry.meaning.endswith(".")
        assert 400 <= entry.status < 600


def readme_error_table() -> dict[str, tuple[int, str]]:
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Error codes\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z_]+)` \| (\d{3}) \| ([^|]+) \|", section, flags=re.MULTILINE)
    return {code: (int(status), meaning.strip()) for code, status, meaning in rows}


def test_the_readme_documents_exactly_the_table() -> None:
    assert readme_error_table() == {entry.code: (entry.status, entry.meaning) for entry in ERROR_TABLE}


def test_the_readme_webhook_answers_use_the_codes_with_their_status() -> None:
    text = (ROOT / "README.md").read_text()
    documented = re.findall(r'\| (\d{3}) `\{"error": "([a-z_]+)"', text)
    assert documented, "the generic channel's answers are documented"
    for status, code in documented:
        assert http_status(code) == int(status), code


def test_a_status_that_a_provider_dictates_has_a_code_that_says_it() -> None:
    for status in (400, 401, 403, 404, 406, 409, 413, 503):
        assert http_status(code_for_status(status)) == status
    for endpoint in ENDPOINTS:
        assert http_status(code_for_status(channel_spec(endpoint).forged_status)) == channel_spec(
            endpoint
        ).forged_status


# ------------------------------------------------------------------ the tree
def test_the_walk_finds_the_errors_of_every_room() -> None:
    names = {cls.__name__ for cls in ERROR_CLASSES}
    assert {"ModelError", "CalendarError", "AckConfigError", "PermanentSendError", "SignatureError",
            "PayloadError", "PublishFailed", "StoreUnavailable", "ConfigError"} <= names


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_every_error_class_is_in_the_tree_with_a_code_from_the_table(cls: type[BaseException]) -> None:
    assert issubclass(cls, OmnihubError)
    assert cls is OmnihubError or issubclass(cls, PermanentError | RetryableError)
    assert cls.code in ERROR_CODES
    # HTTP is the table's business: no error class carries a status of its own.
    assert not hasattr(cls, "status")


@pytest.mark.parametrize("cls", [c for c in ERROR_CLASSES if issubclass(c, RetryableError)], ids=lambda c: c.__name__)
def test_a_retryable_error_answers_5xx(cls: type[RetryableError]) -> None:
    assert http_status(cls.code) >= 500


def test_a_code_can_be_given_to_one_instance_and_an_unknown_one_falls_back_to_its_family() -> None:
    assert BadRequest("x", code="invalid_cursor").code == "invalid_cursor"
    assert BadRequest("x").code == "bad_request"
    assert public_code(BadRequest("x", code="no_such_code")) == "bad_request"
    assert public_code(StoreUnavailable("x", code="no_such_code")) == "unavailable"


def test_value_errors_stay_value_errors() -> None:
    """Callers that catch ValueError around the model and the configuration still catch them."""
    from chalicelib.acknowledgments import AckConfigError
    from chalicelib.core.calendar import CalendarError
    from chalicelib.core.model import ModelError

    for cls in (ModelError, CalendarError, AckConfigError):
        assert issubclass(cls, ValueError) and issubclass(cls, PermanentError)


def test_send_errors_keep_the_provider_code_apart_from_theirs() -> None:
    from chalicelib.outbound import PermanentSendError, TransientSendError, WindowClosed

    refused = PermanentSendError("invalid To", provider="twilio", error_code="21211")
    assert (refused.code, refused.error_code, refused.recorded_code) == ("send_refused", "21211", "21211")
    assert WindowClosed("closed").recorded_code == "window_closed"
    assert TransientSendError("busy", error_code="20429").code == "unavailable"


# ------------------------------------------------------------------ bodies
def test_a_5xx_body_says_only_what_the_table_says() -> None:
    assert json.loads(error_body("unavailable", "DynamoDB put_item failed: Throttling")) == {
        "error": "unavailable", "reason": ERROR_CODES["unavailable"].meaning}
    assert json.loads(error_body("not_found", "no conversation c-1")) == {
        "error": "not_found", "reason": "no conversation c-1"}


def test_a_webhook_error_response_has_the_status_of_its_code() -> None:
    for code in ERROR_CODES:
        response = error_response(code, "why")
        assert response.status == http_status(code) and json.loads(response.body)["error"] == code


class RecordingStore:
    """An inbox that records writes; it must stay empty for every refused request."""

    def __init__(self) -> None:
        self.written: list[InboundEvent] = []

    def put(self, event: InboundEvent, **kwargs: Any) -> bool:
        self.written.append(event)
        return True

    def needs_payload_pointer(self, raw_body: bytes, events: list[InboundEvent]) -> bool:
        return False

    def archive_payload(self, provider: str, received_at: str, raw_body: bytes) -> str:
        raise AssertionError("nothing to archive")


SECRETS = {
    "OMNIHUB_API_SIGNING_SECRET": "api-secret",
    "META_APP_SECRET": "meta-secret",
    "META_VERIFY_TOKEN": "meta-verify",
    "TELEGRAM_SECRET_TOKEN": "telegram-secret",
    "LINE_CHANNEL_SECRET": "line-secret",
    "VIBER_AUTH_TOKEN": "viber-token",
    "VONAGE_SIGNATURE_SECRET": "vonage-signature-secret-of-32-bytes",
    "TWILIO_AUTH_TOKEN": "twilio-token",
}


class Secrets:
    def get_many(self, names: tuple[str, ...]) -> dict[str, str]:
        return {name: SECRETS[name] for name in names if name in SECRETS}


def _hmac(secret: str, body: bytes) -> bytes:
    return hmac.new(secret.encode(), body, hashlib.sha256).digest()


def signed(endpoint: str, body: bytes, now: int) -> WebhookRequest:
    """A request signed the way each provider signs, computed here from the providers' documentation."""
    path = {"telegram": "/webhooks/telegram/support_bot", "vonage_messages": "/webhooks/vonage/messages"}.get(
        endpoint, f"/webhooks/{endpoint}")
    headers = {"content-type": "application/json"}
    if endpoint == "api":
        digest = _hmac(SECRETS["OMNIHUB_API_SIGNING_SECRET"], f"{now}.".encode() + body).hex()
        headers |= {"x-omnihub-timestamp": str(now), "x-omnihub-signature": f"v1={digest}"}
    elif endpoint == "meta":
        headers["x-hub-signature-256"] = "sha256=" + _hmac(SECRETS["META_APP_SECRET"], body).hex()
    elif endpoint == "telegram":
        headers["x-telegram-bot-api-secret-token"] = SECRETS["TELEGRAM_SECRET_TOKEN"]
    elif endpoint == "line":
        headers["x-line-signature"] = base64.b64encode(_hmac(SECRETS["LINE_CHANNEL_SECRET"], body)).decode()
    elif endpoint == "viber":
        headers["x-viber-content-signature"] = _hmac(SECRETS["VIBER_AUTH_TOKEN"], body).hex()
    elif endpoint == "vonage_messages":
        claims = {"iat": now, "jti": "j-1", "payload_hash": hashlib.sha256(body).hexdigest()}
        headers["authorization"] = "Bearer " + jwt.encode(claims, SECRETS["VONAGE_SIGNATURE_SECRET"], "HS256")
    return WebhookRequest(method="POST", path=path, headers=headers, body=body,
                          path_params={"bot": "support_bot"} if endpoint == "telegram" else {},
                          public_url="https://hub.example.com" + path, received_at="2026-11-22T20:08:29.000Z")


JSON_ENDPOINTS = ("api", "meta", "telegram", "line", "viber", "vonage_messages")
CLASS_NAME = re.compile(r"[A-Za-z]*(?:Error|Exception)\b")


def assert_an_error_body(body: str | bytes, code: str) -> dict[str, Any]:
    answer = json.loads(body)
    assert set(answer) == {"error", "reason"} and answer["error"] == code
    assert not CLASS_NAME.search(answer["reason"]), answer["reason"]
    return answer


@pytest.mark.parametrize("endpoint", JSON_ENDPOINTS)
@pytest.mark.parametrize("body", [b"{not json", b"{\"a\": \"\xc3\x28\"}", b"[" * 100_000, b"1" * 5000])
def test_a_signed_body_that_is_not_json_is_invalid_json_and_stores_nothing(endpoint: str, body: bytes) -> None:
    now = int(time.time())
    store = RecordingStore()
    result = ingest_webhook(endpoint, signed(endpoint, body, now), inbox=store, secrets=Secrets(), now=now)
    assert result.response.status == 400
    assert_an_error_body(result.response.body, "invalid_json")
    assert store.written == []


@pytest.mark.parametrize(("endpoint", "status", "code"), [
    ("api", 401, "unauthorized"), ("vonage_messages", 401, "unauthorized"), ("twilio_messaging", 403, "forbidden"),
])
def test_a_forged_request_carries_the_code_of_the_status_its_provider_expects(
    endpoint: str, status: int, code: str
) -> None:
    request = WebhookRequest(method="POST", path="/webhooks/x", headers={"content-type": "application/json"},
                             body=b"{}", public_url="https://hub.example.com/webhooks/x")
    result = ingest_webhook(endpoint, request, inbox=RecordingStore(), secrets=Secrets(), now=time.time())
    assert result.response.status == status
    assert_an_error_body(result.response.body, code)


@pytest.mark.parametrize(("query", "status", "code"), [
    ({"hub.mode": "subscribe", "hub.challenge": "c", "hub.verify_token": "wrong"}, 403, "forbidden"),
    ({"hub.mode": "subscribe"}, 400, "bad_request"),
])
def test_a_refused_handshake_answers_an_error_body_too(query: dict[str, str], status: int, code: str) -> None:
    request = WebhookRequest(method="GET", path="/webhooks/meta", headers={}, body=b"", query=query)
    result = ingest_webhook("meta", request, inbox=RecordingStore(), secrets=Secrets(), now=time.time())
    assert result.response.status == status
    assert_an_error_body(result.response.body, code)


def test_a_parser_fault_names_neither_the_value_nor_the_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_parser(request: WebhookRequest) -> list[InboundEvent]:
        raise KeyError("+393331234567")

    spec = ChannelSpec(provider="api", secret_names=(), verify=lambda *args: None, parse=broken_parser)
    monkeypatch.setattr(webhook, "channel_spec", lambda endpoint: spec)
    result = ingest_webhook("api", signed("api", b"{}", 0), inbox=RecordingStore(), secrets=Secrets(), now=0)
    answer = assert_an_error_body(result.response.body, "bad_request")
    assert "KeyError" not in answer["reason"] and "+39" not in answer["reason"]


@pytest.mark.parametrize(("failure", "status", "code"), [
    (StoreUnavailable("DynamoDB put_item failed: ProvisionedThroughputExceededException"), 503, "unavailable"),
    (BadRequest("the store refused the request's values"), 400, "bad_request"),
])
def test_a_store_failure_answers_its_code(failure: OmnihubError, status: int, code: str) -> None:
    class FailingStore(RecordingStore):
        def put(self, event: InboundEvent, **kwargs: Any) -> bool:
            raise failure

    now = int(time.time())
    body = json.dumps({"event_id": "e-1", "type": "message", "from": {"id": "u-1"}, "text": "hi"}).encode()
    result = ingest_webhook("api", signed("api", body, now), inbox=FailingStore(), secrets=Secrets(), now=now)
    assert result.response.status == status
    answer = assert_an_error_body(result.response.body, code)
    assert "Provisioned" not in answer["reason"]


def test_unauthorized_is_a_permanent_error_with_its_code() -> None:
    err = Unauthorized("missing x-api-key header")
    assert isinstance(err, PermanentError) and public_code(err) == "unauthorized" and err.reason == str(err)
