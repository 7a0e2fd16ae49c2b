"""schemathesis against the local stack (`make run` on free ports), driven by ``GET /openapi.json``.

Every REST operation of the document gets a few generated requests (valid and invalid parameters and
bodies) with a key of exactly the scope it names: no 5xx, every status and body as documented
(schemathesis's checks). Then every keyed operation is called with no key, a wrong key and a key of
each other scope: 401 or 403, nothing else. The provider webhooks (tag ``provider-webhooks``) are left to
the in-process fuzz (tests/fuzz/), which signs requests as each provider does.

Bounded: ``EXAMPLES`` per operation (about 15 s for the whole module on a busy 2-core machine, a third of
it its own stack's start); ``SCHEMATHESIS_EXAMPLES`` raises it for a longer local run.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.e2e

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "5"))
WEBHOOK_TAG = "provider-webhooks"
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.ignored_auth]


def stack_keys(stack: LocalStack) -> dict[str, str]:
    """scope → the key `make run` gives that scope alone (from OMNIHUB_API_KEYS, name:key:scopes)."""
    keys = {}
    for entry in stack.secrets()["OMNIHUB_API_KEYS"].split(","):
        _, key, scopes = entry.split(":")
        if "+" not in scopes:
            keys[scopes] = key
    assert set(keys) == {"support", "crisis", "admin"}
    return keys


def fetch_document(stack: LocalStack) -> dict[str, Any]:
    with urllib.request.urlopen(stack.api_url + "/openapi.json", timeout=30) as response:  # no key: public
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("application/json")
        return dict(json.loads(response.read()))


SEED_ADDRESS = "openapi-seed"
ERASABLE_ADDRESS = "openapi-erasable"  # DELETE /customers/{customer_id} erases this one, not the seed


def rest_operations() -> list[tuple[str, str, tuple[str, ...]]]:
    """(METHOD, path, modes) of every REST operation of the document (the stack's is checked equal).

    Modes: ``positive`` always; ``negative`` for an operation with a body or a query (a path parameter is
    any string: nothing is invalid); ``seeded`` for one that names a resource, with the ids of real ones
    (generated ids find nothing: the 2xx answers, and their schemas, are reached only this way).
    """
    from chalicelib.api.openapi import openapi_document, operations

    found = []
    for (method, path), operation in sorted(operations(openapi_document()).items()):
        if WEBHOOK_TAG in operation["tags"]:
            continue
        negatable = "requestBody" in operation or any(p.get("in") == "query" for p in operation.get("parameters", []))
        seeded = ("{" in path and not path.startswith("/console")) or path == "/customers/lookup"
        found.append((method, path, ("positive", *(("negative",) if negatable else ()),
                                     *(("seeded",) if seeded else ()))))
    return found


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    """A stack of its own: generated requests open crisis incidents (with keywords that tag other messages,
    broadcasting to every customer), which must not reach the shared stack of the other e2e modules."""
    from devstack.launcher import running_local_stack

    with running_local_stack() as urls:
        yield LocalStack(urls.api_url, urls.aws_url, urls.sandbox_url, urls.env)


@pytest.fixture(scope="module")
def api_schema(local_stack: LocalStack) -> Any:
    from chalicelib.api.openapi import openapi_document

    document = fetch_document(local_stack)
    assert document == json.loads(json.dumps(openapi_document()))  # what the stack serves is this checkout's
    return schemathesis.openapi.from_dict(document)


@pytest.fixture(scope="module")
def seeds(local_stack: LocalStack) -> dict[str, str]:
    """A conversation (a web chat message), its customer and a crisis incident, as path parameters."""
    from devstack.simulators.api import simulate_api_webhook
    from devstack.simulators.base import send

    keys = stack_keys(local_stack)
    status = send(local_stack.api_url, simulate_api_webhook(local_stack.secrets(), SEED_ADDRESS, "hello")).status
    assert status == 200
    conversation = local_stack.wait_for_conversation("webchat", SEED_ADDRESS)
    status = send(local_stack.api_url, simulate_api_webhook(local_stack.secrets(), ERASABLE_ADDRESS, "erase me")).status
    assert status == 200
    erasable = local_stack.wait_for_conversation("webchat", ERASABLE_ADDRESS)
    status, incident = local_stack.post("/crisis/incidents", {
        "title": "Seed incident", "status": "investigating", "message": {"en": "We are looking into it."},
        "audience": {"customer_ids": [conversation["customer_id"]]}}, key=keys["crisis"])
    assert status == 201, incident
    return {"conversation_id": conversation["id"], "customer_id": conversation["customer_id"],
            "incident_id": incident["id"], "erasable_customer_id": erasable["customer_id"]}


@pytest.mark.parametrize(("method", "path", "mode"), [
    (method, path, mode) for method, path, modes in rest_operations() for mode in modes])
def test_every_operation_keeps_its_documented_contract(
    api_schema: Any, local_stack: LocalStack, seeds: dict[str, str], method: str, path: str, mode: str
) -> None:
    operation = api_schema[path][method]
    scope = operation.definition.raw.get("x-required-scope")
    headers = {"x-api-key": stack_keys(local_stack)[scope]} if scope else {}
    fixed: dict[str, Any] = {}
    if mode == "seeded":
        fixed["path_parameters"] = {name: value for name, value in seeds.items() if "{" + name + "}" in path}
        if method == "DELETE" and "{customer_id}" in path:
            fixed["path_parameters"]["customer_id"] = seeds["erasable_customer_id"]
        if path == "/customers/lookup":
            fixed["query"] = {"channel": "webchat", "address": SEED_ADDRESS}
    generation = GenerationMode.NEGATIVE if mode == "negative" else GenerationMode.POSITIVE
    statuses: list[int] = []

    @given(case=operation.as_strategy(generation_mode=generation, **fixed))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: Any) -> None:
        response = case.call_and_validate(base_url=local_stack.api_url, headers=headers, checks=CHECKS)
        statuses.append(response.status_code)

    run()
    if mode == "seeded" and method in ("GET", "DELETE"):  # a real resource is found: its 200 body was checked
        assert 200 in statuses, statuses


def _call(stack: LocalStack, method: str, path: str, key: str | None) -> tuple[int, Any]:
    concrete = re.sub(r"\{\w+\}", "x", path)
    headers = {"Content-Type": "application/json"} | ({"x-api-key": key} if key is not None else {})
    body = b"{}" if method in ("POST", "PATCH", "PUT") else None
    request = urllib.request.Request(stack.api_url + concrete, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_no_operation_is_reachable_without_a_key_of_its_scope(local_stack: LocalStack) -> None:
    document = fetch_document(local_stack)
    keys = stack_keys(local_stack)
    checked = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            scope = operation.get("x-required-scope")
            if scope is None:
                assert operation["security"] == [], (method, path)
                continue
            others = [key for other, key in keys.items() if other not in (scope, "admin")]
            for key, expected in [(None, 401), ("", 401), (keys[scope] + "x", 401), ("dev-nobody", 401),
                                  *((other, 403) for other in others)]:
                status, body = _call(local_stack, method.upper(), path, key)
                assert status == expected, (method, path, key, status, body)
                assert body["error"] == ("unauthorized" if expected == 401 else "forbidden"), body
                checked += 1
    assert checked >= 18 * 4
