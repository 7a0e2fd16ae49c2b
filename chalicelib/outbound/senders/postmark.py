"""Email through Postmark's Email API: ``POST /email`` (JSON, ``X-Postmark-Server-Token``).

Threaded like every email sender (``email_headers``): ``Headers`` carry ``Message-ID``,
``In-Reply-To`` and ``References``; ``Metadata.outbound_id`` comes back on Postmark's webhooks; the
stream is ``OMNIHUB_POSTMARK_MESSAGE_STREAM`` (default ``outbound``). Answered ``200 {"To",
"SubmittedAt", "MessageID", "ErrorCode": 0, "Message": "OK"}``; an error is a 422 with a non-zero
``ErrorCode`` (406: the recipient is inactive, hard-bounced or complained).
"""

from __future__ import annotations

from typing import Any

from chalicelib.core.model import Channel, DeliveryStatus
from chalicelib.outbound.errors import PermanentSendError, SenderNotConfigured
from chalicelib.outbound.http import HttpClient, HttpResponse, ProviderErrorDetail
from chalicelib.outbound.job import OutboundJob
from chalicelib.outbound.senders.base import SenderContext, SendResult, text_with_links
from chalicelib.outbound.senders.email_headers import (
    FROM_SETTING,
    MAILBOXES_SETTING,
    mailboxes_from,
    message_id_for,
    reply_from,
    subject_of,
    threading_headers,
)

PROVIDER = "postmark"
TOKEN_HEADER = "X-Postmark-Server-Token"


def read_postmark_error(response: HttpResponse) -> ProviderErrorDetail:
    body = response.json()
    if not isinstance(body, dict):
        return ProviderErrorDetail()
    code = body.get("ErrorCode")
    return ProviderErrorDetail(code=None if code is None else str(code), message=body.get("Message"))


class PostmarkSender:
    provider = PROVIDER

    def __init__(self, *, server_token: str, base_url: str, from_address: str | None, stream: str = "outbound",
                 mailboxes: frozenset[str] = frozenset(), http: HttpClient | None = None) -> None:
        self._url = f"{base_url.rstrip('/')}/email"
        self._token = server_token
        self._from = from_address
        self._stream = stream
        self._mailboxes = mailboxes
        self._http = http or HttpClient()

    def build_body(self, job: OutboundJob, from_address: str) -> dict[str, Any]:
        return {
            "From": from_address, "To": job.to, "Subject": subject_of(job), "TextBody": text_with_links(job) + "\n",
            "Headers": [{"Name": name, "Value": value} for name, value in threading_headers(job, from_address)],
            "Metadata": {"outbound_id": job.outbound_id, "conversation_id": job.conversation_id},
            "MessageStream": self._stream,
        }

    def send(self, job: OutboundJob) -> SendResult:
        if job.channel is not Channel.EMAIL:
            raise PermanentSendError(f"Postmark does not send on {job.channel.value}",
                                     provider=PROVIDER, error_code="unsupported_channel")
        from_address = reply_from(job.hint("from"), self._from, self._mailboxes)
        if not from_address:
            raise SenderNotConfigured("no sender address for email (OMNIHUB_EMAIL_FROM)", provider=PROVIDER)
        body_json = self.build_body(job, from_address)
        response = self._http.request("POST", self._url, provider=PROVIDER, json_body=body_json,
                                      headers={TOKEN_HEADER: self._token}, error_reader=read_postmark_error)
        body = response.json()
        message_id = body.get("MessageID") if isinstance(body, dict) else None
        if not isinstance(message_id, str) or not message_id or body.get("ErrorCode") not in (0, None):
            detail = read_postmark_error(response)
            raise PermanentSendError(detail.message or "Postmark answered without a MessageID", provider=PROVIDER,
                                     error_code=detail.code or "no_message_id")
        return SendResult(PROVIDER, message_id, DeliveryStatus.SENT,
                          details={"message_id_header": message_id_for(job, from_address)})


def build_sender(context: SenderContext) -> PostmarkSender:
    (token,) = context.require("POSTMARK_SERVER_TOKEN")
    return PostmarkSender(server_token=token, base_url=context.api_base, from_address=context.setting(FROM_SETTING),
                          stream=context.setting("OMNIHUB_POSTMARK_MESSAGE_STREAM") or "outbound",
                          mailboxes=mailboxes_from(context.setting(MAILBOXES_SETTING)), http=context.http)
