"""Twilio Programmable Messaging (SMS, MMS, WhatsApp): ``POST /2010-04-01/Accounts/{sid}/Messages.json``.

Form body, HTTP basic auth (account SID : auth token). WhatsApp addresses carry the ``whatsapp:``
prefix; templates outside the 24 h window go by ``ContentSid`` + ``ContentVariables`` (Twilio
refuses a template sent as ``Body`` there, error 63016). Status callbacks come back to
``PUBLIC_BASE_URL/webhooks/twilio/status``.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from chalicelib.core.model import Channel, DeliveryStatus
from chalicelib.outbound.errors import PermanentSendError
from chalicelib.outbound.http import HttpClient, HttpResponse, ProviderErrorDetail, basic_auth
from chalicelib.outbound.job import OutboundJob
from chalicelib.outbound.senders.base import SenderContext, SendResult, text_with_links

PROVIDER = "twilio"
STATUS_CALLBACK_PATH = "/webhooks/twilio/status"

# https://www.twilio.com/docs/api/errors
_TRANSIENT_CODES = frozenset({"20429", "20500", "20503", "30001"})
_OPTED_OUT_CODES = frozenset({"21610"})  # "Attempt to send to unsubscribed recipient"
_WINDOW_CODES = frozenset({"63016"})  # "Outside messaging window"

_STATUS = {
    "accepted": DeliveryStatus.QUEUED,
    "queued": DeliveryStatus.QUEUED,
    "scheduled": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.QUEUED,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
}


def read_twilio_error(response: HttpResponse) -> ProviderErrorDetail:
    body = response.json()
    if not isinstance(body, dict):
        return ProviderErrorDetail()
    code = None if body.get("code") is None else str(body["code"])
    refusal = "opted_out" if code in _OPTED_OUT_CODES else "window_closed" if code in _WINDOW_CODES else None
    return ProviderErrorDetail(
        code=code,
        message=body.get("message"),
        transient=True if code in _TRANSIENT_CODES else None,
        refusal=refusal,
    )


class TwilioSender:
    provider = PROVIDER

    def __init__(
        self,
        *,
        account_sid: str,
        auth_token: str,
        base_url: str,
        public_base_url: str | None = None,
        default_from: str | None = None,
        default_whatsapp_from: str | None = None,
        messaging_service_sid: str | None = None,
        http: HttpClient | None = None,
    ) -> None:
        self._authorization = basic_auth(account_sid, auth_token)
        self._url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{quote(account_sid, safe='')}/Messages.json"
        self._status_callback = f"{public_base_url.rstrip('/')}{STATUS_CALLBACK_PATH}" if public_base_url else None
        self._default_from = default_from
        self._default_whatsapp_from = default_whatsapp_from or default_from
        self._messaging_service_sid = messaging_service_sid
        self._http = http or HttpClient()

    def build_form(self, job: OutboundJob) -> list[tuple[str, str]]:
        whatsapp = job.channel is Channel.WHATSAPP
        if job.channel not in (Channel.SMS, Channel.WHATSAPP):
            raise PermanentSendError(f"Twilio Messaging does not send on {job.channel.value}",
                                     provider=PROVIDER, error_code="unsupported_channel")
        form: list[tuple[str, str]] = [("To", _address(job.to, whatsapp))]
        sender = job.hint("from") or (self._default_whatsapp_from if whatsapp else self._default_from)
        service = job.hint("messaging_service_sid") or self._messaging_service_sid
        if sender:
            form.append(("From", _address(sender, whatsapp)))
        elif service:
            form.append(("MessagingServiceSid", service))
        else:
            raise PermanentSendError("no From number or MessagingServiceSid for Twilio",
                                     provider=PROVIDER, error_code="sender_not_configured")
        if job.template is not None:
            if not job.template.content_sid:
                raise PermanentSendError(f"template {job.template.name!r} has no Twilio content_sid",
                                         provider=PROVIDER, error_code="template_not_configured")
            form.append(("ContentSid", job.template.content_sid))
            if job.template.params:
                variables = {str(i): value for i, value in enumerate(job.template.params, start=1)}
                form.append(("ContentVariables", json.dumps(variables, ensure_ascii=False)))
        elif whatsapp:
            # WhatsApp carries media natively (MediaUrl); the body is the text alone.
            media = [a.url for a in job.attachments if a.url]
            if job.text:
                form.append(("Body", job.text))
            form.extend(("MediaUrl", url) for url in media)
        else:
            form.append(("Body", text_with_links(job)))
        if self._status_callback:
            form.append(("StatusCallback", self._status_callback))
        return form

    def send(self, job: OutboundJob) -> SendResult:
        response = self._http.request(
            "POST", self._url, provider=PROVIDER, form=self.build_form(job),
            authorization=self._authorization, error_reader=read_twilio_error,
        )
        body = response.json() or {}
        sid = body.get("sid")
        if not sid:
            raise PermanentSendError("Twilio answered without a message sid", provider=PROVIDER, error_code="no_sid")
        status = _STATUS.get(str(body.get("status")), DeliveryStatus.QUEUED)
        return SendResult(PROVIDER, str(sid), status)


def _address(value: str, whatsapp: bool) -> str:
    if not whatsapp:
        return value
    return value if value.startswith("whatsapp:") else f"whatsapp:{value}"


def build_sender(context: SenderContext) -> TwilioSender:
    sid, token = context.require("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
    return TwilioSender(
        account_sid=sid, auth_token=token, base_url=context.api_base,
        public_base_url=context.settings.public_base_url, default_from=context.setting("OMNIHUB_TWILIO_FROM"),
        default_whatsapp_from=context.setting("OMNIHUB_TWILIO_WHATSAPP_FROM"),
        messaging_service_sid=context.setting("OMNIHUB_TWILIO_MESSAGING_SERVICE_SID"), http=context.http,
    )
