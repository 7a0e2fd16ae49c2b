"""The webhook use case: size check → verify → normalize → store → respond.

Nothing is acknowledged to a provider before it is durably stored; a forged or unreadable
request stores nothing; a duplicate is answered 2xx and writes nothing new. The only AWS call on
this path is one conditional PutItem per event (plus an S3 put for a body too large for an item).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.adapters.observability import count, logger
from chalicelib.core.error_codes import code_for_status, error_body, http_status, public_code
from chalicelib.core.errors import PermanentError, RetryableError
from chalicelib.core.model import EventKind, InboundEvent
from chalicelib.providers import ChannelSpec, WebhookRequest, WebhookResponse, channel_spec


class InboxStore(Protocol):
    def put_inbox_event(
        self,
        event: InboundEvent,
        *,
        endpoint: str,
        received_at: str,
        raw_body: bytes,
        content_type: str | None,
        raw_pointer: str | None = None,
        now: float | None = None,
        acknowledgment: dict[str, Any] | None = None,
    ) -> bool: ...

    def needs_payload_pointer(self, raw_body: bytes, events: list[InboundEvent]) -> bool: ...

    def archive_payload(self, provider: str, received_at: str, raw_body: bytes) -> str: ...


class InstantAcknowledger(Protocol):
    """Decides, on the webhook path, the acknowledgment a channel's response can carry."""

    def __call__(self, event: InboundEvent) -> Any: ...  # a CarriedAcknowledgment or None


class SecretReader(Protocol):
    def get_many(self, names: tuple[str, ...]) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class IngestResult:
    response: WebhookResponse
    events: tuple[InboundEvent, ...] = ()
    new_events: tuple[InboundEvent, ...] = ()


def error_response(code: str, reason: str | None = None) -> WebhookResponse:
    """``{"error": <code>, "reason": ...}`` with the code's status (chalicelib/core/error_codes.py)."""
    return WebhookResponse(http_status(code), error_body(code, reason))


def ingest_webhook(
    endpoint: str,
    request: WebhookRequest,
    *,
    store: InboxStore,
    secrets: SecretReader,
    now: float | None = None,
    acknowledger: InstantAcknowledger | None = None,
) -> IngestResult:
    spec = channel_spec(endpoint)
    moment = time.time() if now is None else now
    if len(request.body) > spec.max_body_bytes:
        count("WebhookRejected", channel=spec.provider)
        return IngestResult(error_response("payload_too_large", f"body exceeds {spec.max_body_bytes} bytes"))
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
        return IngestResult(error_response(_forged_code(spec, err), err.reason))
    try:
        events = spec.parse(request)
    except PermanentError as err:
        count("WebhookInvalid", channel=spec.provider)
        logger.info("webhook unreadable", extra={"endpoint": endpoint, "reason": err.reason})
        return IngestResult(error_response(public_code(err), err.reason))
    except (ValueError, TypeError, KeyError, OverflowError) as err:
        # A parser that missed a case must not turn a signed request into a 500 (and a retry storm):
        # answer 400 naming neither the value (it may be personal data) nor the exception's class.
        count("WebhookInvalid", channel=spec.provider)
        logger.warning("webhook parser fault", extra={"endpoint": endpoint, "error": type(err).__name__})
        return IngestResult(error_response("bad_request", "the payload could not be read"))
    # Where the channel's response reaches the customer, the acknowledgment is decided before the
    # write and carried on the inbox item, so the worker records exactly what was said.
    answered = next((e for e in events if e.kind is EventKind.MESSAGE), None) if spec.instant_reply else None
    carried = acknowledger(answered) if answered is not None and acknowledger is not None else None
    try:
        new_events = _store_events(endpoint, request, events, store, moment, answered, carried)
    except RetryableError as err:
        logger.error("webhook not stored", extra={"endpoint": endpoint, "reason": err.reason})
        return IngestResult(error_response("unavailable"), tuple(events))
    except PermanentError as err:  # e.g. an event too large for an item even with its body in S3
        logger.warning("webhook refused by the store", extra={"endpoint": endpoint, "reason": err.reason})
        return IngestResult(error_response(public_code(err), err.reason), tuple(events))
    for event in events:
        fresh = event in new_events
        logger.info(
            "webhook event stored" if fresh else "webhook event duplicate",
            extra={"inbox_key": event.inbox_key, "kind": event.kind.value, "channel": event.channel.value},
        )
    count("WebhookEvents", channel=spec.provider, value=len(new_events))
    if len(new_events) < len(events):
        count("WebhookDuplicates", channel=spec.provider, value=len(events) - len(new_events))
    if carried is not None and answered in new_events and spec.instant_reply is not None:
        count("AcknowledgmentsInResponse", channel=spec.provider)
        return IngestResult(spec.instant_reply(request, answered, carried.text), tuple(events), tuple(new_events))
    return IngestResult(spec.respond(request, events), tuple(events), tuple(new_events))


def _forged_code(spec: ChannelSpec, err: PermanentError) -> str:
    """A refused signature answers the status the provider's retry semantics want (``forged_status``)."""
    code = public_code(err)
    return code_for_status(spec.forged_status) if http_status(code) in (401, 403) else code


def _store_events(
    endpoint: str,
    request: WebhookRequest,
    events: list[InboundEvent],
    store: InboxStore,
    moment: float,
    answered: InboundEvent | None = None,
    carried: Any = None,
) -> tuple[InboundEvent, ...]:
    if not events:
        return ()
    pointer = None
    if store.needs_payload_pointer(request.body, events):
        pointer = store.archive_payload(events[0].provider, request.received_at, request.body)
    fresh = []
    for event in events:
        if store.put_inbox_event(
            event,
            endpoint=endpoint,
            received_at=request.received_at,
            raw_body=request.body,
            content_type=request.header("content-type"),
            raw_pointer=pointer,
            now=moment,
            acknowledgment=carried.to_dict() if carried is not None and event is answered else None,
        ):
            fresh.append(event)
    return tuple(fresh)
