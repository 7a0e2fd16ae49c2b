"""Twilio Voice: the incoming-call webhook and its callbacks as CALL events, and the TwiML answer.

- ``POST /webhooks/twilio/voice``: the call arrives (:data:`VOICE`); the answer is TwiML from
  :func:`twiml_for_call`, built from what storage already knows (no outbound call on this path)
- ``.../voice/status``: the caller's leg progresses and ends (:data:`VOICE_STATUS`)
- ``.../voice/action``: what to do next, asked by ``<Dial action>`` (``DialCallStatus``: did the team
  answer?) and by ``<Record action>`` (the voicemail is recorded) (:data:`VOICE_ACTION`)
- ``.../voice/recording`` and ``.../voice/transcription``: the voicemail's file and its text

Every endpoint is signed like Twilio messaging (``twilio/signature.py``). Each callback has an
``event_id`` of its own under the call's ``CallSid`` (``CA..#status#completed``, ``CA..#recording#RE..``),
so a repeated callback is a duplicate, and the call message folds them in any order
(``chalicelib/conversations/calls.py``). The identity is ``("voice", From)``: the same customer as on
SMS and WhatsApp. A withheld caller id still yields CALL events (without a sender), never a refusal:
Twilio does not retry a 4xx and the call would be forgotten.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from chalicelib.core import calls
from chalicelib.core.calls import CallAnswer, CallCallbacks, CallGreeting, CallStage, CallState
from chalicelib.core.media import is_provider_media_url
from chalicelib.core.model import Channel, EventKind, InboundEvent, ModelError, Sender
from chalicelib.providers.base import (
    ChannelSpec,
    LoneSurrogates,
    Parser,
    PayloadError,
    Responder,
    WebhookRequest,
    WebhookResponse,
    identity_or_error,
)
from chalicelib.providers.twilio.fields import PROVIDER, form_params, received_time
from chalicelib.providers.twilio.messaging import TWIML_CONTENT_TYPE
from chalicelib.providers.twilio.signature import FORGED_STATUS, SECRET_NAME, verify_twilio_signature

VOICE_PATH = "/webhooks/twilio/voice"
STATUS_PATH = VOICE_PATH + "/status"
ACTION_PATH = VOICE_PATH + "/action"
RECORDING_PATH = VOICE_PATH + "/recording"
TRANSCRIPTION_PATH = VOICE_PATH + "/transcription"

# Recordings are served by the Recording resource on api.twilio.com; nothing else is kept as a URL.
RECORDING_HOSTS = ("api.twilio.com",)

# Twilio's CallStatus / DialCallStatus values → the hub's call state.
CALL_STATES: dict[str, CallState] = {
    "queued": CallState.RINGING,
    "initiated": CallState.RINGING,
    "ringing": CallState.RINGING,
    "in-progress": CallState.IN_PROGRESS,
    "answered": CallState.IN_PROGRESS,
    "completed": CallState.COMPLETED,
    "busy": CallState.BUSY,
    "no-answer": CallState.NO_ANSWER,
    "failed": CallState.FAILED,
    "canceled": CallState.CANCELED,
}
_DIAL_ANSWERED = frozenset({"completed", "answered"})
# Twilio's stand-ins for a withheld caller id: words, or numbers that are no customer.
_ANONYMOUS = frozenset({"anonymous", "restricted", "unknown", "unavailable", "private", "+266696687", "+7378742833"})
_MAX_TRANSCRIPTION_CHARS = 4000


# ---- parsing -------------------------------------------------------------------------------------------


def _required(params: Mapping[str, str], name: str) -> str:
    value = (params.get(name) or "").strip()
    if not value:
        raise PayloadError(f"{name} is required")
    return value


def _seconds(value: str | None) -> str | None:
    """A duration Twilio sends as whole seconds; anything else is dropped rather than stored."""
    text = (value or "").strip()
    return str(int(text)) if text.isdigit() and len(text) <= 7 else None


def _direction(raw: str | None) -> str | None:
    raw = (raw or "").strip().lower()
    if raw == "inbound":
        return "inbound"
    return "outbound" if raw.startswith("outbound") else None


def _caller(params: Mapping[str, str], metadata: dict[str, str]) -> Sender | None:
    """``("voice", From)`` when From is a phone number; None (and why, in metadata) otherwise."""
    raw = (params.get("From") or params.get("Caller") or "").strip()
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
    name = (params.get("CallerName") or "").strip() or None
    return Sender(identity=identity, name=name, phone=identity.address)


def _call_event(request: WebhookRequest, params: Mapping[str, str], suffix: str, stage: CallStage,
                metadata: dict[str, str], *, text: str | None = None) -> list[InboundEvent]:
    call_sid = _required(params, "CallSid")
    metadata = {calls.CALL_ID: call_sid, calls.CALL_STAGE: stage.value, **metadata}
    direction = _direction(params.get("Direction"))
    if direction:
        metadata[calls.CALL_DIRECTION] = direction
    for name, key in (("To", "to"), ("AccountSid", "account_sid")):
        if params.get(name):
            metadata[key] = params[name]
    sender = _caller(params, metadata)
    try:
        return [InboundEvent(
            provider=PROVIDER,
            event_id=f"{call_sid}#{suffix}",
            kind=EventKind.CALL,
            channel=Channel.VOICE,
            occurred_at=received_time(request),
            sender=sender,
            text=text,
            provider_message_id=call_sid,
            metadata=metadata,
        )]
    except ModelError as err:
        raise PayloadError(str(err)) from err


def _recording_metadata(params: Mapping[str, str]) -> dict[str, str]:
    metadata = {calls.RECORDING_ID: _required(params, "RecordingSid")}
    url = (params.get("RecordingUrl") or "").strip()
    if url and is_provider_media_url(url, RECORDING_HOSTS):
        metadata[calls.RECORDING_URL] = url
    elif url:
        metadata[calls.DROPPED_RECORDING_URL] = "true"
    duration = _seconds(params.get("RecordingDuration"))
    if duration is not None:
        metadata[calls.RECORDING_DURATION] = duration
    return metadata


def parse_twilio_call(request: WebhookRequest) -> list[InboundEvent]:
    """The incoming-call webhook or a status callback: one event per ``CallStatus``."""
    params = form_params(request)
    raw_status = _required(params, "CallStatus").lower()
    state = CALL_STATES.get(raw_status)
    metadata = {"twilio_call_status": raw_status}
    if state is not None:
        metadata[calls.CALL_STATE] = state.value
    duration = _seconds(params.get("CallDuration"))
    if duration is not None:
        metadata[calls.DURATION] = duration
    stage = CallStage.STATUS if request.path.rstrip("/").endswith("/status") else CallStage.CALL
    return _call_event(request, params, f"status#{raw_status}", stage, metadata)


def parse_twilio_action(request: WebhookRequest) -> list[InboundEvent]:
    """``<Dial action>`` (the team answered or not) or ``<Record action>`` (the voicemail is recorded)."""
    params = form_params(request)
    dial_status = (params.get("DialCallStatus") or "").strip().lower()
    if dial_status:
        metadata = {"twilio_dial_status": dial_status,
                    calls.AGENT_ANSWERED: "true" if dial_status in _DIAL_ANSWERED else "false"}
        duration = _seconds(params.get("DialCallDuration"))
        if duration is not None:
            metadata[calls.DURATION] = duration
        return _call_event(request, params, f"dial#{dial_status}", CallStage.DIAL, metadata)
    if params.get("RecordingSid"):
        # The same event id as the recording status callback: whichever comes first is kept.
        metadata = _recording_metadata(params)
        return _call_event(request, params, f"recording#{metadata[calls.RECORDING_ID]}", CallStage.RECORDING,
                           metadata)
    raise PayloadError("an action callback needs DialCallStatus or RecordingSid")


def parse_twilio_recording(request: WebhookRequest) -> list[InboundEvent]:
    params = form_params(request)
    metadata = _recording_metadata(params)
    status = (params.get("RecordingStatus") or "").strip().lower()
    if status:
        metadata["recording_status"] = status
    return _call_event(request, params, f"recording#{metadata[calls.RECORDING_ID]}", CallStage.RECORDING, metadata)


def parse_twilio_transcription(request: WebhookRequest) -> list[InboundEvent]:
    params = form_params(request)
    status = (params.get("TranscriptionStatus") or "").strip().lower() or "unknown"
    metadata = {calls.TRANSCRIPTION_STATUS: status}
    if params.get("RecordingSid"):
        metadata.update(_recording_metadata(params))
    text = (params.get("TranscriptionText") or "").strip()[:_MAX_TRANSCRIPTION_CHARS] or None
    key = (params.get("TranscriptionSid") or params.get("RecordingSid") or "").strip()
    suffix = f"transcription#{key}" if key else "transcription"
    return _call_event(request, params, suffix, CallStage.TRANSCRIPTION, metadata,
                       text=text if status == "completed" else None)


# ---- the answers: TwiML --------------------------------------------------------------------------------

# The TwiML this module writes, element → the attributes it may carry (all documented by Twilio).
TWIML_VOCABULARY: dict[str, frozenset[str]] = {
    "Response": frozenset(),
    "Say": frozenset({"language"}),
    "Dial": frozenset({"timeout", "action", "method", "answerOnBridge"}),
    "Number": frozenset(),
    "Record": frozenset({"action", "method", "maxLength", "playBeep", "transcribe", "transcribeCallback",
                         "recordingStatusCallback", "recordingStatusCallbackMethod", "recordingStatusCallbackEvent"}),
    "Hangup": frozenset(),
}


def _document(response: ET.Element) -> str:
    # ElementTree escapes text and attributes; the declaration says UTF-8 as every Twilio example does.
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(response, encoding="unicode")


def _say(parent: ET.Element, text: str, locale: str) -> None:
    ET.SubElement(parent, "Say", {"language": locale}).text = text


def _voicemail(response: ET.Element, greeting: CallGreeting, *, after_no_answer: bool) -> None:
    _say(response, greeting.voicemail_prompt(after_no_answer=after_no_answer), greeting.locale)
    ET.SubElement(response, "Record", {
        # Without an action Twilio requests the current document again, and the caller would loop.
        "action": greeting.callbacks.action,
        "method": "POST",
        "maxLength": str(greeting.voicemail_max_seconds),
        "playBeep": "true",
        "transcribe": "true",
        "transcribeCallback": greeting.callbacks.transcription,
        "recordingStatusCallback": greeting.callbacks.recording,
        "recordingStatusCallbackMethod": "POST",
        "recordingStatusCallbackEvent": "completed",
    })
    ET.SubElement(response, "Hangup")


def twiml_for_call(greeting: CallGreeting) -> str:
    """The answer to an incoming call: greeting and reference, then the team (open) or the voicemail."""
    response = ET.Element("Response")
    for line in greeting.opening_lines():
        _say(response, line, greeting.locale)
    if greeting.dials and greeting.support_number:
        _say(response, greeting.prompt("connecting"), greeting.locale)
        dial = ET.SubElement(response, "Dial", {
            "timeout": str(greeting.dial_timeout_seconds),
            "action": greeting.callbacks.action,
            "method": "POST",
        })
        ET.SubElement(dial, "Number").text = greeting.support_number
    else:
        _voicemail(response, greeting, after_no_answer=False)
    return _document(response)


def twiml_after_action(greeting: CallGreeting, events: list[InboundEvent]) -> str:
    """The answer to ``.../voice/action``: the voicemail when the team did not answer, else hang up."""
    response = ET.Element("Response")
    missed = any(e.metadata.get(calls.CALL_STAGE) == CallStage.DIAL.value
                 and e.metadata.get(calls.AGENT_ANSWERED) == "false" for e in events)
    if missed:
        _voicemail(response, greeting, after_no_answer=True)
    else:
        ET.SubElement(response, "Hangup")
    return _document(response)


def callbacks_for(public_url: str) -> CallCallbacks:
    """The callback URLs under the same public base as the request Twilio just signed."""
    parts = urlsplit(public_url)
    base = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    return CallCallbacks(action=base + ACTION_PATH, recording=base + RECORDING_PATH,
                         transcription=base + TRANSCRIPTION_PATH)


def _greeting(request: WebhookRequest, answer: CallGreeting | CallAnswer | None) -> CallGreeting:
    """The greeting to speak: as given, or the hub's answer with this provider's callbacks; without one
    (nothing could be read) an unknown caller, straight to the voicemail: never silence."""
    if isinstance(answer, CallGreeting):
        return answer
    return (answer or CallAnswer()).greeting(callbacks_for(request.public_url or "https://invalid.example"))


def respond_twilio_voice(request: WebhookRequest, events: list[InboundEvent],
                         greeting: CallGreeting | CallAnswer | None = None) -> WebhookResponse:
    return WebhookResponse(200, twiml_for_call(_greeting(request, greeting)),
                           content_type=TWIML_CONTENT_TYPE)


def respond_twilio_action(request: WebhookRequest, events: list[InboundEvent],
                          greeting: CallGreeting | CallAnswer | None = None) -> WebhookResponse:
    return WebhookResponse(200, twiml_after_action(_greeting(request, greeting), events),
                           content_type=TWIML_CONTENT_TYPE)


def respond_empty_twiml(request: WebhookRequest, events: list[InboundEvent]) -> WebhookResponse:
    """Status, recording and transcription callbacks: Twilio ignores the body."""
    return WebhookResponse(200, _document(ET.Element("Response")), content_type=TWIML_CONTENT_TYPE)


def _spec(parse: Parser, respond: Responder) -> ChannelSpec:
    return ChannelSpec(
        provider=PROVIDER,
        secret_names=(SECRET_NAME,),
        verify=verify_twilio_signature,
        parse=parse,
        respond=respond,
        forged_status=FORGED_STATUS,
        # Twilio never retries a 4xx: a 400 would lose the call.
        lone_surrogates=LoneSurrogates.REPLACE,
    )


VOICE = _spec(parse_twilio_call, respond_twilio_voice)
VOICE_STATUS = _spec(parse_twilio_call, respond_empty_twiml)
VOICE_ACTION = _spec(parse_twilio_action, respond_twilio_action)
VOICE_RECORDING = _spec(parse_twilio_recording, respond_empty_twiml)
VOICE_TRANSCRIPTION = _spec(parse_twilio_transcription, respond_empty_twiml)
