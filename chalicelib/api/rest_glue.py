"""What every REST route does around its use case: the API key's scope, the JSON body, the answer.

Shared by app.py's routes and the blueprints (chalicelib/api/care_routes.py); each takes the request
its route was called with.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalice.app import Request

from chalicelib.adapters import runtime
from chalicelib.api.auth import SETTING as API_KEYS_SETTING
from chalicelib.api.auth import ApiKey, api_keys_from_setting, authorize
from chalicelib.api.web import error_json, json_response
from chalicelib.core.errors import PermanentError, RetryableError


def api_keys() -> tuple[ApiKey, ...]:
    return api_keys_from_setting(runtime.secrets().get(API_KEYS_SETTING))


def authorized(request: Request, scope: str) -> ApiKey:
    return authorize(api_keys(), request.headers.get("x-api-key"), scope)


def answer(request: Request, scope: str, run: Callable[[ApiKey], Any], *, status: int = 200) -> Any:
    """Authorize the request's key for ``scope``, run ``run(key)``, answer its JSON (a ``(body, status)``
    answer sets the status) or the refusal's: the one place a REST route meets the API key and errors."""
    try:
        result = run(authorized(request, scope))
        body, status = result if isinstance(result, tuple) else (result, status)
        return json_response(body, status)
    except (PermanentError, RetryableError) as err:
        return error_json(err)


def rest(request: Request, scope: str, use_case: Any, *args: Any, status: int = 200, **kwargs: Any) -> Any:
    """Authorize, run ``use_case(repositories, ...)``, answer its JSON (or the refusal's)."""
    return answer(request, scope, lambda _key: use_case(runtime.repositories(), *args, **kwargs), status=status)


def json_body(request: Request) -> Any:
    """The parsed body, or None for one that is not JSON (the use case refuses it with 400).

    ``json.loads`` accepts a lone UTF-16 surrogate (``"\\ud83d"``, or raw CESU-8 bytes): text that no
    store, hash or response encoder takes, so such a body counts as no JSON at all, for every route.
    """
    try:
        document = request.json_body
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except Exception:  # BadRequestError (malformed), UnicodeEncodeError (a surrogate), RecursionError
        return None
    return document
