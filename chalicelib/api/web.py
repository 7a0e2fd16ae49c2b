"""Adapters between Chalice's request/response and the framework-free use cases."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from chalice import Response

from chalicelib.adapters.observability import logger
from chalicelib.core.error_codes import error_body, http_status, public_code
from chalicelib.core.errors import OmnihubError
from chalicelib.core.timestamps import utc_now
from chalicelib.providers import WebhookRequest, WebhookResponse
from chalicelib.providers.base import valid_unicode

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
WEBHOOK_CONTENT_TYPES = ["application/json", FORM, MULTIPART, "text/plain", "application/xml", "text/xml"]


def concrete_path(current_request: Any) -> str:
    """``/webhooks/telegram/{bot}`` with its parameters filled in: the path the provider called."""
    return current_request.path.format(**(current_request.uri_params or {}))


def query_pairs(query_params: Any) -> tuple[tuple[str, str], ...]:
    """Every (name, value) API Gateway decoded, every value of a repeated name, names in the order given."""
    if not query_params:
        return ()
    pairs: list[tuple[str, str]] = []
    for name in query_params:
        values = query_params.getlist(name) if hasattr(query_params, "getlist") else [query_params[name]]
        pairs += [(valid_unicode(name), valid_unicode(value)) for value in values]
    return tuple(pairs)


def public_query_string(query_params: Any) -> str:
    """The query string rebuilt from API Gateway's decoded parameters, percent-encoded with ``%20``.

    Only one of the ways the sender may have written it: a REST API passes no raw query string, so a
    provider that signs its URL tries the other encodings itself (see providers/twilio).
    """
    return urlencode(query_pairs(query_params), quote_via=quote)


def raw_query_string(current_request: Any) -> str | None:
    """The query string as the client sent it: only an HTTP API (payload 2.0) passes it on."""
    try:
        raw = current_request.to_original_event().get("rawQueryString")
    except (AttributeError, TypeError):
        return None
    return valid_unicode(raw) if isinstance(raw, str) else None


def webhook_request(current_request: Any, public_base_url: str) -> WebhookRequest:
    """The framework-free request; every header, query and path value is valid Unicode (a lone
    surrogate, which no store or response encoder accepts, becomes U+FFFD), the body stays raw bytes."""
    path = concrete_path(current_request)
    pairs = query_pairs(current_request.query_params)
    query_string = public_query_string(current_request.query_params)
    url = public_base_url + path + ("?" + query_string if query_string else "")
    return WebhookRequest(
        method=current_request.method,
        path=valid_unicode(path),
        headers={valid_unicode(k.lower()): valid_unicode(v) for k, v in (current_request.headers or {}).items()},
        body=current_request.raw_body or b"",
        query=dict(pairs),  # the last value of a repeated name, as Chalice's own mapping gives it
        path_params={k: valid_unicode(v) for k, v in (current_request.uri_params or {}).items()},
        public_url=valid_unicode(url),
        received_at=utc_now(),
        query_pairs=pairs,
        raw_query=raw_query_string(current_request),
    )


def chalice_response(response: WebhookResponse) -> Response:
    headers: dict[str, str | list[str]] = {"Content-Type": response.content_type, **response.headers}
    return Response(body=response.body, status_code=response.status, headers=headers)


def json_response(body: Any, status: int = 200) -> Response:
    return Response(body=json.dumps(body), status_code=status, headers={"Content-Type": "application/json"})


def error_json(err: OmnihubError) -> Response:
    """The REST answer for an error: ``{"error": <code>, "reason": ...}`` with the code's status from
    the one table (chalicelib/core/error_codes.py); never a class name, never a dependency's text."""
    code = public_code(err)
    status = http_status(code)
    if status >= 500:  # the body says only "retry later"; what failed is for the operator
        logger.error("request failed", extra={"error": code, "reason": err.reason})
    return Response(body=error_body(code, err.reason), status_code=status,
                    headers={"Content-Type": "application/json"})
