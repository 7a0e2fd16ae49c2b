"""``GET /openapi.json``: the REST API as OpenAPI 3.1, from the data that already says it.

The REST operations are data in ``openapi.json`` beside this module (hand-written; a new REST route is
one more path item there, with its ``x-required-scope``). The rest is a view of what other modules hold,
so it can never drift from them:

- the error responses ``#/components/responses/Error<status>``, one per status of the error table
  (chalicelib/core/error_codes.py), each naming the codes that status carries;
- the 401/403/503 answers of every operation that needs a key (added once here, not on each operation);
- the provider webhooks (tag ``provider-webhooks``), one path item per endpoint of the provider registry:
  authenticated by the provider's own signature, never by an API key, so ``security`` is empty and
  ``x-authentication`` names the secrets that check them.

The components ``timestamp``, ``channel``, ``sla``, ``routing``, ``day``, ``percentiles`` and ``figures``
are copies of the queue envelopes' JSON Schemas (schemas/ is not in the Lambda package); each says
where it comes from in ``x-source`` and a test fails when it differs from its source.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.core.error_codes import ERROR_TABLE

DOCUMENT = Path(__file__).resolve().with_name("openapi.json")
SCOPE_EXTENSION = "x-required-scope"
WEBHOOK_TAG = "provider-webhooks"
# What every operation that needs a key may also answer, whatever its use case does.
KEYED_ERRORS = (401, 403, 503)
# What a webhook may answer besides its provider's 2xx: malformed, forged (each provider's "stop
# retrying" status: 401, 403 or 406), too large, or the durable write failed (the provider retries).
WEBHOOK_ERRORS = (400, 401, 403, 404, 406, 413, 503)
_PATH_PARAMETER = re.compile(r"\{(\w+)\}")


@cache
def openapi_document() -> dict[str, Any]:
    """The whole document, built once per process and shared: callers must not change it."""
    document: dict[str, Any] = json.loads(DOCUMENT.read_text(encoding="utf-8"))
    components = document["components"]
    components["schemas"]["Error"] = _error_schema(sorted({entry.code for entry in ERROR_TABLE}))
    components["responses"] = _error_responses()
    for path_item in document["paths"].values():
        for operation in path_item.values():
            if SCOPE_EXTENSION in operation:
                for status in KEYED_ERRORS:
                    operation["responses"].setdefault(str(status), {"$ref": f"#/components/responses/Error{status}"})
    document["paths"].update(webhook_paths())
    document["tags"].append({"name": WEBHOOK_TAG, "description": (
        "Provider webhooks: each verified by its provider's own signature (see x-authentication), answered as "
        "that provider expects (JSON, TwiML, NCCO, an empty 200). Not for API clients; documented so the "
        "surface is complete.")})
    return document


def openapi_json() -> str:
    return json.dumps(openapi_document(), ensure_ascii=False)


def operations(document: dict[str, Any] | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """(METHOD, path) → operation, every operation of the document."""
    found = document or openapi_document()
    return {(method.upper(), path): operation for path, item in found["paths"].items()
            for method, operation in item.items() if method in _METHODS}


_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch", "trace"})


def _error_schema(codes: list[str]) -> dict[str, Any]:
    return {"type": "object", "required": ["error", "reason"], "additionalProperties": False,
            "description": "Every error answer: a code of the error table and our own words about the request "
                           "(a 5xx says only the table's meaning).",
            "properties": {"error": {"enum": codes}, "reason": {"type": "string"}}}


def _error_responses() -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status in sorted({entry.status for entry in ERROR_TABLE}):
        entries = [entry for entry in ERROR_TABLE if entry.status == status]
        meanings = "; ".join(f"`{entry.code}`: {entry.meaning}" for entry in entries)
        schema = _error_schema([entry.code for entry in entries])
        responses[f"Error{status}"] = {"description": meanings, "content": {"application/json": {"schema": schema}}}
    return responses


def webhook_paths() -> dict[str, Any]:
    """One path item per webhook endpoint of the provider registry."""
    from chalicelib.providers.registry import REGISTRY

    paths: dict[str, Any] = {}
    for entry in REGISTRY:
        for endpoint in entry.webhooks:
            item = paths.setdefault(endpoint.path, {})
            for method in endpoint.methods:
                item[method.lower()] = _webhook_operation(entry.name, entry.verify_secrets, endpoint, method)
    return paths


def _webhook_operation(provider: str, secrets: tuple[str, ...], endpoint: Any, method: str) -> dict[str, Any]:
    answer = ("what the caller hears (TwiML or NCCO)" if endpoint.answers_call else
              "accepted (stored, or a duplicate); the body may carry the customer's acknowledgment"
              if endpoint.instant_ack else "accepted (stored, or a duplicate), or a handshake's answer")
    operation: dict[str, Any] = {
        "operationId": f"webhook_{endpoint.name}_{method.lower()}",
        "summary": f"{provider} webhook ({endpoint.name})",
        "tags": [WEBHOOK_TAG],
        "security": [],
        # secrets: the settings that verify it (none: a certificate-signed message, e.g. SNS's).
        "x-authentication": {"provider": provider, "secrets": list(secrets),
                             "refused": "a request its provider did not sign: 401, 403 or 406 as the provider "
                                        "expects, nothing stored"},
        "responses": {"200": {"description": answer},
                      **{str(status): {"$ref": f"#/components/responses/Error{status}"} for status in WEBHOOK_ERRORS}},
    }
    parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
                  for name in _PATH_PARAMETER.findall(endpoint.path)]
    if parameters:
        operation["parameters"] = parameters
    if method != "GET":
        operation["requestBody"] = {"required": True, "description": "the provider's payload, exactly as it signs it",
                                    "content": {"*/*": {"schema": {}}}}
    return operation


__all__ = ["openapi_document", "openapi_json", "operations", "webhook_paths"]
