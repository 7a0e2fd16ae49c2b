"""The first answer of a phone call, on the webhook path: read, decide, never silence.

A call webhook (Twilio's voice URL and ``<Dial>``/``<Record>`` action, Vonage's answer URL) is answered
with what the caller hears. :func:`answer_call` decides it from what is already stored (single-item
reads, no write, no outbound call) and from configuration: the caller's name and language and their
open case's reference when the number belongs to a customer, the team's number during business hours,
else the voicemail. :func:`ingest_call` runs the ordinary webhook use case with that answer, and keeps
the promise that a caller never hits silence: when the reads fail the caller is unknown, and when the
event could not be stored the caller still hears the plain greeting and the voicemail (the later
callbacks of the same call carry what this one would have said; Twilio and Vonage do not retry).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.observability import count, logger
from chalicelib.conversations.callers import find_caller
from chalicelib.core.calendar import BusinessCalendar
from chalicelib.core.calls import CallAnswer
from chalicelib.core.errors import ModelError
from chalicelib.core.model import InboundEvent, normalize_phone
from chalicelib.core.ports import InboxRepository, Repositories, SecretReader
from chalicelib.ingest.webhook import IngestResult, ingest_webhook
from chalicelib.providers import WebhookRequest, channel_spec

SUPPORT_NUMBER_SETTING = "OMNIHUB_VOICE_SUPPORT_NUMBER"  # E.164: where calls ring during business hours
DIAL_TIMEOUT_SETTING = "OMNIHUB_VOICE_DIAL_TIMEOUT_SECONDS"  # 5-120, default 20
VOICEMAIL_MAX_SETTING = "OMNIHUB_VOICE_VOICEMAIL_MAX_SECONDS"  # 5-600, default 120

CallAnswerer = Callable[[list[InboundEvent]], CallAnswer]


def _bounded(environ: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    raw = (environ.get(name) or "").strip()
    return min(max(int(raw), low), high) if raw.isdigit() else default


def _phone(value: str | None) -> str | None:
    try:
        return normalize_phone(value) if value else None
    except ModelError:
        return None


@dataclass(frozen=True, slots=True)
class CallSettings:
    support_number: str | None = None
    dial_timeout_seconds: int = 20
    voicemail_max_seconds: int = 120

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> CallSettings:
        return cls(
            support_number=_phone(environ.get(SUPPORT_NUMBER_SETTING)),
            dial_timeout_seconds=_bounded(environ, DIAL_TIMEOUT_SETTING, 20, 5, 120),
            voicemail_max_seconds=_bounded(environ, VOICEMAIL_MAX_SETTING, 120, 5, 600),
        )


def answer_call(
    repos: Repositories,
    events: list[InboundEvent],
    settings: CallSettings,
    calendar: Callable[[], BusinessCalendar],
    now: datetime | None = None,
) -> CallAnswer:
    """What the caller hears; every read that fails leaves its part out rather than the answer."""
    sender = next((e.sender for e in events if e.sender is not None), None)
    called = next((e.metadata["to"] for e in events if e.metadata.get("to")), None)
    moment = now or datetime.now(UTC)
    try:
        open_now = calendar().is_open(moment)
    except Exception as err:  # an unreadable calendar: the voicemail is the answer that always works
        logger.warning("business calendar unreadable; the call goes to the voicemail",
                       extra={"error": type(err).__name__})
        open_now = False
    name = language = reference = None
    if sender is not None:
        try:
            caller = find_caller(repos, sender.identity)
        except Exception as err:  # the store is unavailable: a generic greeting, never silence
            count("CallLookupFailed", channel="voice")
            logger.warning("caller lookup failed; answering as an unknown caller", extra={"error": type(err).__name__})
            caller = None
        if caller is not None:
            name, language, reference = caller.customer.name, caller.customer.language, caller.reference
    return CallAnswer(
        open_now=open_now, support_number=settings.support_number, business_number=_phone(called),
        customer_name=name, language=language, reference=reference,
        dial_timeout_seconds=settings.dial_timeout_seconds, voicemail_max_seconds=settings.voicemail_max_seconds,
    )


def ingest_call(
    endpoint: str,
    request: WebhookRequest,
    *,
    inbox: InboxRepository,
    secrets: SecretReader,
    answerer: CallAnswerer,
    now: float | None = None,
) -> IngestResult:
    """The webhook use case (size, secrets, verify, parse, store) answering with the call's first answer."""
    spec = channel_spec(endpoint)
    respond: Any = spec.respond  # a call responder: (request, events, answer)

    def safe_answer(events: list[InboundEvent]) -> CallAnswer:
        try:
            return answerer(events)
        except Exception as err:  # whatever failed, the caller hears the plain answer
            logger.warning("call answer not decided", extra={"endpoint": endpoint, "error": type(err).__name__})
            return CallAnswer()

    def respond_to_call(req: WebhookRequest, events: list[InboundEvent]) -> Any:
        return respond(req, events, safe_answer(events))

    result = ingest_webhook(endpoint, request, inbox=inbox, secrets=secrets, now=now,
                            spec=replace(spec, respond=respond_to_call))
    if result.response.status >= 500 and result.events:
        # Verified and read, but not stored: answer anyway (a 5xx is silence, and nobody retries it).
        count("CallAnsweredUnstored", channel=spec.provider)
        logger.error("call answered although its event was not stored", extra={"endpoint": endpoint})
        return IngestResult(respond(request, list(result.events), CallAnswer()), result.events)
    return result
