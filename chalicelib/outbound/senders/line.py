"""LINE Messaging API: reply with the event's reply token while it is fresh, push otherwise.

- ``POST /v2/bot/message/reply`` ``{"replyToken", "messages"}`` (free, single use, short-lived);
- ``POST /v2/bot/message/push`` ``{"to", "messages"}`` with ``X-Line-Retry-Key`` = a UUID derived from
  the outbound id: a retried push is executed once, and LINE answers the repeat with 409 (success).
Both answer ``{"sentMessages": [{"id", "quoteToken"}]}``; errors are ``{"message", "details"}``.
"""

from __future__ import annotations

import uuid
from typing import Any

from chalicelib.core.model import Channel, DeliveryStatus
from chalicelib.outbound.errors import PermanentSendError
from chalicelib.outbound.http import HttpClient, HttpResponse, ProviderErrorDetail, bearer_auth
from chalicelib.outbound.job import OutboundJob
from chalicelib.outbound.senders.base import SenderContext, SendResult, text_with_links

PROVIDER = "line"
MAX_MESSAGES = 5
_RETRY_KEY_NAMESPACE = uuid.UUID("6f6d6e69-6875-622d-6c69-6e652d72746b")


def line_retry_key(outbound_id: str) -> str:
    """The outbound id if it is a UUID, else a stable UUID derived from it (LINE requires a UUID)."""
    try:
        return str(uuid.UUID(outbound_id))
    except ValueError:
        return str(uuid.uuid5(_RETRY_KEY_NAMESPACE, outbound_id))


def read_line_error(response: HttpResponse) -> ProviderErrorDetail:
    body = response.json()
    if not isinstance(body, dict):
        return ProviderErrorDetail()
    message = str(body.get("message") or "")
    details = body.get("details")
    if isinstance(details, list) and details:
        message += " (" + "; ".join(f"{d.get('property')}: {d.get('message')}" for d in details
                                    if isinstance(d, dict)) + ")"
    # 429 "You have reached your monthly limit." will not clear by retrying within the hour.
    monthly_limit = response.status == 429 and "monthly limit" in message.lower()
    return ProviderErrorDetail(code=str(response.status), message=message or None,
                               transient=False if monthly_limit else None)


class LineSender:
    provider = PROVIDER

    def __init__(self, *, channel_access_token: str, base_url: str,
                 http: HttpClient | None = None) -> None:
        self._authorization = bearer_auth(channel_access_token)
        self._root = f"{base_url.rstrip('/')}/v2/bot/message"
        self._http = http or HttpClient()

    def send(self, job: OutboundJob) -> SendResult:
        if job.channel is not Channel.LINE:
            raise PermanentSendError(f"LINE does not send on {job.channel.value}",
                                     provider=PROVIDER, error_code="unsupported_channel")
        messages = line_messages(job)
        if job.reply_token:
            try:
                return self._reply(job.reply_token, messages)
            except PermanentSendError as err:
                if "reply token" not in err.reason.lower():
                    raise
                # Expired or already used: the push below reaches the customer all the same.
        return self._push(job, messages)

    def _reply(self, reply_token: str, messages: list[dict[str, Any]]) -> SendResult:
        response = self._http.request(
            "POST", f"{self._root}/reply", provider=PROVIDER, authorization=self._authorization,
            json_body={"replyToken": reply_token, "messages": messages}, error_reader=read_line_error,
        )
        return _result(response, {"method": "reply"})

    def _push(self, job: OutboundJob, messages: list[dict[str, Any]]) -> SendResult:
        retry_key = line_retry_key(job.outbound_id)
        response = self._http.request(
            "POST", f"{self._root}/push", provider=PROVIDER, authorization=self._authorization,
            headers={"X-Line-Retry-Key": retry_key}, json_body={"to": job.to, "messages": messages},
            error_reader=read_line_error, accept_statuses=(409,),
        )
        details = {"method": "push", "retry_key": retry_key}
        accepted = response.header("x-line-accepted-request-id")
        if response.status == 409:
            if not accepted:
                raise PermanentSendError(read_line_error(response).message or "LINE answered 409",
                                         provider=PROVIDER, error_code="409", http_status=409)
            details["accepted_request_id"] = accepted  # sent by an earlier attempt
        return _result(response, details)


def line_messages(job: OutboundJob) -> list[dict[str, Any]]:
    """Images as image messages (https only, as LINE requires), everything else as text with links."""
    images = [a for a in job.attachments if a.kind == "image" and a.url and a.url.startswith("https://")]
    images = images[: MAX_MESSAGES - 1]
    messages: list[dict[str, Any]] = []
    text = text_with_links(job, skip_urls=frozenset(a.url for a in images if a.url))
    if text:
        messages.append({"type": "text", "text": text})
    messages += [{"type": "image", "originalContentUrl": a.url, "previewImageUrl": a.url} for a in images]
    return messages


def _result(response: HttpResponse, details: dict[str, str]) -> SendResult:
    body = response.json() or {}
    sent = body.get("sentMessages") if isinstance(body, dict) else None
    if isinstance(sent, list) and sent and sent[0].get("id"):
        message_id = str(sent[0]["id"])
    elif details.get("accepted_request_id"):
        message_id = f"request:{details['accepted_request_id']}"
    elif response.header("x-line-request-id"):
        message_id = f"request:{response.header('x-line-request-id')}"
    else:
        raise PermanentSendError("LINE answered without sentMessages", provider=PROVIDER, error_code="no_id")
    return SendResult(PROVIDER, message_id, DeliveryStatus.SENT, details=details)


def build_sender(context: SenderContext) -> LineSender:
    (token,) = context.require("LINE_CHANNEL_ACCESS_TOKEN")
    return LineSender(channel_access_token=token, base_url=context.api_base, http=context.http)
