"""Email through Mailgun's Messages API: ``POST /v3/{domain}/messages`` (form, basic auth ``api:<key>``).

Threaded like every email sender (``email_headers``): ``h:``-prefixed custom headers carry
``Message-Id``, ``In-Reply-To`` and ``References``; ``v:outbound_id`` comes back on Mailgun's event
webhooks. The sending domain is ``OMNIHUB_MAILGUN_DOMAIN``, else the From address's domain. Answered
``200 {"id": "<...@domain>", "message": "Queued. Thank you."}``; errors ``{"message": ...}``.
"""

from __future__ import annotations

from email.utils import parseaddr

from chalicelib.core.model import Channel, DeliveryStatus
from chalicelib.outbound.errors import PermanentSendError, SenderNotConfigured
from chalicelib.outbound.http import HttpClient, HttpResponse, ProviderErrorDetail, basic_auth
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

PROVIDER = "mailgun"


def read_mailgun_error(response: HttpResponse) -> ProviderErrorDetail:
    body = response.json()
    return ProviderErrorDetail(message=body.get("message") if isinstance(body, dict) else None)


class MailgunSender:
    provider = PROVIDER

    def __init__(self, *, api_key: str, base_url: str, from_address: str | None, domain: str | None = None,
                 mailboxes: frozenset[str] = frozenset(), http: HttpClient | None = None) -> None:
        self._base = base_url.rstrip("/")
        self._api_key = api_key
        self._from = from_address
        self._domain = domain
        self._mailboxes = mailboxes
        self._http = http or HttpClient()

    def build_form(self, job: OutboundJob, from_address: str) -> list[tuple[str, str]]:
        form = [("from", from_address), ("to", job.to), ("subject", subject_of(job)),
                ("text", text_with_links(job) + "\n")]
        form += [(f"h:{name}", value) for name, value in threading_headers(job, from_address)]
        form += [("v:outbound_id", job.outbound_id), ("v:conversation_id", job.conversation_id)]
        return form

    def send(self, job: OutboundJob) -> SendResult:
        if job.channel is not Channel.EMAIL:
            raise PermanentSendError(f"Mailgun does not send on {job.channel.value}",
                                     provider=PROVIDER, error_code="unsupported_channel")
        from_address = reply_from(job.hint("from"), self._from, self._mailboxes)
        if not from_address:
            raise SenderNotConfigured("no sender address for email (OMNIHUB_EMAIL_FROM)", provider=PROVIDER)
        domain = self._domain or parseaddr(from_address)[1].rpartition("@")[2]
        response = self._http.request("POST", f"{self._base}/v3/{domain}/messages", provider=PROVIDER,
                                      form=self.build_form(job, from_address),
                                      authorization=basic_auth("api", self._api_key), error_reader=read_mailgun_error)
        body = response.json()
        message_id = body.get("id") if isinstance(body, dict) else None
        if not isinstance(message_id, str) or not message_id:
            raise PermanentSendError("Mailgun answered without an id", provider=PROVIDER, error_code="no_message_id")
        return SendResult(PROVIDER, message_id.strip("<>"), DeliveryStatus.SENT,
                          details={"message_id_header": message_id_for(job, from_address)})


def build_sender(context: SenderContext) -> MailgunSender:
    (api_key,) = context.require("MAILGUN_API_KEY")
    return MailgunSender(api_key=api_key, base_url=context.api_base, from_address=context.setting(FROM_SETTING),
                         domain=context.setting("OMNIHUB_MAILGUN_DOMAIN"),
                         mailboxes=mailboxes_from(context.setting(MAILBOXES_SETTING)), http=context.http)
