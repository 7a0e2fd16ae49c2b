"""One tiny HTTP client for the provider APIs: standard library only (urllib.parse + http.client).

``http.client`` (what ``urllib.request`` is built on) is used directly because urllib has one
timeout for everything: here the connect timeout is short (a dead host fails fast) and the read
timeout covers the provider's processing time.

Classification, shared by every sender:
- timeouts, connection errors, 5xx and 429 → :class:`TransientSendError` (``retry_after`` from the
  ``Retry-After`` header, or from the provider's body when it says so);
- other 4xx → :class:`PermanentSendError` with the provider's own error code and message;
- a provider may override the class of a 4xx (Meta answers some rate limits with 400) through
  its :data:`ErrorReader`.
"""

from __future__ import annotations

import base64
import http.client
import json
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any, NamedTuple
from urllib.parse import urlencode, urlsplit

from chalicelib.outbound.errors import OptedOut, PermanentSendError, TransientSendError, WindowClosed

DEFAULT_CONNECT_TIMEOUT = 3.05
DEFAULT_READ_TIMEOUT = 10.0
USER_AGENT = "omnihub-outbound/1"


class HttpResponse(NamedTuple):
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except (ValueError, UnicodeDecodeError):
            return None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


@dataclass(frozen=True, slots=True)
class ProviderErrorDetail:
    """What a provider's error body says. ``transient`` overrides the status-based class when set."""

    code: str | None = None
    message: str | None = None
    transient: bool | None = None
    retry_after: float | None = None
    refusal: str | None = None  # "window_closed" | "opted_out": raised as that PermanentSendError subclass


ErrorReader = Callable[[HttpResponse], ProviderErrorDetail]


def no_error_detail(response: HttpResponse) -> ProviderErrorDetail:
    return ProviderErrorDetail()


def basic_auth(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def bearer_auth(token: str) -> str:
    return f"Bearer {token}"


def retry_after_seconds(value: str | None, now_epoch: float | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now_epoch is None else now_epoch))


class HttpClient:
    def __init__(
        self,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        user_agent: str = USER_AGENT,
        ssl_context: ssl.SSLContext | None = None,
        max_response_bytes: int | None = None,  # a longer answer is refused (PermanentSendError)
    ) -> None:
        self.max_response_bytes = max_response_bytes
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.user_agent = user_agent
        self._ssl_context = ssl_context

    def request(
        self,
        method: str,
        url: str,
        *,
        provider: str,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | list[tuple[str, str]] | None = None,
        authorization: str | None = None,
        error_reader: ErrorReader = no_error_detail,
        accept_statuses: tuple[int, ...] = (),
    ) -> HttpResponse:
        """Send and return the 2xx (or an ``accept_statuses``) response; raise a send error otherwise."""
        body, content_type = _encode_body(json_body, form)
        all_headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
        if content_type:
            all_headers["Content-Type"] = content_type
        if authorization:
            all_headers["Authorization"] = authorization
        all_headers.update(headers or {})
        response = self._exchange(method, url, all_headers, body, provider)
        if 200 <= response.status < 300 or response.status in accept_statuses:
            return response
        raise classify_error_response(response, provider, error_reader(response))

    def _exchange(self, method: str, url: str, headers: dict[str, str], body: bytes | None,
                  provider: str) -> HttpResponse:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise PermanentSendError(f"not an http(s) API base URL: {parts.scheme}://{parts.hostname}",
                                     provider=provider, error_code="bad_api_base")
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = http.client.HTTPSConnection(
                parts.hostname, parts.port, timeout=self.connect_timeout,
                context=self._ssl_context or ssl.create_default_context(),
            )
        else:
            connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.connect_timeout)
        # The URL can carry a secret (Telegram's bot token): errors name the host, never the URL.
        where = f"{parts.scheme}://{parts.netloc}"
        try:
            try:
                connection.connect()
            except (TimeoutError, OSError) as err:
                raise TransientSendError(f"cannot connect to {where}: {type(err).__name__}",
                                         provider=provider, error_code="connect_error") from err
            assert connection.sock is not None
            connection.sock.settimeout(self.read_timeout)
            try:
                connection.request(method, target, body=body, headers=headers)
                raw = connection.getresponse()
                payload = raw.read() if self.max_response_bytes is None else raw.read(self.max_response_bytes + 1)
            except TimeoutError as err:
                raise TransientSendError(f"no answer from {where} within {self.read_timeout} s",
                                         provider=provider, error_code="read_timeout", ambiguous=True) from err
            except (OSError, http.client.HTTPException) as err:
                raise TransientSendError(f"connection to {where} failed: {type(err).__name__}",
                                         provider=provider, error_code="connection_error", ambiguous=True) from err
            if self.max_response_bytes is not None and len(payload) > self.max_response_bytes:
                raise PermanentSendError(f"the answer from {where} is over {self.max_response_bytes} bytes",
                                         provider=provider, error_code="response_too_large")
            return HttpResponse(raw.status, {k.lower(): v for k, v in raw.getheaders()}, payload)
        finally:
            connection.close()


def classify_error_response(
    response: HttpResponse, provider: str, detail: ProviderErrorDetail
) -> PermanentSendError | TransientSendError:
    code = detail.code or str(response.status)
    message = detail.message or f"HTTP {response.status}"
    transient = detail.transient
    if transient is None:
        transient = response.status == 429 or response.status >= 500
    if transient:
        retry_after = retry_after_seconds(response.header("retry-after"))
        if retry_after is None:
            retry_after = detail.retry_after
        return TransientSendError(message, provider=provider, error_code=code, http_status=response.status,
                                  retry_after=retry_after)
    if detail.refusal == "window_closed":
        return WindowClosed(message, provider=provider, error_code=code, http_status=response.status)
    if detail.refusal == "opted_out":
        return OptedOut(message, provider=provider, error_code=code, http_status=response.status)
    return PermanentSendError(message, provider=provider, error_code=code, http_status=response.status)


def _encode_body(json_body: Any, form: Mapping[str, str] | list[tuple[str, str]] | None
                 ) -> tuple[bytes | None, str | None]:
    if json_body is not None and form is not None:
        raise ValueError("give a JSON body or a form, not both")
    if json_body is not None:
        return json.dumps(json_body, ensure_ascii=False, separators=(",", ":")).encode(), "application/json"
    if form is not None:
        pairs = list(form.items()) if isinstance(form, Mapping) else list(form)
        return urlencode(pairs).encode(), "application/x-www-form-urlencoded"
    return None, None
