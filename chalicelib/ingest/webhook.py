"""The webhook use case: size check → verify → normalize → store → respond.

Nothing is acknowledged to a provider before it is durably stored; a forged or unreadable
request stores nothing; a duplicate is answered 2xx and writes nothing new. The only AWS call on
this path is one conditional PutItem per event (plus an S3 put for a body too large for an item).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from chalicelib.adapters.observability import count, logger
from chalicelib.core.error_codes import code_for_status, error_body, http_status, public_code
from chalicelib.core.errors import PermanentError, RetryableError
from chalicelib.core.ids import event_reference
from chalicelib.core.item_limits import check_inbox_events
from chalicelib.core.model import EventKind, InboundEvent
from chalicelib.core.ports import ExpiringClaims, InboxRepository, SecretReader
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


def error_response(code: str, reason: str | None = None) -> WebhookResponse:
    """``{"error": <code>, "reason": ...}`` with the code's status (chalicelib/core/error_codes.py)."""
    return WebhookResponse(http_status(code), error_body(code, reason))


def ingest_webhook(
    endpoint: str,
    request: WebhookRequest,
    *,
    inbox: InboxRepository,
    secrets: SecretReader,
    now: float | None = None,
    acknowledger: InstantAcknowledger | None = None,
    spec: ChannelSpec | None = None,
    claims: ExpiringClaims | None = None,
) -> IngestResult:
    """``spec``: the endpoint's spec when the route binds one to its deployment (SES: the certificate
    fetcher and the trusted topics); otherwise the registry's. ``claims`` records the one-time token of
    an endpoint that has one (``ChannelSpec.replay_claim``): a token seen before with another body is a
    replay, refused with the endpoint's forged status, after parsing and before anything is stored."""
    spec = channel_spec(endpoint) if spec is None else spec
    moment = time.time() if now is None else now
    if len(request.body) > spec.max_body_bytes:
        count("WebhookRejected", channel=spec.provider)
        return IngestResult(error_response("payload_too_large", f"body exceeds {spec.max_body_bytes} bytes"))
    try:
        provider_secrets = secrets.get_many(spec.secret_names)
    except RetryableError as err:  # the secret store failed: not a forgery, the provider must retry
        count("WebhookSecretsUnavailable", channel=spec.provider)
        logger.error("webhook secrets unavailable", extra={"endpoint": endpoint, "reason": err.reason})
        return IngestResult(error_response("unavailable"))
    refused = _verify(endpoint, spec, request, provider_secrets, moment)
    if refused is not None:
        return IngestResult(refused)
    try:
        events = spec.parse(request)
    except PermanentError as err:
        count("WebhookInvalid", channel=spec.provider)
        logger.info("webhook unreadable", extra={"endpoint": endpoint, "reason": err.reason})
        return IngestResult(error_response(public_code(err), err.reason))
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as err:
        # A parser that missed a case must not turn a signed request into a 500 (and a retry storm):
        # answer 400 naming neither the value (it may be personal data) nor the exception's class.
        count("WebhookInvalid", channel=spec.provider)
        logger.warning("webhook parser fault", extra={"endpoint": endpoint, "error": type(err).__name__})
        return IngestResult(error_response("bad_request", "the payload could not be read"))
    try:  # a batch the table would refuse part-way is refused before anything is claimed, reserved or stored
        check_inbox_events(events)
    except PermanentError as err:
        count("WebhookRejected", channel=spec.provider)
        logger.warning("webhook refused: unstorable", extra={"endpoint": endpoint, "reason": err.reason})
        return IngestResult(error_response(public_code(err), err.reason))
    replayed = _replayed(endpoint, spec, request, claims, moment)
    if replayed is not None:
        return IngestResult(replayed)
    # Where the channel's response reaches the customer, the acknowledgment is decided (and its
    # response built) before the write and carried on the inbox item, so the worker records exactly
    # what was said. A response that cannot be built carries nothing: the worker acknowledges instead.
    answered = next((e for e in events if e.kind is EventKind.MESSAGE), None) if spec.instant_reply else None
    carried = acknowledger(answered) if answered is not None and acknowledger is not None else None
    instant = _instant_response(endpoint, spec, request, answered, carried)
    if instant is None:
        carried = None
    try:
        new_events = _store_events(endpoint, request, events, inbox, moment, answered, carried)
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
            extra={
                "event_ref": event_reference(event.inbox_key), "kind": event.kind.value, "channel": event.channel.value
            },
        )
    count("WebhookEvents", channel=spec.provider, value=len(new_events))
    if len(new_events) < len(events):
        count("WebhookDuplicates", channel=spec.provider, value=len(events) - len(new_events))
    if instant is not None and answered in new_events:
        count("AcknowledgmentsInResponse", channel=spec.provider)
        return IngestResult(instant, tuple(events), tuple(new_events))
    return IngestResult(_plain_response(endpoint, spec, request, events), tuple(events), tuple(new_events))


def _verify(
    endpoint: str, spec: ChannelSpec, request: WebhookRequest, secrets: Mapping[str, str], moment: float
) -> WebhookResponse | None:
    """The handshake's answer or the refusal of a forged request; None for a verified request."""
    try:
        if spec.handshake is not None:
            answer = spec.handshake(request, secrets, moment)
            if answer is not None:
                return answer
        spec.verify(request, secrets, moment)
    except RetryableError as err:  # e.g. a signing certificate that could not be fetched: not a forgery
        count("WebhookVerifyUnavailable", channel=spec.provider)
        logger.error("webhook not verifiable now", extra={"endpoint": endpoint, "reason": err.reason})
        return error_response("unavailable")
    except PermanentError as err:
        count("WebhookForged", channel=spec.provider)
        logger.warning("webhook rejected", extra={"endpoint": endpoint, "reason": err.reason})
        return error_response(_forged_code(spec, err), err.reason)
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as err:
        # A verifier that missed a case fails closed: what could not be verified is refused.
        count("WebhookForged", channel=spec.provider)
        logger.warning("webhook verifier fault", extra={"endpoint": endpoint, "error": type(err).__name__})
        return error_response(code_for_status(spec.forged_status), "the request could not be verified")
    return None


def _replayed(endpoint: str, spec: ChannelSpec, request: WebhookRequest, claims: ExpiringClaims | None,
              moment: float) -> WebhookResponse | None:
    """The refusal of a replayed one-time token; None for a new token or the provider's own retry."""
    if spec.replay_claim is None or claims is None:
        return None
    try:
        claim = spec.replay_claim(request)
        fresh = claims.claim(claim.key, claim.fingerprint, claim.expires_at, now=moment)
    except RetryableError as err:
        logger.error("webhook replay claim unavailable", extra={"endpoint": endpoint, "reason": err.reason})
        return error_response("unavailable")
    except PermanentError as err:  # the token vanished between verify and here: nothing to claim
        return error_response(code_for_status(spec.forged_status), err.reason)
    if fresh:
        return None
    count("WebhookForged", channel=spec.provider)
    logger.warning("webhook replay refused", extra={"endpoint": endpoint})
    return error_response(code_for_status(spec.forged_status), "this request's token was already used")


def _instant_response(
    endpoint: str,
    spec: ChannelSpec,
    request: WebhookRequest,
    answered: InboundEvent | None,
    carried: CarriedAcknowledgment | None,
) -> WebhookResponse | None:
    if carried is None or answered is None or spec.instant_reply is None:
        return None
    try:
        return spec.instant_reply(request, answered, carried.text)
    except Exception as err:  # anything: the event must still be stored and answered 2xx
        logger.warning("instant acknowledgment not built", extra={"endpoint": endpoint, "error": type(err).__name__})
        return None


def _plain_response(
    endpoint: str, spec: ChannelSpec, request: WebhookRequest, events: list[InboundEvent]
) -> WebhookResponse:
    """The provider's ordinary 2xx; never a 500 for something already stored."""
    try:
        return spec.respond(request, events)
    except Exception as err:  # the events are stored: answer 2xx whatever went wrong here
        logger.warning("webhook response not built", extra={"endpoint": endpoint, "error": type(err).__name__})
        return WebhookResponse(200, "", content_type="text/plain")


def _forged_code(spec: ChannelSpec, err: PermanentError) -> str:
    """A refused signature answers the status the provider's retry semantics want (``forged_status``)."""
    code = public_code(err)
    return code_for_status(spec.forged_status) if http_status(code) in (401, 403) else code


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
    fresh: list[InboundEvent] = []
    try:
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
                path=request.path,
            ):
                fresh.append(event)
    except Exception:
        if pointer is not None and not fresh:
            inbox.discard_payload(pointer)  # refused or failed: nothing of this request remains
        raise
    if pointer is not None and not fresh:
        inbox.discard_payload(pointer)  # every event a duplicate: their items point at earlier copies
    return tuple(fresh)
