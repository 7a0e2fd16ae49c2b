"""What every Twilio webhook form carries, read the same way by each endpoint's parser."""

from __future__ import annotations

from chalicelib.core.model import Channel
from chalicelib.core.timestamps import utc_now
from chalicelib.providers.base import PayloadError, WebhookRequest

PROVIDER = "twilio"


def form_params(request: WebhookRequest) -> dict[str, str]:
    params: dict[str, str] = {}
    for name, value in request.form():
        params.setdefault(name, value)  # Twilio never repeats a messaging parameter
    if not params:
        raise PayloadError("empty form body")
    return params


def received_time(request: WebhookRequest) -> str:
    # Twilio's messaging webhooks carry no event timestamp.
    return request.received_at or utc_now()


def channel_of(address: str) -> tuple[Channel, str | None]:
    """Twilio's channel address prefix → (channel, transport metadata)."""
    prefix, _, _ = address.partition(":")
    prefix = prefix.lower() if ":" in address else ""
    if prefix == "whatsapp":
        return Channel.WHATSAPP, None
    if prefix == "messenger":
        return Channel.MESSENGER, None
    if prefix == "rcs":
        return Channel.SMS, "rcs"
    return Channel.SMS, None
