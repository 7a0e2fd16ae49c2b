"""The dev stack's setup of the way into moto in process: what a call costs, never what it answers.

The pump's handlers make about 23 AWS calls per new customer's message, each into moto in the same
process. Measured with py-spy on 3,000 GetItems in process (0.72 ms each), the table's work (moto's
``call_action``) was 15 % of a call; the rest was the way there:

- SigV4 signing, 15 %: botocore builds the canonical request and computes four HMACs, for a
  signature moto never checks. With moto's in-process mock on, a call to DynamoDB or SQS now
  carries the same ``Authorization`` header with its credential scope (the access key and the
  region moto reads the account and the region from) and no computed signature. Presigned URLs,
  every other service, and every call made while the mock is off sign as before.
- moto's routing, 9 %: for every call moto tries the URL against every service's pattern, then
  builds the service's URL table again (a property) and compiles its patterns one by one. The
  handler a root URL was routed to is kept (DynamoDB's and SQS's JSON calls all post to their
  endpoint's root: a handful of entries); a URL is routed by moto itself the first time, any other
  path (S3's, one per key) every time, and the pass-through and allow-list settings are still read
  on every call.
- moto's request, 11 %: botocore's request becomes a werkzeug request through ``EnvironBuilder``.
  For the hub's in-process calls (a body posted to the root path, no query string: DynamoDB's and
  SQS's JSON protocol) the same WSGI environ is written directly; a test builds real requests of
  four services both ways and compares the environ and what moto reads from it.
- moto listed a response class's methods (``inspect.getmembers``) on every request to find the
  action's: the classes do not change, so the list is kept per class.

Upstream (moto): ``BotocoreStubber.process_request`` could keep the handler per URL (its own
comment says "TODO: cache this part"), and ``method_names_from_class`` could be cached.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

SCOPE_ONLY = "omnihub-in-process-v4"  # the signature version botocore is told to use in process
_SCOPED_SERVICES = ("dynamodb", "sqs")

moto_process_request: Callable[..., Any] | None = None  # moto's own routing, kept for the test
moto_from_primitives: Callable[..., Any] | None = None  # moto's own request building, kept for the test
routes: dict[str, tuple[str, Callable[..., Any]]] = {}  # root URL -> (service, handler), as moto routed it


def tune_requests() -> None:
    """Apply the request tunings (called once, by devstack.moto_tuning.tune_moto)."""
    _sign_with_scope_only_in_process()
    _route_each_url_once()
    _build_plain_requests_directly()
    _list_response_methods_once()


def _build_plain_requests_directly() -> None:
    """moto turns botocore's request into a werkzeug request through ``EnvironBuilder`` (headers
    copied three times, the URL quoted and unquoted, the body measured by seeking): 7 % of the pump's
    time. For the requests the hub's in-process calls make (a body, no query string, the root path:
    DynamoDB's and SQS's JSON protocol), the same WSGI environ is written directly; any other request
    is built by moto's own way."""
    import sys
    from io import BytesIO
    from urllib.parse import urlsplit

    from moto.core import request as moto_request

    global moto_from_primitives
    build = moto_from_primitives = moto_request.Request.from_primitives.__func__  # type: ignore[attr-defined]
    preserved_key = moto_request.PRESERVED_HEADER_NAMES_ENVIRON_KEY
    preserve, header_key = moto_request.should_preserve_original_header_name, moto_request.environ_key_for_header

    def from_primitives(cls: Any, method: str, url: str, headers: Any, body: Any = None) -> Any:
        parts = urlsplit(url)
        items = [(key, value.decode("utf-8") if isinstance(value, bytes) else value) for key, value in headers.items()
                 if key.lower() != "transfer-encoding"]
        if (not isinstance(body, bytes) or not body or parts.query or parts.fragment or parts.path != "/"
                or parts.scheme not in ("http", "https") or not parts.netloc.isascii() or "[" in parts.netloc
                or "@" in parts.netloc or any(not isinstance(value, str) or "\n" in value or "\r" in value
                                              for _, value in items)):
            return build(cls, method, url, headers, body)
        host = parts.netloc
        name, colon, port = host.partition(":")
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": "/", "QUERY_STRING": "",
            "REQUEST_URI": "/", "RAW_URI": "/", "SERVER_NAME": name,
            "SERVER_PORT": port if colon and port.isdigit() else ("443" if parts.scheme == "https" else "80"),
            "HTTP_HOST": host, "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.version": (1, 0), "wsgi.url_scheme": parts.scheme,
            "wsgi.input": BytesIO(body), "wsgi.errors": sys.stderr, "wsgi.multithread": False,
            "wsgi.multiprocess": False, "wsgi.run_once": False, "CONTENT_LENGTH": str(len(body)),
        }
        for key, value in items:
            lowered = key.lower()
            if lowered == "content-type":
                environ.setdefault("CONTENT_TYPE", value)
            elif lowered != "content-length":
                wsgi_key = f"HTTP_{key.upper().replace('-', '_')}"
                environ[wsgi_key] = f"{environ[wsgi_key]}, {value}" if wsgi_key in environ else value
        environ[preserved_key] = {header_key(key): key for key, _ in items if preserve(key)}
        return cls(environ)

    moto_request.Request.from_primitives = classmethod(from_primitives)  # type: ignore[assignment]


def _moto_in_process() -> bool:
    from moto.core.models import botocore_stubber

    return bool(botocore_stubber.enabled)


def _sign_with_scope_only_in_process() -> None:
    from botocore import auth, handlers

    class ScopeOnlyAuth(auth.SigV4Auth):
        """SigV4's headers (date, token, scope) without the signature: only for moto in process."""

        def add_auth(self, request: Any) -> None:
            if not _moto_in_process():  # the mock was turned off after the signer was chosen
                super().add_auth(request)
                return
            if self.credentials is None:
                from botocore.exceptions import NoCredentialsError

                raise NoCredentialsError()
            request.context["timestamp"] = auth.get_current_datetime().strftime(auth.SIGV4_TIMESTAMP)
            self._modify_request_before_signing(request)
            request.headers["Authorization"] = (
                f"AWS4-HMAC-SHA256 Credential={self.scope(request)}, SignedHeaders=host, Signature=in-process")

    def choose_signer(signature_version: Any = None, **_: Any) -> str | None:
        return SCOPE_ONLY if signature_version == "v4" and _moto_in_process() else None

    auth.AUTH_TYPE_MAPS[SCOPE_ONLY] = ScopeOnlyAuth
    for service in _SCOPED_SERVICES:
        handlers.BUILTIN_HANDLERS.append((f"choose-signer.{service}", choose_signer))


def _route_each_url_once() -> None:
    import moto.backend_index as backend_index
    import moto.backends as backends
    from moto.core.base_backend import BackendDict
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.core.config import passthrough_service, passthrough_url, service_whitelisted
    from moto.core.exceptions import HTTPException
    from moto.core.request import normalize_request
    from moto.core.utils import get_equivalent_url_in_aws_domain
    from moto.moto_api import recorder

    global moto_process_request
    route = moto_process_request = BotocoreStubber.process_request

    def routed(clean_url: str) -> tuple[str, Callable[..., Any]] | None:
        """The service and handler moto routes this URL to: its own search, without calling it."""
        import re

        from moto.core import DEFAULT_ACCOUNT_ID

        for service, pattern in backend_index.backend_url_patterns:
            if pattern.match(clean_url):
                backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
                if isinstance(backend_dict, BackendDict):
                    regions = backend_dict[DEFAULT_ACCOUNT_ID]
                    backend = regions["us-east-1"] if "us-east-1" in regions else regions["aws"]
                else:
                    backend = backend_dict["global"]
                for url, handler in backend.urls.items():
                    if re.compile(url).match(clean_url):
                        return service, handler
                return None  # moto stops at the first service whose pattern matches
        return None

    def process_request(stubber: Any, request: Any) -> Any:
        parsed_url, _ = get_equivalent_url_in_aws_domain(request.url)
        if parsed_url.path not in ("", "/"):  # a URL per object or queue (S3's keys): moto routes it each time
            return route(stubber, request)
        clean_url = f"{parsed_url.scheme}://{parsed_url.netloc}{parsed_url.path}"
        known = routes.get(clean_url)
        if known is None or passthrough_url(clean_url) or passthrough_service(known[0]) \
                or not service_whitelisted(known[0]):
            found = routed(clean_url)
            if found is not None:
                routes[clean_url] = found
            return route(stubber, request)  # moto's own way: the first time, and whatever it refuses
        normalized = normalize_request(request)
        try:
            recorder._record_request(normalized)
            status, headers, body = known[1](normalized, normalized.raw_url, normalized.headers)
        except HTTPException as error:
            status, headers, body = error.code, error.get_headers(), error.get_body()
        return status, headers, body

    BotocoreStubber.process_request = process_request  # type: ignore[method-assign,assignment]


def _list_response_methods_once() -> None:
    from functools import cache

    from moto.core import responses

    responses.method_names_from_class = cache(responses.method_names_from_class)
