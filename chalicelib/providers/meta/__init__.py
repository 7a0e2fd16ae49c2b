"""Meta webhooks (``GET`` + ``POST /webhooks/meta``): WhatsApp Cloud API, Messenger and Instagram.

One app, one callback URL: the payload's ``object`` says which product sent it
(``whatsapp_business_account``, ``page``, ``instagram``), and each has its own entry parser:

- ``signature``: the ``GET`` handshake and ``X-Hub-Signature-256`` over the raw body;
- ``whatsapp``: WhatsApp Cloud ``changes[].value`` messages and statuses;
- ``messaging``: Messenger and Instagram ``messaging[]`` entries;
- ``events``: what they share (ids, timestamps, media hosts, event builders).

This package assembles them into the webhook's :data:`CHANNEL`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.core.model import Channel, InboundEvent
from chalicelib.providers.base import (
    ChannelSpec,
    LoneSurrogates,
    PayloadError,
    WebhookRequest,
    WebhookResponse,
    canonical_id,
    load_json,
)
from chalicelib.providers.meta.events import PROVIDER, unknown_event
from chalicelib.providers.meta.messaging import messaging_entry_parser
from chalicelib.providers.meta.signature import (
    APP_SECRET_NAME,
    VERIFY_TOKEN_NAME,
    answer_meta_verification,
    verify_meta_signature,
)
from chalicelib.providers.meta.signature import (
    sign_meta_payload as sign_meta_payload,  # re-exported: callers sign bodies as Meta does
)
from chalicelib.providers.meta.whatsapp import parse_whatsapp_entry

MAX_BODY_BYTES = 3 * 1024 * 1024  # WhatsApp webhook payloads can be up to 3 MB


_ENTRY_PARSERS: Mapping[str, Callable[[dict[str, Any], WebhookRequest], list[InboundEvent]]] = {
    "whatsapp_business_account": parse_whatsapp_entry,
    "page": messaging_entry_parser(Channel.MESSENGER, "page"),
    "instagram": messaging_entry_parser(Channel.INSTAGRAM, "instagram"),
}


def parse_meta_event(request: WebhookRequest) -> list[InboundEvent]:
    data = load_json(request.body)
    if not isinstance(data, dict):
        raise PayloadError("body must be a JSON object")
    object_name = data.get("object")
    entries = data.get("entry")
    if not isinstance(object_name, str) or not isinstance(entries, list):
        raise PayloadError("a Meta webhook needs \"object\" and an \"entry\" list")
    parse_entry = _ENTRY_PARSERS.get(object_name)
    if parse_entry is None:
        # An object this hub does not subscribe to (user, permissions, ...): kept, never fatal.
        # WhatsApp is the endpoint's main product, so the event is filed there.
        return [unknown_event(Channel.WHATSAPP, canonical_id([data]), request.received_at, f"object:{object_name}",
                              {"object": object_name})]
    events: list[InboundEvent] = []
    for entry in entries:
        if not isinstance(entry, dict):
            # Not an entry at all: kept raw like any unreadable event, the rest of the batch is stored.
            events.append(unknown_event(Channel.WHATSAPP, canonical_id([object_name, entry]), request.received_at,
                                        "invalid_entry", {"object": object_name, "reason": "invalid_entry"}))
            continue
        events.extend(parse_entry(entry, request))
    return events


def respond_meta(request: WebhookRequest, events: list[InboundEvent]) -> WebhookResponse:
    return WebhookResponse(200, '{"ok":true}')


CHANNEL = ChannelSpec(
    provider=PROVIDER,
    secret_names=(APP_SECRET_NAME, VERIFY_TOKEN_NAME),
    verify=verify_meta_signature,
    parse=parse_meta_event,
    handshake=answer_meta_verification,
    respond=respond_meta,
    max_body_bytes=MAX_BODY_BYTES,
    # Meta resends the same bytes and batches other customers' events: keep the event, flag it.
    lone_surrogates=LoneSurrogates.REPLACE,
)
