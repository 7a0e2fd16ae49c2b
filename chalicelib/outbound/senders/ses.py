"""Email through Amazon SES v2 ``SendEmail`` with a raw MIME message built by the ``email`` package.

The message threads into the customer's conversation: ``In-Reply-To`` and ``References`` point at
the customer's message, the subject carries the conversation reference (``[ABC-123]``) so even a
client that drops the headers threads by subject, and our own ``Message-ID`` is returned so the
next customer reply can be matched. Acknowledgments are marked ``Auto-Submitted: auto-replied``
(RFC 3834) so that other auto-responders do not answer them.
"""

from __future__ import annotations

from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from chalicelib.adapters.settings import Settings
from chalicelib.core.model import Channel, DeliveryStatus
from chalicelib.outbound.errors import PermanentSendError, SenderNotConfigured, TransientSendError
from chalicelib.outbound.job import OutboundJob
from chalicelib.outbound.senders.base import SenderContext, SendResult, text_with_links
from chalicelib.outbound.senders.email_headers import (
    FROM_SETTING,
    MAILBOXES_SETTING,
    mailboxes_from,
    reply_from,
    subject_of,
    threading_headers,
)

PROVIDER = "ses"

_TRANSIENT_ERRORS = frozenset({
    "TooManyRequestsException", "LimitExceededException", "Throttling", "ThrottlingException",
    "InternalFailure", "InternalServerError", "ServiceUnavailable", "RequestTimeout",
})


def build_mime_message(job: OutboundJob, *, from_address: str, reply_to: str | None = None) -> EmailMessage:
    message = EmailMessage()
    message["From"] = from_address
    message["To"] = job.to
    if reply_to:
        message["Reply-To"] = reply_to
    message["Subject"] = subject_of(job)
    message["Date"] = formatdate(usegmt=True)
    for name, value in threading_headers(job, from_address):
        message[name] = value
    message["X-Omnihub-Conversation-Id"] = job.conversation_id
    message["X-Omnihub-Outbound-Id"] = job.outbound_id
    message.set_content(text_with_links(job) + "\n", charset="utf-8")
    return message


class SesSender:
    provider = PROVIDER

    def __init__(self, *, client: Any | None = None, client_factory: Callable[[], Any] | None = None,
                 from_address: str | None = None, reply_to: str | None = None,
                 configuration_set: str | None = None, mailboxes: frozenset[str] = frozenset()) -> None:
        if client is None and client_factory is None:
            raise ValueError("give an SES v2 client or a factory")
        self._client = client
        self._client_factory = client_factory
        self._from_address = from_address
        self._reply_to = reply_to
        self._configuration_set = configuration_set
        self._mailboxes = mailboxes

    def _ses(self) -> Any:
        if self._client is None:
            assert self._client_factory is not None
            self._client = self._client_factory()
        return self._client

    def send(self, job: OutboundJob) -> SendResult:
        if job.channel is not Channel.EMAIL:
            raise PermanentSendError(f"SES does not send on {job.channel.value}",
                                     provider=PROVIDER, error_code="unsupported_channel")
        from_address = reply_from(job.hint("from"), self._from_address, self._mailboxes)
        if not from_address:
            raise SenderNotConfigured("no sender address for email (OMNIHUB_EMAIL_FROM)", provider=PROVIDER)
        message = build_mime_message(job, from_address=from_address,
                                     reply_to=job.hint("reply_to") or self._reply_to)
        request: dict[str, Any] = {
            "FromEmailAddress": from_address,
            "Destination": {"ToAddresses": [job.to]},
            "Content": {"Raw": {"Data": message.as_bytes()}},
        }
        if self._configuration_set:
            request["ConfigurationSetName"] = self._configuration_set
        answer = self._call(request)
        return SendResult(PROVIDER, str(answer["MessageId"]), DeliveryStatus.SENT,
                          details={"message_id_header": str(message["Message-ID"])})

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError  # boto is already loaded

        try:
            return self._ses().send_email(**request)
        except ClientError as err:
            error = err.response.get("Error", {})
            code = str(error.get("Code") or "ClientError")
            status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            message = str(error.get("Message") or code)
            if code in _TRANSIENT_ERRORS or status >= 500 or status == 429:
                raise TransientSendError(message, provider=PROVIDER, error_code=code, http_status=status) from err
            raise PermanentSendError(message, provider=PROVIDER, error_code=code, http_status=status) from err
        except BotoCoreError as err:  # endpoint unreachable, timeouts
            raise TransientSendError(type(err).__name__, provider=PROVIDER, error_code="connection_error",
                                     ambiguous=True) from err


def build_sender(context: SenderContext) -> SesSender:
    return SesSender(
        client_factory=context.aws_client_factory or _sesv2_client_factory(context.settings),
        from_address=context.setting(FROM_SETTING), reply_to=context.setting("OMNIHUB_EMAIL_REPLY_TO"),
        configuration_set=context.setting("OMNIHUB_SES_CONFIGURATION_SET"),
        mailboxes=mailboxes_from(context.setting(MAILBOXES_SETTING)),
    )


def _sesv2_client_factory(settings: Settings) -> Callable[[], Any]:
    def make() -> Any:
        import boto3  # only when an email is sent

        return boto3.client("sesv2", region_name=settings.environ.get("OMNIHUB_SES_REGION") or settings.region,
                            endpoint_url=settings.aws_endpoint_url)

    return make
