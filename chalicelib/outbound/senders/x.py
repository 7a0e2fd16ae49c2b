"""X API v2: direct messages and reply posts.

- A DM: ``POST /2/dm_conversations/with/{participant_id}/messages`` ``{"text"}``, answered
  ``{"data": {"dm_conversation_id", "dm_event_id"}}``.
- A public reply (``job.reply_to.kind == public``): ``POST /2/tweets``
  ``{"text", "reply": {"in_reply_to_tweet_id"}}``, answered ``{"data": {"id", "text"}}``. X has no
  private reply to a post: a private one goes as a DM to its author (``job.to``).

Needs a user-context token (OAuth 2.0 with ``dm.write`` / ``tweet.write``) of the account that sends;
an app-only bearer token is refused (403). Rate limits answer 429 with ``x-rate-limit-reset``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from chalicelib.core.model import Channel, DeliveryStatus
from chalicelib.outbound.errors import PermanentSendError
from chalicelib.outbound.http import HttpClient, HttpResponse, ProviderErrorDetail, bearer_auth
from chalicelib.outbound.job import OutboundJob, ReplyKind
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
        self._root = f"{base_url.rstrip('/')}/2"
        self._http = http or HttpClient()
        self._read_error = make_x_error_reader(clock)

    def build_request(self, job: OutboundJob) -> tuple[str, dict[str, Any]]:
        """(URL, JSON body) for the job: a reply post when it answers a post in public, a DM otherwise."""
        if job.channel is not Channel.X:
            raise PermanentSendError(f"X does not send on {job.channel.value}",
                                     provider=PROVIDER, error_code="unsupported_channel")
        if job.reply_to is not None and job.reply_to.kind is ReplyKind.PUBLIC:
            return f"{self._root}/tweets", {"text": text_with_links(job),
                                            "reply": {"in_reply_to_tweet_id": job.reply_to.id}}
        return f"{self._root}/dm_conversations/with/{quote(job.to, safe='')}/messages", {"text": text_with_links(job)}

    def send(self, job: OutboundJob) -> SendResult:
        url, json_body = self.build_request(job)
        response = self._http.request("POST", url, provider=PROVIDER, authorization=self._authorization,
                                      json_body=json_body, error_reader=self._read_error)
        body = response.json() or {}
        data = body.get("data") if isinstance(body, dict) else None
        if "reply" in json_body:
            if not isinstance(data, dict) or not data.get("id"):
                raise PermanentSendError("X answered without a post id", provider=PROVIDER, error_code="no_id")
            return SendResult(PROVIDER, str(data["id"]), DeliveryStatus.SENT, details={"tweet_id": str(data["id"])})
        if not isinstance(data, dict) or not data.get("dm_event_id"):
            raise PermanentSendError("X answered without a dm_event_id", provider=PROVIDER, error_code="no_id")
        return SendResult(PROVIDER, str(data["dm_event_id"]), DeliveryStatus.SENT,
                          details={"dm_conversation_id": str(data.get("dm_conversation_id") or "")})


def build_sender(context: SenderContext) -> XSender:
    (token,) = context.require("X_BEARER_TOKEN")
    return XSender(bearer_token=token, base_url=context.api_base, http=context.http)
