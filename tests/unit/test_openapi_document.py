"""``GET /openapi.json``: a valid OpenAPI 3.1 document that describes exactly the routes app.py serves.

A new route fails ``test_the_document_describes_exactly_the_routes`` until its path item is added to
chalicelib/api/openapi.json (a REST route, with its ``x-required-scope``) or to the provider registry
(a webhook, which the document lists from there).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.conftest import ROOT

OPENAPI_FILE = "chalicelib/api/openapi.json"


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    from chalicelib.api.openapi import openapi_document

    return openapi_document()


def app_routes() -> set[tuple[str, str]]:
    """(METHOD, path) of every route of the Chalice app, blueprints included."""
    import app

    return {(method, path) for path, methods in app.app.routes.items() for method in methods}


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    from openapi_spec_validator import OpenAPIV31SpecValidator

    assert document["openapi"].startswith("3.1.")
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in OpenAPIV31SpecValidator(document).iter_errors()]
    assert errors == []


def test_the_document_describes_exactly_the_routes(document: dict[str, Any]) -> None:
    from chalicelib.api.openapi import operations

    routes, described = app_routes(), set(operations(document))
    undocumented = sorted(routes - described)
    assert not undocumented, (
        f"routes missing from the OpenAPI document: {undocumented}. A REST route: add its path item to "
        f"{OPENAPI_FILE} (copy a neighbour's; set x-required-scope). A webhook: register it in "
        "chalicelib/providers/registry.py.")
    assert not sorted(described - routes), f"the document describes routes app.py does not serve: {described - routes}"


def test_every_rest_operation_names_its_scope_or_is_public(document: dict[str, Any]) -> None:
    from chalicelib.api.auth import SCOPES
    from chalicelib.api.openapi import SCOPE_EXTENSION, WEBHOOK_TAG, operations

    public = set()
    for (method, path), operation in operations(document).items():
        assert operation["operationId"] and operation["responses"], (method, path)
        if WEBHOOK_TAG in operation["tags"]:
            assert operation["security"] == [] and path.startswith("/webhooks/")
            continue
        scope = operation.get(SCOPE_EXTENSION)
        if scope is None:
            assert operation["security"] == [], (method, path)
            public.add(path)
            continue
        assert scope in SCOPES, (method, path, scope)
        assert operation["security"] == [{"apiKey": []}], (method, path)
        assert f"`{scope}` scope" in operation["description"], (method, path)
        assert {"401", "403"} <= set(operation["responses"]), (method, path)
    assert public == {"/health", "/openapi.json", "/console", "/console/{asset}"}


def test_the_documented_scope_is_the_one_the_route_demands(document: dict[str, Any]) -> None:
    """The source says which scope each view authorizes; the document must say the same."""
    import app
    from chalicelib.api.openapi import SCOPE_EXTENSION, operations
    from tests.fuzz.test_fuzz_rest import route_scopes

    demanded = route_scopes()
    by_route = {(method, path): entry.view_name for path, methods in app.app.routes.items()
                for method, entry in methods.items()}
    for key, operation in operations(document).items():
        if key[1].startswith("/webhooks/"):
            continue
        assert operation.get(SCOPE_EXTENSION) == demanded.get(by_route[key]), key


def test_path_parameters_are_declared(document: dict[str, Any]) -> None:
    from chalicelib.api.openapi import operations

    for (method, path), operation in operations(document).items():
        declared = set()
        for parameter in operation.get("parameters", []):
            if "$ref" in parameter:
                parameter = document["components"]["parameters"][parameter["$ref"].rsplit("/", 1)[1]]
            if parameter["in"] == "path":
                declared.add(parameter["name"])
        assert declared == set(re.findall(r"\{(\w+)\}", path)), (method, path)


def test_error_responses_are_the_error_table(document: dict[str, Any]) -> None:
    from chalicelib.core.error_codes import ERROR_TABLE

    responses = document["components"]["responses"]
    for entry in ERROR_TABLE:
        schema = responses[f"Error{entry.status}"]["content"]["application/json"]["schema"]
        assert entry.code in schema["properties"]["error"]["enum"]
    assert set(document["components"]["schemas"]["Error"]["properties"]["error"]["enum"]) == {
        entry.code for entry in ERROR_TABLE}


def test_copied_schemas_match_their_source(document: dict[str, Any]) -> None:
    """schemas/ is not in the Lambda package, so the document carries copies; they must not drift."""
    copied = {name: schema for name, schema in document["components"]["schemas"].items() if "x-source" in schema}
    assert {"sla", "routing", "timestamp", "channel", "figures"} <= set(copied)
    for name, schema in copied.items():
        file, _, pointer = schema["x-source"].partition("#")
        source = json.loads((ROOT / file).read_text())
        for part in pointer.strip("/").split("/"):
            source = source[part]
        expected = json.loads(json.dumps(source).replace('"#/$defs/', '"#/components/schemas/'))
        assert {k: v for k, v in schema.items() if k != "x-source"} == expected, name


def test_the_webhooks_are_the_registry(document: dict[str, Any]) -> None:
    from chalicelib.providers.registry import REGISTRY

    for entry in REGISTRY:
        for endpoint in entry.webhooks:
            for method in endpoint.methods:
                authentication = document["paths"][endpoint.path][method.lower()]["x-authentication"]
                assert authentication["provider"] == entry.name
                assert authentication["secrets"] == list(entry.verify_secrets)
