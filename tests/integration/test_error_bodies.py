"""Error bodies through the app, on moto: a code from the table, our own words, never AWS's.

DynamoDB's messages may quote a request's values; they belong in the log. Each failure below is
raised by the real boto3 client of the running app, with a message no reason of ours contains.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from chalicelib.core.error_codes import ERROR_CODES
from tests.conftest import Hub
from tests.helpers import api_event, post_api

SUPPORT = {"x-api-key": "support-key"}
LEAK = "QX7-botocore-said-this"  # a text no reason of ours contains


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


def failing(err: Exception) -> Any:
    def call(**kwargs: Any) -> Any:
        raise err

    return call


@pytest.fixture
def aws_log(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What the adapters logged about AWS failures (the operator's side of the story)."""
    from chalicelib.adapters import aws_errors

    records: list[dict[str, Any]] = []
    for level in ("warning", "error"):
        monkeypatch.setattr(aws_errors.logger, level, lambda message, extra: records.append(extra))
    return records


def error_of(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.body
    body = response.body.decode() if isinstance(response.body, bytes) else response.body
    answer = json.loads(body)
    assert set(answer) == {"error", "reason"} and answer["error"] == code and code in ERROR_CODES
    for leaked in (LEAK, "ValidationException", "ProvisionedThroughput", "ClientError", "Could not connect"):
        assert leaked not in body
    return str(answer["reason"])


@pytest.mark.parametrize(("failure", "status", "code"), [
    (client_error("ValidationException", f"One or more parameter values were invalid: {LEAK}", "Query"),
     400, "bad_request"),
    (client_error("ProvisionedThroughputExceededException", f"Rate exceeded {LEAK}", "Query"), 503, "unavailable"),
    (EndpointConnectionError(endpoint_url=f"https://{LEAK}.example"), 503, "unavailable"),
])
def test_a_rest_error_from_dynamodb_carries_our_code_and_words_and_the_log_carries_aws(
    hub: Hub, monkeypatch: pytest.MonkeyPatch, aws_log: list[dict[str, Any]], failure: Exception, status: int,
    code: str,
) -> None:
    from chalicelib.adapters import runtime

    monkeypatch.setattr(runtime.aws_client("dynamodb"), "query", failing(failure))
    reason = error_of(hub.client.http.get("/conversations/c-1", headers=SUPPORT), status, code)
    if status >= 500:
        assert reason == ERROR_CODES[code].meaning
    assert any(LEAK in record["aws_error_message"] for record in aws_log)


@pytest.mark.parametrize(("message", "status", "code"), [
    (f"Item size has exceeded the maximum allowed size {LEAK}", 413, "payload_too_large"),
    (f"One or more parameter values were invalid: {LEAK}", 400, "bad_request"),
])
def test_a_webhook_refused_by_dynamodb_carries_our_code_and_words_and_stores_nothing(
    hub: Hub, monkeypatch: pytest.MonkeyPatch, aws_log: list[dict[str, Any]], message: str, status: int, code: str,
) -> None:
    from chalicelib.adapters import runtime

    monkeypatch.setattr(runtime.aws_client("dynamodb"), "put_item",
                        failing(client_error("ValidationException", message, "PutItem")))
    error_of(post_api(hub.client, api_event()), status, code)
    monkeypatch.undo()
    assert hub.table_items() == []


def test_rest_refusals_carry_codes_not_class_names(hub: Hub) -> None:
    lookup = "/customers/lookup?channel=webchat&address=x"
    assert error_of(hub.client.http.get(lookup), 401, "unauthorized") == "missing x-api-key header"
    error_of(hub.client.http.get(lookup, headers={"x-api-key": "nope"}), 401, "unauthorized")
    error_of(hub.client.http.get(lookup, headers={"x-api-key": "crisis-key"}), 403, "forbidden")
    error_of(hub.client.http.get(lookup, headers=SUPPORT), 404, "not_found")
    error_of(hub.client.http.get("/customers/lookup?channel=webchat", headers=SUPPORT), 400, "bad_request")
    error_of(hub.client.http.get("/conversations/c-404", headers=SUPPORT), 404, "not_found")
    error_of(hub.client.http.post("/conversations/c-404/messages", headers=SUPPORT, body=b"[1]"), 400, "bad_request")
