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

FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
WEBHOOK_CONTENT_TYPES = ["application/json", FORM, MULTIPART, "text/plain", "application/xml", "text/xml"]


def concrete_path(current_request: Any) -> str:
    """``/webhooks/telegram/{bot}`` with its parameters filled in: the path the provider called."""
    return current_request.path.format(**(current_request.uri_params or {}))


def public_query_string(query_params: Any) -> str:
    """The query string as the provider sent it, as far as API Gateway lets us see it: every value
    of a repeated name, percent-encoded with ``%20`` (Twilio signs the URL it called)."""
    if not query_params:
        return ""
    pairs = []
    for name in query_params:
        values = query_params.getlist(name) if hasattr(query_params, "getlist") else [query_params[name]]
        pairs += [(name, value) for value in values]
    return urlencode(pairs, quote_via=quote)


def webhook_request(current_request: Any, public_base_url: str) -> WebhookRequest:
    path = concrete_path(current_request)
    query = dict(current_request.query_params or {})
    query_string = public_query_string(current_request.query_params)
    url = public_base_url + path + ("?" + query_string if query_string else "")
    return WebhookRequest(
        method=current_request.method,
        path=path,
        headers={k.lower(): v for k, v in (current_request.headers or {}).items()},
        body=current_request.raw_body or b"",
        query=query,
        path_params=dict(current_request.uri_params or {}),
        public_url=url,
        received_at=utc_now(),
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
