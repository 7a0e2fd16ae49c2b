"""Vonage Messages API webhooks, ``POST /webhooks/vonage/messages`` (:data:`MESSAGES`).

Point both the application's Inbound URL and Status URL at this endpoint: the two are told apart by
shape (a status webhook carries ``status``, an inbound message ``message_type``). Vonage sends one
event per request and signs each with a JWT (``vonage/signature.py``).
"""

from __future__ import annotations

from chalicelib.core.model import InboundEvent, ModelError
from chalicelib.providers.base import ChannelSpec, LoneSurrogates, PayloadError, WebhookRequest, load_json
from chalicelib.providers.vonage.fields import PROVIDER, unknown_event
from chalicelib.providers.vonage.inbound import inbound_event
from chalicelib.providers.vonage.signature import FORGED_STATUS, SECRET_NAME, verify_vonage_signature
from chalicelib.providers.vonage.status import status_event


def parse_vonage_messages(request: WebhookRequest) -> list[InboundEvent]:
    """One event per webhook (Vonage does not batch): an inbound message or a status."""
    data = load_json(request.body)
    if not isinstance(data, dict):
        raise PayloadError("body must be a JSON object")
    try:
        if "status" in data:
            return [status_event(data, request)]
        if "message_type" in data:
            return [inbound_event(data, request)]
        return [unknown_event(data, request, "unrecognized", {})]
    except ModelError as err:
        raise PayloadError(str(err)) from err


MESSAGES = ChannelSpec(
    provider=PROVIDER,
    secret_names=(SECRET_NAME,),
    verify=verify_vonage_signature,
    parse=parse_vonage_messages,
    forged_status=FORGED_STATUS,
    # Vonage never retries a 4xx: a 400 would lose the message.
    lone_surrogates=LoneSurrogates.REPLACE,
)
