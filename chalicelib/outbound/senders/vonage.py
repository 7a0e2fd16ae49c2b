"""Vonage Messages API: ``POST /v1/messages`` for SMS, WhatsApp, Messenger and Viber Business.

Authentication is HTTP basic with the account's API key and secret, or a Bearer JWT signed with the
application's private key (RS256) when an application id is configured. ``client_ref`` carries the
outbound id so status webhooks map back to the message. Phone numbers go without the ``+``.
Success is ``202 {"message_uuid"}``; errors are RFC 7807 bodies whose ``type`` ends in ``#<code>``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.core.model import Channel, DeliveryStatus
from chalicelib.outbound.errors import PermanentSendError, SenderNotConfigured
from chalicelib.outbound.http import HttpClient, HttpResponse, ProviderErrorDetail, basic_auth, bearer_auth
from chalicelib.outbound.job import OutboundJob
from chalicelib.outbound.senders.base import SenderContext, SendResult, digits_only, text_with_links

PROVIDER = "vonage"
JWT_LIFETIME_SECONDS = 15 * 60

VONAGE_CHANNELS: dict[Channel, str] = {
    Channel.SMS: "sms",
    Channel.WHATSAPP: "whatsapp",
    Channel.MESSENGER: "messenger",
    Channel.VIBER: "viber_service",
}
_PHONE_CHANNELS = frozenset({Channel.SMS, Channel.WHATSAPP, Channel.VIBER})
_TRANSIENT_CODES = frozenset({"1000"})  # Throttled
_WINDOW_CODES = frozenset({"1340"})  # Outside of the allowed window


def read_vonage_error(response: HttpResponse) -> ProviderErrorDetail:
    body = response.json()
    if not isinstance(body, dict):
        return ProviderErrorDetail()
    kind = str(body.get("type") or "")
    code = kind.rsplit("#", 1)[1] if "#" in kind else None
    title = body.get("title")
    detail = body.get("detail")
    message = f"{title}: {detail}" if title and detail else title or detail
    return ProviderErrorDetail(
        code=code or (str(response.status) if response.status else None),
        message=message,
        transient=True if code in _TRANSIENT_CODES else None,
        refusal="window_closed" if code in _WINDOW_CODES else None,
    )


def vonage_application_jwt(application_id: str, private_key: str, now: float | None = None) -> str:
    """An RS256 JWT for the Vonage application (needs PyJWT with the crypto extra at runtime)."""
    try:
        import jwt  # only when JWT authentication is configured
    except ImportError as err:  # pragma: no cover - depends on the deployment package
        raise SenderNotConfigured("Vonage JWT auth needs PyJWT[crypto]; use API key/secret or install it",
                                  provider=PROVIDER) from err
    issued = int(time.time() if now is None else now)
    claims = {"application_id": application_id, "iat": issued, "exp": issued + JWT_LIFETIME_SECONDS,
              "jti": str(uuid.uuid4())}
    return jwt.encode(claims, private_key.replace("\\n", "\n"), algorithm="RS256")


class VonageSender:
    provider = PROVIDER

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str | None = None,
        api_secret: str | None = None,
        application_id: str | None = None,
        private_key: str | None = None,
        default_from: Mapping[str, str] | None = None,  # channel value → sender (number, page id, service id)
        http: HttpClient | None = None,
    ) -> None:
        if application_id and private_key:
            self._authorization: Callable[[], str] = lambda: bearer_auth(
                vonage_application_jwt(application_id, private_key))
        elif api_key and api_secret:
            static = basic_auth(api_key, api_secret)
            self._authorization = lambda: static
        else:
            raise SenderNotConfigured("Vonage needs VONAGE_API_KEY + VONAGE_API_SECRET or "
                                      "VONAGE_APPLICATION_ID + VONAGE_PRIVATE_KEY", provider=PROVIDER)
        self._url = f"{base_url.rstrip('/')}/v1/messages"
        self._default_from = dict(default_from or {})
        self._http = http or HttpClient()

    def build_body(self, job: OutboundJob) -> dict[str, Any]:
        channel = VONAGE_CHANNELS.get(job.channel)
        if channel is None:
            raise PermanentSendError(f"Vonage Messages does not send on {job.channel.value}",
                                     provider=PROVIDER, error_code="unsupported_channel")
        sender = job.hint("from") or self._default_from.get(job.channel.value)
        if not sender:
            raise PermanentSendError(f"no Vonage sender ('from') for {job.channel.value}",
                                     provider=PROVIDER, error_code="sender_not_configured")
        phone = job.channel in _PHONE_CHANNELS
        body: dict[str, Any] = {
            "channel": channel,
            "to": digits_only(job.to) if phone else job.to,
            "from": digits_only(sender) if job.channel in (Channel.SMS, Channel.WHATSAPP) else sender,
            "client_ref": job.outbound_id,
        }
        if job.channel is Channel.WHATSAPP and job.template is not None:
            # "custom" carries the WhatsApp Cloud API template object unchanged.
            template: dict[str, Any] = {"name": job.template.name,
                                        "language": {"policy": "deterministic", "code": job.template.language}}
            if job.template.params:
                template["components"] = [{"type": "body", "parameters": [
                    {"type": "text", "text": value} for value in job.template.params]}]
            body.update(message_type="custom", custom={"type": "template", "template": template})
            return body
        body.update(message_type="text", text=text_with_links(job))
        if job.channel is Channel.MESSENGER:
            body["messenger"] = ({"category": "message_tag", "tag": job.messaging_tag} if job.messaging_tag
                                 else {"category": "response"})
        elif job.channel is Channel.VIBER:
            body["viber_service"] = {"category": "transaction"}
        return body

    def send(self, job: OutboundJob) -> SendResult:
        response = self._http.request("POST", self._url, provider=PROVIDER, json_body=self.build_body(job),
                                      authorization=self._authorization(), error_reader=read_vonage_error)
        body = response.json() or {}
        message_uuid = body.get("message_uuid") if isinstance(body, dict) else None
        if not message_uuid:
            raise PermanentSendError("Vonage answered without a message_uuid", provider=PROVIDER, error_code="no_id")
        return SendResult(PROVIDER, str(message_uuid), DeliveryStatus.QUEUED)


def build_sender(context: SenderContext) -> VonageSender:
    # Either credential pair may be configured (the sender says which one is missing when it sends).
    found = context.optional("VONAGE_APPLICATION_ID", "VONAGE_PRIVATE_KEY", "VONAGE_API_KEY", "VONAGE_API_SECRET")
    return VonageSender(
        base_url=context.api_base, api_key=found.get("VONAGE_API_KEY"),
        api_secret=found.get("VONAGE_API_SECRET"), application_id=found.get("VONAGE_APPLICATION_ID"),
        private_key=found.get("VONAGE_PRIVATE_KEY"),
        default_from={channel.value: value for channel in VONAGE_CHANNELS
                      if (value := context.setting(f"OMNIHUB_VONAGE_{channel.value.upper()}_FROM"))},
        http=context.http,
    )
