"""Telegram Bot API: ``POST /bot{token}/sendMessage`` with a JSON body.

``chat_id`` stays a string (chat ids exceed 2^53 for some chats; the Bot API accepts strings).
Errors are ``{"ok": false, "error_code", "description", "parameters": {"retry_after"}}``.
The token is part of the URL: it never appears in an error message (the HTTP client names the host).
"""

from __future__ import annotations

from typing import Any

from chalicelib.core.model import Channel, DeliveryStatus
from chalicelib.outbound.errors import PermanentSendError
from chalicelib.outbound.http import HttpClient, HttpResponse, ProviderErrorDetail
from chalicelib.outbound.job import OutboundJob
from chalicelib.outbound.senders.base import SenderContext, SendResult, text_with_links

PROVIDER = "telegram"


def read_telegram_error(response: HttpResponse) -> ProviderErrorDetail:
    body = response.json()
    if not isinstance(body, dict):
        return ProviderErrorDetail()
    raw_parameters = body.get("parameters")
    parameters = raw_parameters if isinstance(raw_parameters, dict) else {}
    retry_after = parameters.get("retry_after")
    return ProviderErrorDetail(
        code=None if body.get("error_code") is None else str(body["error_code"]),
        message=body.get("description"),
        retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
    )


class TelegramSender:
    provider = PROVIDER

    def __init__(self, *, bot_token: str, base_url: str, http: HttpClient | None = None) -> None:
        self._url = f"{base_url.rstrip('/')}/bot{bot_token}/sendMessage"
        self._http = http or HttpClient()

    def build_body(self, job: OutboundJob) -> dict[str, Any]:
        if job.channel is not Channel.TELEGRAM:
            raise PermanentSendError(f"Telegram does not send on {job.channel.value}",
                                     provider=PROVIDER, error_code="unsupported_channel")
        body: dict[str, Any] = {"chat_id": str(job.to), "text": text_with_links(job)}
        if job.choices:  # an inline keyboard: a tap comes back as a callback_query with the payload as data
            buttons = [{"text": c.title, "callback_data": c.payload} for c in job.choices]
            rows = [buttons] if len(buttons) <= 6 else [buttons[:6], buttons[6:]]
            body["reply_markup"] = {"inline_keyboard": rows}
        return body

    def send(self, job: OutboundJob) -> SendResult:
        response = self._http.request("POST", self._url, provider=PROVIDER, json_body=self.build_body(job),
                                      error_reader=read_telegram_error)
        body = response.json() or {}
        result = body.get("result") if isinstance(body, dict) else None
        if not body.get("ok") or not isinstance(result, dict) or result.get("message_id") is None:
            detail = read_telegram_error(response)
            raise PermanentSendError(detail.message or "Telegram answered without a message",
                                     provider=PROVIDER, error_code=detail.code or "no_message_id")
        # A message id is unique per chat only: the chat id makes it global.
        return SendResult(PROVIDER, f"{job.to}:{result['message_id']}", DeliveryStatus.SENT,
                          details={"chat_id": str(job.to), "message_id": str(result["message_id"])})


def build_sender(context: SenderContext) -> TelegramSender:
    (token,) = context.require("TELEGRAM_BOT_TOKEN")
    return TelegramSender(bot_token=token, base_url=context.api_base, http=context.http)
