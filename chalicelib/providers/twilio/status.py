"""Twilio message status callbacks, ``POST /webhooks/twilio/status``: one event per transition.

Signed like every Twilio webhook (``twilio/signature.py``); Twilio ignores the answer's body.
"""

from __future__ import annotations

from chalicelib.core.model import DeliveryStatus, EventKind, InboundEvent, ModelError
from chalicelib.providers.base import (
    ChannelSpec,
    LoneSurrogates,
    PayloadError,
    WebhookRequest,
    WebhookResponse,
)
from chalicelib.providers.twilio.fields import PROVIDER, channel_of, form_params, received_time
from chalicelib.providers.twilio.signature import FORGED_STATUS, SECRET_NAME, verify_twilio_signature

# Twilio's MessageStatus values (Message resource) → the hub's monotonic delivery status.
STATUS_MAP: dict[str, DeliveryStatus] = {
    "accepted": DeliveryStatus.QUEUED,  # a Messaging Service took it
    "scheduled": DeliveryStatus.QUEUED,
    "queued": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.QUEUED,  # still inside Twilio
    "sent": DeliveryStatus.SENT,
    "partially_delivered": DeliveryStatus.SENT,  # some segments only: not yet delivered
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "undelivered": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
    "canceled": DeliveryStatus.FAILED,  # a scheduled message that will never go out
    "receiving": DeliveryStatus.RECEIVED,  # inbound message statuses
    "received": DeliveryStatus.RECEIVED,
}


def parse_twilio_status(request: WebhookRequest) -> list[InboundEvent]:
    """A status callback for a message we sent: one event per transition, ``<MessageSid>#<status>``."""
    params = form_params(request)
    message_sid = params.get("MessageSid") or params.get("SmsSid")
    raw_status = (params.get("MessageStatus") or params.get("SmsStatus") or "").strip().lower()
    if not message_sid:
        raise PayloadError("MessageSid is required")
    if not raw_status:
        raise PayloadError("MessageStatus is required")
    to_address, from_address = params.get("To") or "", params.get("From") or ""
    channel, transport = channel_of(to_address if ":" in to_address else from_address)
    metadata = {"twilio_status": raw_status}
    for name, key in (
        ("To", "to"),
        ("From", "from"),
        ("ErrorMessage", "error_message"),
        ("AccountSid", "account_sid"),
        ("MessagingServiceSid", "messaging_service_sid"),
        ("RawDlrDoneDate", "raw_dlr_done_date"),
        ("ChannelStatusMessage", "channel_status_message"),
    ):
        if params.get(name):
            metadata[key] = params[name]
    if transport:
        metadata["transport"] = transport
    status = STATUS_MAP.get(raw_status)
    try:
        if status is None:
            return [
                InboundEvent(
                    provider=PROVIDER,
                    event_id=f"{message_sid}#{raw_status}",
                    kind=EventKind.UNKNOWN,
                    channel=channel,
                    occurred_at=received_time(request),
                    provider_message_id=message_sid,
                    metadata={**metadata, "type": f"status:{raw_status}"},
                )
            ]
        return [
            InboundEvent(
                provider=PROVIDER,
                event_id=f"{message_sid}#{raw_status}",
                kind=EventKind.DELIVERY_STATUS,
                channel=channel,
                occurred_at=received_time(request),
                provider_message_id=message_sid,
                status=status,
                error_code=params.get("ErrorCode") or None,
                metadata=metadata,
            )
        ]
    except ModelError as err:
        raise PayloadError(str(err)) from err


def respond_twilio_status(request: WebhookRequest, events: list[InboundEvent]) -> WebhookResponse:
    """Twilio ignores the body of a status callback's answer: 200, empty."""
    return WebhookResponse(200, "", content_type="text/plain")


STATUS = ChannelSpec(
    provider=PROVIDER,
    secret_names=(SECRET_NAME,),
    verify=verify_twilio_signature,
    parse=parse_twilio_status,
    respond=respond_twilio_status,
    forged_status=FORGED_STATUS,
    # Twilio never retries a 4xx: a 400 would lose the status.
    lone_surrogates=LoneSurrogates.REPLACE,
)
