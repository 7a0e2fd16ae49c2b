"""One module per provider; each webhook endpoint is a :class:`ChannelSpec` (pure verify/parse)."""

from __future__ import annotations

from importlib import import_module

from chalicelib.channels.base import (
    ChannelSpec,
    PayloadError,
    SignatureError,
    WebhookRequest,
    WebhookResponse,
)

# endpoint name → "module:ATTRIBUTE". Imported on first use, so a webhook's cold start loads
# only its own provider's module.
ENDPOINTS: dict[str, str] = {
    "api": "chalicelib.channels.api:CHANNEL",
    "twilio_messaging": "chalicelib.channels.twilio:MESSAGING",
    "twilio_status": "chalicelib.channels.twilio:STATUS",
    "meta": "chalicelib.channels.meta:CHANNEL",
    "telegram": "chalicelib.channels.telegram:CHANNEL",
    "line": "chalicelib.channels.line:CHANNEL",
    "viber": "chalicelib.channels.viber:CHANNEL",
    "vonage_messages": "chalicelib.channels.vonage:MESSAGES",
}


def channel_spec(endpoint: str) -> ChannelSpec:
    module_name, _, attribute = ENDPOINTS[endpoint].partition(":")
    return getattr(import_module(module_name), attribute)


__all__ = [
    "ENDPOINTS",
    "ChannelSpec",
    "PayloadError",
    "SignatureError",
    "WebhookRequest",
    "WebhookResponse",
    "channel_spec",
]
