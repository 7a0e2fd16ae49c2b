"""Email through SendGrid's v3 Mail Send API: ``POST /v3/mail/send`` (JSON, ``Authorization: Bearer``).

Threaded like every email sender (``email_headers``): the subject with the reference, ``In-Reply-To``,
``References`` and our ``Message-ID`` as custom ``headers``; ``custom_args.outbound_id`` comes back on
SendGrid's event webhook. Answered ``202 Accepted`` with an empty body and the id in ``X-Message-Id``.
Errors: ``{"errors": [{"message", "field", "help"}]}``; 429 and 5xx are retried.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core.model import Channel, DeliveryStatus
from chalicelib.outbound.errors import PermanentSendError, SenderNotConfigured
from chalicelib.outbound.http import HttpClient, HttpResponse, ProviderErrorDetail, bearer_auth
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

PROVIDER = "sendgrid"


def read_sendgrid_error(response: HttpResponse) -> ProviderErrorDetail:
    body = response.json()
    errors = body.get("errors") if isinstance(body, dict) else None
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    return ProviderErrorDetail(code=first.get("field") or None, message=first.get("message"))


class SendGridSender:
    provider = PROVIDER

    def __init__(self, *, api_key: str, base_url: str, from_address: str | None,
                 mailboxes: frozenset[str] = frozenset(), http: HttpClient | None = None) -> None:
        self._url = f"{base_url.rstrip('/')}/v3/mail/send"
        self._api_key = api_key
        self._from = from_address
        self._mailboxes = mailboxes
        self._http = http or HttpClient()

    def build_body(self, job: OutboundJob, from_address: str) -> dict[str, Any]:
        headers = {name: value for name, value in threading_headers(job, from_address)}
        return {
            "personalizations": [{"to": [{"email": job.to}]}],
            "from": {"email": from_address},
            "subject": subject_of(job),
            "content": [{"type": "text/plain", "value": text_with_links(job) + "\n"}],
            "headers": headers,
            "custom_args": {"outbound_id": job.outbound_id, "conversation_id": job.conversation_id},
        }

    def send(self, job: OutboundJob) -> SendResult:
        if job.channel is not Channel.EMAIL:
            raise PermanentSendError(f"SendGrid does not send on {job.channel.value}",
                                     provider=PROVIDER, error_code="unsupported_channel")
        from_address = reply_from(job.hint("from"), self._from, self._mailboxes)
        if not from_address:
            raise SenderNotConfigured("no sender address for email (OMNIHUB_EMAIL_FROM)", provider=PROVIDER)
        body_json = self.build_body(job, from_address)
        response = self._http.request("POST", self._url, provider=PROVIDER, json_body=body_json,
                                      authorization=bearer_auth(self._api_key), error_reader=read_sendgrid_error)
        message_id = response.header("x-message-id") or ""
        if not message_id:
            raise PermanentSendError("SendGrid accepted the mail without an X-Message-Id", provider=PROVIDER,
                                     error_code="no_message_id")
        return SendResult(PROVIDER, message_id, DeliveryStatus.SENT,
                          details={"message_id_header": message_id_for(job, from_address)})


def build_sender(context: SenderContext) -> SendGridSender:
    (api_key,) = context.require("SENDGRID_API_KEY")
    return SendGridSender(api_key=api_key, base_url=context.api_base, from_address=context.setting(FROM_SETTING),
                          mailboxes=mailboxes_from(context.setting(MAILBOXES_SETTING)), http=context.http)
