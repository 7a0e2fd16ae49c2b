"""X API v2 direct messages: ``POST /2/dm_conversations/with/{participant_id}/messages`` ``{"text"}``.

Needs a user-context token (OAuth 2.0 with ``dm.write``) of the account that sends; an app-only
bearer token is refused (403). Rate limits answer 429 with ``x-rate-limit-reset`` (epoch seconds).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote

from chalicelib.core.model import Channel, DeliveryStatus
from chalicelib.outbound.errors import PermanentSendError
from chalicelib.outbound.http import HttpClient, HttpResponse, ProviderErrorDetail, bearer_auth
from chalicelib.outbound.job import OutboundJob
from chalicelib.outbound.senders.base import SenderContext, SendResult, text_with_links

PROVIDER = "x"


def make_x_error_reader(clock: Callable[[], float] = time.time) -> Callable[[HttpResponse], ProviderErrorDetail]:
    def read_x_error(response: HttpResponse) -> ProviderErrorDetail:
        body = response.json()
        retry_after = None
        reset = response.header("x-rate-limit-reset")
        if reset and reset.isdigit():
            retry_after = max(0.0, float(reset) - clock())
        if not isinstance(body, dict):
            return ProviderErrorDetail(retry_after=retry_after)
        message = body.get("detail") or body.get("title")
        errors = body.get("errors")
        if not message and isinstance(errors, list) and errors and isinstance(errors[0], dict):
            message = errors[0].get("message") or errors[0].get("detail")
        code = body.get("type") or (errors[0].get("code") if isinstance(errors, list) and errors
                                    and isinstance(errors[0], dict) else None)
        return ProviderErrorDetail(code=None if code is None else str(code), message=message,
                                   retry_after=retry_after)

    return read_x_error


class XSender:
    provider = PROVIDER

    def __init__(self, *, bearer_token: str, base_url: str, http: HttpClient | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self._authorization = bearer_auth(bearer_token)
        self._root = f"{base_url.rstrip('/')}/2/dm_conversations/with"
        self._http = http or HttpClient()
        self._read_error = make_x_error_reader(clock)

    def send(self, job: OutboundJob) -> SendResult:
        if job.channel is not Channel.X:
            raise PermanentSendError(f"X does not send on {job.channel.value}",
                                     provider=PROVIDER, error_code="unsupported_channel")
        response = self._http.request(
            "POST", f"{self._root}/{quote(job.to, safe='')}/messages", provider=PROVIDER,
            authorization=self._authorization, json_body={"text": text_with_links(job)},
            error_reader=self._read_error,
        )
        body = response.json() or {}
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, dict) or not data.get("dm_event_id"):
            raise PermanentSendError("X answered without a dm_event_id", provider=PROVIDER, error_code="no_id")
        return SendResult(PROVIDER, str(data["dm_event_id"]), DeliveryStatus.SENT,
                          details={"dm_conversation_id": str(data.get("dm_conversation_id") or "")})


def build_sender(context: SenderContext) -> XSender:
    (token,) = context.require("X_BEARER_TOKEN")
    return XSender(bearer_token=token, base_url=context.api_base, http=context.http)
