"""The webhook use case: size check → verify → normalize → store → respond.

Nothing is acknowledged to a provider before it is durably stored; a forged or unreadable
request stores nothing; a duplicate is answered 2xx and writes nothing new. The only AWS call on
this path is one conditional PutItem per event (plus an S3 put for a body too large for an item).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Protocol

from chalicelib.adapters.observability import count, logger
from chalicelib.core.errors import PermanentError, RetryableError
from chalicelib.core.ids import event_reference
from chalicelib.core.model import EventKind, InboundEvent
from chalicelib.core.ports import InboxRepository, SecretReader
from chalicelib.core.records import CarriedAcknowledgment
from chalicelib.providers import ChannelSpec, WebhookRequest, WebhookResponse, channel_spec


class InstantAcknowledger(Protocol):
    """Decides, on the webhook path, the acknowledgment a channel's response can carry."""

    def __call__(self, event: InboundEvent) -> CarriedAcknowledgment | None: ...


@dataclass(frozen=True, slots=True)
class IngestResult:
    response: WebhookResponse
    events: tuple[InboundEvent, ...] = ()
    new_events: tuple[InboundEvent, ...] = ()


def error_response(status: int, reason: str) -> WebhookResponse:
    return WebhookResponse(status, json.dumps({"error": _ERROR_NAMES.get(status, "error"), "reason": reason}))


_ERROR_NAMES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    406: "not_acceptable",
    413: "payload_too_large",
    503: "unavailable",
}


def ingest_webhook(
    endpoint: str,
    request: WebhookRequest,
    *,
    inbox: InboxRepository,
    secrets: SecretReader,
    now: float | None = None,
    acknowledger: InstantAcknowledger | None = None,
) -> IngestResult:
    spec = channel_spec(endpoint)
    moment = time.time() if now is None else now
    if len(request.body) > spec.max_body_bytes:
        count("WebhookRejected", channel=spec.provider)
        return IngestResult(error_response(413, f"body exceeds {spec.max_body_bytes} bytes"))
    provider_secrets = secrets.get_many(spec.secret_names)
    try:
        if spec.handshake is not None:
            answer = spec.handshake(request, provider_secrets, moment)
            if answer is not None:
                return IngestResult(answer)
        spec.verify(request, provider_secrets, moment)
    except PermanentError as err:
        count("WebhookForged", channel=spec.provider)
        logger.warning("webhook rejected", extra={"endpoint": endpoint, "reason": err.reason})
        return IngestResult(error_response(_forged_status(spec, err), err.reason))
    try:
        events = spec.parse(request)
    except PermanentError as err:
        count("WebhookInvalid", channel=spec.provider)
        logger.info("webhook unreadable", extra={"endpoint": endpoint, "reason": err.reason})
        return IngestResult(error_response(err.status, err.reason))
    except (ValueError, TypeError, KeyError, OverflowError) as err:
        # A parser that missed a case must not turn a signed request into a 500 (and a retry storm):
        # answer 400 with the kind of fault, never the value, which may be personal data.
        count("WebhookInvalid", channel=spec.provider)
        logger.warning("webhook parser fault", extra={"endpoint": endpoint, "error": type(err).__name__})
        return IngestResult(error_response(400, f"the payload could not be read ({type(err).__name__})"))
    # Where the channel's response reaches the customer, the acknowledgment is decided before the
    # write and carried on the inbox item, so the worker records exactly what was said.
    answered = next((e for e in events if e.kind is EventKind.MESSAGE), None) if spec.instant_reply else None
    carried = acknowledger(answered) if answered is not None and acknowledger is not None else None
    try:
        new_events = _store_events(endpoint, request, events, inbox, moment, answered, carried)
    except RetryableError as err:
        logger.error("webhook not stored", extra={"endpoint": endpoint, "reason": err.reason})
        return IngestResult(error_response(503, "not stored, retry later"), tuple(events))
    except PermanentError as err:  # e.g. an event too large for an item even with its body in S3
        logger.warning("webhook refused by the store", extra={"endpoint": endpoint, "reason": err.reason})
        return IngestResult(error_response(err.status, err.reason), tuple(events))
    for event in events:
        fresh = event in new_events
        logger.info(
            "webhook event stored" if fresh else "webhook event duplicate",
            extra={
                "event_ref": event_reference(event.inbox_key), "kind": event.kind.value, "channel": event.channel.value
            },
        )
    count("WebhookEvents", channel=spec.provider, value=len(new_events))
    if len(new_events) < len(events):
        count("WebhookDuplicates", channel=spec.provider, value=len(events) - len(new_events))
    if carried is not None and answered in new_events and spec.instant_reply is not None:
        count("AcknowledgmentsInResponse", channel=spec.provider)
        return IngestResult(spec.instant_reply(request, answered, carried.text), tuple(events), tuple(new_events))
    return IngestResult(spec.respond(request, events), tuple(events), tuple(new_events))


def _forged_status(spec: ChannelSpec, err: PermanentError) -> int:
    return spec.forged_status if err.status in (401, 403) else err.status


def _store_events(
    endpoint: str,
    request: WebhookRequest,
    events: list[InboundEvent],
    inbox: InboxRepository,
    moment: float,
    answered: InboundEvent | None = None,
    carried: CarriedAcknowledgment | None = None,
) -> tuple[InboundEvent, ...]:
    if not events:
        return ()
    pointer = None
    if inbox.needs_payload_pointer(request.body, events):
        pointer = inbox.archive_payload(events[0].provider, request.received_at, request.body)
    fresh = []
    for event in events:
        if inbox.put(
            event,
            endpoint=endpoint,
            received_at=request.received_at,
            raw_body=request.body,
            content_type=request.header("content-type"),
            raw_pointer=pointer,
            now=moment,
            acknowledgment=carried if event is answered else None,
        ):
            fresh.append(event)
    return tuple(fresh)
