"""Viber REST bot API: ``POST /pa/send_message`` with ``X-Viber-Auth-Token``.

Viber answers HTTP 200 to everything it parsed; the outcome is ``status`` in the body (0 = ok) and
``message_token`` is a 64-bit integer, kept as a string (it exceeds 2^53).
"""

from __future__ import annotations

import json
from typing import Any

from chalicelib.core.model import Channel, DeliveryStatus
from chalicelib.outbound.errors import PermanentSendError, TransientSendError
from chalicelib.outbound.http import HttpClient, HttpResponse, ProviderErrorDetail
from chalicelib.outbound.job import OutboundJob
from chalicelib.outbound.senders.base import SenderContext, SendResult, text_with_links

PROVIDER = "viber"
DEFAULT_SENDER_NAME = "Customer care"
MIN_API_VERSION = 1

# https://developers.viber.com/docs/api/rest-bot-api/#error-codes
VIBER_STATUS_NAMES = {
    1: "invalidUrl", 2: "invalidAuthToken", 3: "badData", 4: "missingData", 5: "receiverNotRegistered",
    6: "receiverNotSubscribed", 7: "publicAccountBlocked", 8: "publicAccountNotFound",
    9: "publicAccountSuspended", 10: "webhookNotSet", 11: "receiverNoSuitableDevice",
    12: "tooManyRequests", 13: "apiVersionNotSupported", 14: "incompatibleWithVersion",
}
_TRANSIENT_STATUSES = frozenset({12})


def _parse(body: bytes) -> Any:
    try:
        # Integers are parsed exactly by Python; they become strings below.
        return json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        return None


def read_viber_error(response: HttpResponse) -> ProviderErrorDetail:
    body = _parse(response.body)
    if not isinstance(body, dict):
        return ProviderErrorDetail()
    return ProviderErrorDetail(code=str(body.get("status")), message=body.get("status_message"))


class ViberSender:
    provider = PROVIDER

    def __init__(self, *, auth_token: str, base_url: str,
                 sender_name: str = DEFAULT_SENDER_NAME, sender_avatar: str | None = None,
                 http: HttpClient | None = None) -> None:
        self._headers = {"X-Viber-Auth-Token": auth_token}
        self._url = f"{base_url.rstrip('/')}/pa/send_message"
        self._sender_name = sender_name
        self._sender_avatar = sender_avatar
        self._http = http or HttpClient()

    def build_body(self, job: OutboundJob) -> dict[str, Any]:
        if job.channel is not Channel.VIBER:
            raise PermanentSendError(f"Viber does not send on {job.channel.value}",
                                     provider=PROVIDER, error_code="unsupported_channel")
        sender: dict[str, str] = {"name": (job.hint("sender_name") or self._sender_name)[:28]}
        avatar = job.hint("sender_avatar") or self._sender_avatar
        if avatar:
            sender["avatar"] = avatar
        return {
            "receiver": job.to,
            "min_api_version": MIN_API_VERSION,
            "sender": sender,
            "tracking_data": job.outbound_id,
            "type": "text",
            "text": text_with_links(job),
        }

    def send(self, job: OutboundJob) -> SendResult:
        response = self._http.request("POST", self._url, provider=PROVIDER, headers=self._headers,
                                      json_body=self.build_body(job), error_reader=read_viber_error)
        body = _parse(response.body)
        if not isinstance(body, dict):
            raise TransientSendError("Viber answered with no JSON", provider=PROVIDER, error_code="bad_answer",
                                     http_status=response.status, ambiguous=True)
        status = body.get("status")
        if status != 0:
            name = VIBER_STATUS_NAMES.get(status if isinstance(status, int) else -1, "otherError")
            message = f"{name}: {body.get('status_message') or ''}".rstrip(": ")
            if status in _TRANSIENT_STATUSES:
                raise TransientSendError(message, provider=PROVIDER, error_code=str(status),
                                         http_status=response.status)
            raise PermanentSendError(message, provider=PROVIDER, error_code=str(status), http_status=response.status)
        token = body.get("message_token")
        if token is None:
            raise PermanentSendError("Viber answered without a message_token", provider=PROVIDER, error_code="no_id")
        return SendResult(PROVIDER, str(token), DeliveryStatus.SENT)


def build_sender(context: SenderContext) -> ViberSender:
    (token,) = context.require("VIBER_AUTH_TOKEN")
    return ViberSender(
        auth_token=token, base_url=context.api_base,
        sender_name=context.setting("OMNIHUB_VIBER_SENDER_NAME") or DEFAULT_SENDER_NAME,
        sender_avatar=context.setting("OMNIHUB_VIBER_SENDER_AVATAR"), http=context.http,
    )
