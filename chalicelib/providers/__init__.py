"""One module per provider; each webhook endpoint is a :class:`ChannelSpec` (pure verify/parse)."""

from __future__ import annotations

from importlib import import_module

from chalicelib.providers.base import (
    ChannelSpec,
    PayloadError,
    SignatureError,
    WebhookRequest,
    WebhookResponse,
)

# endpoint name → "module:ATTRIBUTE". Imported on first use, so a webhook's cold start loads
# only its own provider's module.
ENDPOINTS: dict[str, str] = {
    "api": "chalicelib.providers.api:CHANNEL",
    "twilio_messaging": "chalicelib.providers.twilio:MESSAGING",
    "twilio_status": "chalicelib.providers.twilio:STATUS",
    "meta": "chalicelib.providers.meta:CHANNEL",
    "telegram": "chalicelib.providers.telegram:CHANNEL",
    "line": "chalicelib.providers.line:CHANNEL",
    "viber": "chalicelib.providers.viber:CHANNEL",
    "vonage_messages": "chalicelib.providers.vonage:MESSAGES",
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
