"""Vonage Voice: the answer webhook (an NCCO) and the event webhook, as CALL events.

- ``GET|POST /webhooks/vonage/voice/answer``: the call arrives (``from``, ``to``, ``uuid``,
  ``conversation_uuid``; a query string by default, JSON when the application's answer method is POST);
  the answer is the NCCO of :func:`ncco_for_call`, built from what storage already knows
- ``POST /webhooks/vonage/voice/event``: every leg's status, the ``connect`` leg towards the team
  (``eventType: synchronous``, so a leg nobody answered can be answered with the voicemail NCCO),
  the ``record`` event (``recording_url``) and the transcription event (``transcription_url``)

Both verify Vonage's signed-webhook JWT (``vonage/signature.py``). A GET has no body, so its query
is not covered by the token: the token must then be fresh (:data:`ANSWER_MAX_AGE_SECONDS`), which
bounds a replay to minutes, and what it returns is only the greeting of a caller (no stored data).

The call id is ``conversation_uuid``: the caller's leg, the leg ``connect`` creates towards the
team and the recording all share it, whereas ``uuid`` is per leg.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from chalicelib.core import calls
from chalicelib.core.calls import CallAnswer, CallCallbacks, CallGreeting, CallStage, CallState
from chalicelib.core.media import is_provider_media_url
from chalicelib.core.model import Channel, EventKind, InboundEvent, ModelError, Sender
from chalicelib.providers.base import (
    ChannelSpec,
    LoneSurrogates,
    PayloadError,
    Secrets,
    SignatureError,
    WebhookRequest,
    WebhookResponse,
    canonical_id,
    constant_time_equal,
    identity_or_error,
    load_json,
    require_secret,
)
from chalicelib.providers.vonage.fields import PROVIDER, occurred_at, text_value
from chalicelib.providers.vonage.inbound import MEDIA_HOSTS
from chalicelib.providers.vonage.signature import (
    AUTHORIZATION_HEADER,
    FORGED_STATUS,
    SECRET_NAME,
    payload_hash,
    verified_claims,
)

ANSWER_PATH = "/webhooks/vonage/voice/answer"
EVENT_PATH = "/webhooks/vonage/voice/event"
ANSWER_MAX_AGE_SECONDS = 600  # the answer webhook is synchronous: Vonage never sends it hours later
NCCO_CONTENT_TYPE = "application/json"

CALL_STATES: dict[str, CallState] = {
    "started": CallState.RINGING,
    "ringing": CallState.RINGING,
    "answered": CallState.IN_PROGRESS,
    "completed": CallState.COMPLETED,
    "busy": CallState.BUSY,
    "rejected": CallState.BUSY,
    "timeout": CallState.NO_ANSWER,
    "unanswered": CallState.NO_ANSWER,
    "cancelled": CallState.CANCELED,
    "failed": CallState.FAILED,
}
_LEG_ANSWERED = frozenset({"answered", "completed"})
_LEG_MISSED = frozenset({"busy", "rejected", "timeout", "unanswered", "cancelled", "failed"})
_ANONYMOUS = frozenset({"unknown", "anonymous", "private", "restricted", "withheld"})


# ---- verification -------------------------------------------------------------------------------------


def verify_vonage_voice_signature(request: WebhookRequest, secrets: Secrets, now: float) -> None:
    """The signed-webhook JWT; ``payload_hash`` must match a body, and a bodiless GET must be fresh."""
    secret = require_secret(secrets, SECRET_NAME)
    scheme, _, token = (request.header(AUTHORIZATION_HEADER) or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise SignatureError("unsigned Vonage callback: no Bearer JWT")
    claims = verified_claims(token.strip(), secret, now, required=("iat",))
    claimed_hash = claims.get("payload_hash")
    if request.body or claimed_hash is not None:
        if not isinstance(claimed_hash, str) or not claimed_hash:
            raise SignatureError("the JWT has no payload_hash")
        if not constant_time_equal(payload_hash(request.body), claimed_hash.strip().lower()):
            raise SignatureError("payload_hash does not match the body")
    if not request.body and float(claims["iat"]) < now - ANSWER_MAX_AGE_SECONDS:
        raise SignatureError("the JWT of a request without a body is too old")


# ---- parsing -------------------------------------------------------------------------------------------


def _fields(request: WebhookRequest) -> dict[str, Any]:
    if request.method.upper() == "GET" or not request.body:
        return dict(request.query)
    data = load_json(request.body)
    if not isinstance(data, dict):
        raise PayloadError("the body must be a JSON object")
    return data


def _caller(data: dict[str, Any], metadata: dict[str, str]) -> Sender | None:
    raw = text_value(data.get("from"))
    if not raw:
        return None
    if raw.lower() in _ANONYMOUS:
        metadata[calls.CALLER] = "anonymous"
        return None
    try:
        identity = identity_or_error(Channel.VOICE, raw)
    except PayloadError:
        metadata[calls.CALLER] = "unreadable"
        return None
    return Sender(identity=identity, phone=identity.address)


def _event(request: WebhookRequest, data: dict[str, Any], call_id: str, suffix: str, stage: CallStage,
           metadata: dict[str, str], *, with_sender: bool = True) -> InboundEvent:
    metadata = {calls.CALL_ID: call_id, calls.CALL_STAGE: stage.value, **metadata}
    if text_value(data.get("to")):
        metadata["to"] = str(data["to"])
    sender = _caller(data, metadata) if with_sender else None
    try:
        return InboundEvent(provider=PROVIDER, event_id=f"{call_id}#{suffix}", kind=EventKind.CALL,
                            channel=Channel.VOICE, occurred_at=occurred_at(data, request), sender=sender,
                            provider_message_id=call_id, metadata=metadata)
    except ModelError as err:
        raise PayloadError(str(err)) from err


def _call_id(data: dict[str, Any]) -> str:
    call_id = text_value(data.get("conversation_uuid"))
    if not call_id:
        raise PayloadError("conversation_uuid is required")
    return call_id


def parse_vonage_answer(request: WebhookRequest) -> list[InboundEvent]:
    data = _fields(request)
    call_id = _call_id(data)
    metadata = {calls.CALL_DIRECTION: "inbound", calls.CALL_STATE: CallState.IN_PROGRESS.value}
    if text_value(data.get("uuid")):
        metadata["leg_id"] = str(data["uuid"])
    return [_event(request, data, call_id, "answer", CallStage.CALL, metadata)]


def _kept_url(url: str | None, key: str, metadata: dict[str, str]) -> None:
    if url and is_provider_media_url(url, MEDIA_HOSTS):
        metadata[key] = url
    elif url:
        metadata[calls.DROPPED_RECORDING_URL] = "true"


def _duration(value: Any) -> str | None:
    text = text_value(value)
    return str(int(text)) if text and text.isdigit() and len(text) <= 7 else None


def _status_event(request: WebhookRequest, data: dict[str, Any], call_id: str, status: str) -> InboundEvent:
    leg = text_value(data.get("uuid")) or "leg"
    direction = (text_value(data.get("direction")) or "").lower()
    metadata = {"vonage_status": status, "leg_id": leg}
    duration = _duration(data.get("duration"))
    if duration is not None:
        metadata[calls.DURATION] = duration
    state = CALL_STATES.get(status)
    if direction == "outbound":
        # The leg connect placed towards the team: it says whether someone answered, not how the call ended.
        metadata[calls.CALL_DIRECTION] = "inbound"
        if status in _LEG_ANSWERED or status in _LEG_MISSED:
            metadata[calls.AGENT_ANSWERED] = "true" if status in _LEG_ANSWERED else "false"
        return _event(request, data, call_id, f"dial#{leg}#{status}", CallStage.DIAL, metadata, with_sender=False)
    if direction == "inbound":
        metadata[calls.CALL_DIRECTION] = "inbound"
    if state is not None:
        metadata[calls.CALL_STATE] = state.value
    return _event(request, data, call_id, f"status#{leg}#{status}", CallStage.STATUS, metadata)


def parse_vonage_voice_event(request: WebhookRequest) -> list[InboundEvent]:
    """A leg status, a recording or a transcription; any other event is kept as UNKNOWN, never refused."""
    data = _fields(request)
    call_id = _call_id(data)
    metadata: dict[str, str] = {}
    if (text_value(data.get("type")) or "").lower() == "transcription" or "transcription_url" in data:
        recording = text_value(data.get("recording_uuid")) or ""
        metadata[calls.TRANSCRIPTION_STATUS] = (text_value(data.get("status")) or "unknown").lower()
        if recording:
            metadata[calls.RECORDING_ID] = recording
        _kept_url(text_value(data.get("transcription_url")), calls.TRANSCRIPTION_URL, metadata)
        return [_event(request, data, call_id, f"transcription#{recording}", CallStage.TRANSCRIPTION, metadata,
                       with_sender=False)]
    if "recording_url" in data or "recording_uuid" in data:
        recording_id = text_value(data.get("recording_uuid"))
        if not recording_id:
            raise PayloadError("recording_uuid is required")
        metadata[calls.RECORDING_ID] = recording_id
        _kept_url(text_value(data.get("recording_url")), calls.RECORDING_URL, metadata)
        return [_event(request, data, call_id, f"recording#{recording_id}", CallStage.RECORDING, metadata,
                       with_sender=False)]
    status = (text_value(data.get("status")) or "").lower()
    if status:
        return [_status_event(request, data, call_id, status)]
    try:
        return [InboundEvent(provider=PROVIDER, event_id=canonical_id(data, prefix=f"{call_id}#"),
                             kind=EventKind.UNKNOWN, channel=Channel.VOICE, occurred_at=occurred_at(data, request),
                             provider_message_id=call_id,
                             metadata={calls.CALL_ID: call_id, "type": text_value(data.get("type")) or "event"})]
    except ModelError as err:
        raise PayloadError(str(err)) from err


# ---- the answers: NCCO ---------------------------------------------------------------------------------


def _number(phone: str) -> str:
    return phone.lstrip("+")  # Vonage writes numbers without the +


def _talk(text: str, locale: str) -> dict[str, Any]:
    return {"action": "talk", "text": text, "language": locale}


def _voicemail(greeting: CallGreeting, *, after_no_answer: bool) -> list[dict[str, Any]]:
    return [
        _talk(greeting.voicemail_prompt(after_no_answer=after_no_answer), greeting.locale),
        {
            "action": "record",
            "format": "mp3",
            "endOnSilence": 3,
            "timeOut": greeting.voicemail_max_seconds,
            "beepStart": True,
            "eventUrl": [greeting.callbacks.recording],
            "eventMethod": "POST",
            "transcription": {"language": greeting.locale, "eventUrl": [greeting.callbacks.transcription],
                              "eventMethod": "POST"},
        },
    ]


def ncco_for_call(greeting: CallGreeting) -> list[dict[str, Any]]:
    """The answer to an incoming call: greeting and reference, then the team (open) or the voicemail."""
    ncco = [_talk(" ".join(greeting.opening_lines()), greeting.locale)]
    if not (greeting.dials and greeting.support_number):
        return ncco + _voicemail(greeting, after_no_answer=False)
    connect: dict[str, Any] = {
        "action": "connect",
        # synchronous: a leg nobody answered is reported to eventUrl, whose NCCO (the voicemail) replaces this one.
        "eventType": "synchronous",
        "timeout": greeting.dial_timeout_seconds,
        "eventUrl": [greeting.callbacks.action],
        "eventMethod": "POST",
        "endpoint": [{"type": "phone", "number": _number(greeting.support_number)}],
    }
    if greeting.business_number:
        connect["from"] = _number(greeting.business_number)
    else:
        connect["randomFromNumber"] = True
    return [*ncco, _talk(greeting.prompt("connecting"), greeting.locale), connect]


def ncco_after_event(greeting: CallGreeting, events: list[InboundEvent]) -> list[dict[str, Any]] | None:
    """The voicemail when the team's leg went unanswered; None (the call goes on) otherwise."""
    missed = any(e.metadata.get(calls.CALL_STAGE) == CallStage.DIAL.value
                 and e.metadata.get(calls.AGENT_ANSWERED) == "false" for e in events)
    return _voicemail(greeting, after_no_answer=True) if missed else None


def callbacks_for(public_url: str) -> CallCallbacks:
    """Every Vonage callback goes to the event webhook, under the public base Vonage just called."""
    parts = urlsplit(public_url)
    event_url = urlunsplit((parts.scheme, parts.netloc, EVENT_PATH, "", ""))
    return CallCallbacks(action=event_url, recording=event_url, transcription=event_url)


def _greeting(request: WebhookRequest, answer: CallGreeting | CallAnswer | None) -> CallGreeting:
    """The greeting to speak: as given, or the hub's answer with this provider's callbacks; without one
    (nothing could be read) an unknown caller, straight to the voicemail: never silence."""
    if isinstance(answer, CallGreeting):
        return answer
    return (answer or CallAnswer()).greeting(callbacks_for(request.public_url or "https://invalid.example"))


def respond_vonage_answer(request: WebhookRequest, events: list[InboundEvent],
                          greeting: CallGreeting | CallAnswer | None = None) -> WebhookResponse:
    ncco = ncco_for_call(_greeting(request, greeting))
    return WebhookResponse(200, json.dumps(ncco, ensure_ascii=False), content_type=NCCO_CONTENT_TYPE)


def respond_vonage_event(request: WebhookRequest, events: list[InboundEvent],
                         greeting: CallGreeting | CallAnswer | None = None) -> WebhookResponse:
    ncco = ncco_after_event(_greeting(request, greeting), events)
    return WebhookResponse(200, "" if ncco is None else json.dumps(ncco, ensure_ascii=False),
                           content_type=NCCO_CONTENT_TYPE)


VOICE_ANSWER = ChannelSpec(provider=PROVIDER, secret_names=(SECRET_NAME,), verify=verify_vonage_voice_signature,
                           parse=parse_vonage_answer, respond=respond_vonage_answer, forged_status=FORGED_STATUS)
VOICE_EVENT = ChannelSpec(provider=PROVIDER, secret_names=(SECRET_NAME,), verify=verify_vonage_voice_signature,
                          parse=parse_vonage_voice_event, respond=respond_vonage_event, forged_status=FORGED_STATUS,
                          lone_surrogates=LoneSurrogates.REFUSE)

