"""One module per provider; each webhook endpoint is a :class:`ChannelSpec` (pure verify/parse).

Every provider is registered once, in :mod:`chalicelib.providers.registry`.
"""

from __future__ import annotations

from chalicelib.providers.base import (
    ChannelSpec,
    PayloadError,
    SignatureError,
    WebhookRequest,
    WebhookResponse,
)
from chalicelib.providers.registry import load, webhook_endpoints

# endpoint name → "module:ATTRIBUTE" of its ChannelSpec (a view of the registry). Imported on first
# use, so a webhook's cold start loads only its own provider's module.
ENDPOINTS: dict[str, str] = {name: endpoint.spec for name, endpoint in webhook_endpoints().items()}


def channel_spec(endpoint: str) -> ChannelSpec:
    spec: ChannelSpec = load(ENDPOINTS[endpoint])
    return spec


__all__ = [
    "ENDPOINTS",
    "ChannelSpec",
    "PayloadError",
    "SignatureError",
    "WebhookRequest",
    "WebhookResponse",
    "channel_spec",
]
