"""Twilio Voice: a whole simulated call verified and parsed; TwiML checked against Twilio's own SDK.

The SDK's ``VoiceResponse`` is the oracle of what Twilio documents: every document the hub writes is
rebuilt with it, element by element and attribute by attribute.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

import pytest
from twilio.twiml.voice_response import VoiceResponse

from chalicelib.core import calls
from chalicelib.core.calls import CallCallbacks, CallGreeting
from chalicelib.core.model import Channel, EventKind
from chalicelib.providers.base import SignatureError, WebhookRequest
from chalicelib.providers.twilio import voice
from chalicelib.providers.twilio.signature import sign_twilio_request, verify_twilio_signature
from devstack.simulators.voice import simulate_twilio_voice_call
from tests.unit.telephony.conftest import BASE_URL, NOW, TWILIO_SECRETS, as_webhook_request

CALLER = "+393331234567"
CALLBACKS = CallCallbacks(action=BASE_URL + voice.ACTION_PATH, recording=BASE_URL + voice.RECORDING_PATH,
                          transcription=BASE_URL + voice.TRANSCRIPTION_PATH)
SPEC_BY_PATH = {voice.VOICE_PATH: voice.VOICE, voice.STATUS_PATH: voice.VOICE_STATUS,
                voice.ACTION_PATH: voice.VOICE_ACTION, voice.RECORDING_PATH: voice.VOICE_RECORDING,
                voice.TRANSCRIPTION_PATH: voice.VOICE_TRANSCRIPTION}


def whole_call() -> list[WebhookRequest]:
    simulated = simulate_twilio_voice_call(TWILIO_SECRETS, CALLER, "Call me back", public_base_url=BASE_URL,
                                           call_sid="CA" + "1" * 32)
    return [as_webhook_request(r) for r in simulated]


def parse(request: WebhookRequest) -> list[Any]:
    spec = SPEC_BY_PATH[request.path]
    spec.verify(request, TWILIO_SECRETS, NOW)
    return spec.parse(request)


def test_every_request_of_a_call_is_signed_and_parses_to_one_event_of_the_call() -> None:
    events = [event for request in whole_call() for event in parse(request)]
    sid = "CA" + "1" * 32
    recording, transcription = events[3].metadata[calls.RECORDING_ID], events[4].event_id.rsplit("#", 1)[1]
    assert recording.startswith("RE") and transcription.startswith("TR")
    assert [e.event_id for e in events] == [
        f"{sid}#status#ringing", f"{sid}#dial#no-answer", f"{sid}#recording#{recording}",
        f"{sid}#recording#{recording}", f"{sid}#transcription#{transcription}", f"{sid}#status#completed"]
    assert events[2].event_id == events[3].event_id  # <Record action> and the recording callback: one event
    assert all(e.kind is EventKind.CALL and e.channel is Channel.VOICE for e in events)
    assert {e.metadata[calls.CALL_ID] for e in events} == {"CA" + "1" * 32}
    assert events[0].sender is not None and events[0].sender.identity.key == f"voice#{CALLER}"
    assert events[1].metadata[calls.AGENT_ANSWERED] == "false"
    assert events[3].metadata[calls.RECORDING_URL].startswith("https://api.twilio.com/")
    assert events[3].sender is None  # Twilio's recording callback does not say who called
    assert events[4].text == "Call me back"
    assert events[5].metadata[calls.CALL_STATE] == "completed" and events[5].metadata[calls.DURATION] == "42"


@pytest.mark.parametrize("index", range(6))
def test_a_forged_callback_is_refused(index: int) -> None:
    request = whole_call()[index]
    tampered = replace(request, body=request.body.replace(b"CA1111", b"CA2222"))
    with pytest.raises(SignatureError):
        SPEC_BY_PATH[request.path].verify(tampered, TWILIO_SECRETS, NOW)
    with pytest.raises(SignatureError):
        verify_twilio_signature(request, {"TWILIO_AUTH_TOKEN": "another-token"}, NOW)


def signed(path: str, params: list[tuple[str, str]]) -> WebhookRequest:
    url = BASE_URL + path
    return WebhookRequest(method="POST", path=path, public_url=url, body=urlencode(params).encode(),
                          headers={"x-twilio-signature": sign_twilio_request(TWILIO_SECRETS["TWILIO_AUTH_TOKEN"],
                                                                             url, params)})


def test_a_recording_off_twilio_hosts_is_not_kept_and_a_withheld_caller_is_still_a_call() -> None:
    request = signed(voice.RECORDING_PATH, [("CallSid", "CA9"), ("RecordingSid", "RE9"), ("From", "anonymous"),
                                             ("RecordingUrl", "https://evil.example/RE9"), ("RecordingDuration", "x")])
    (event,) = parse(request)
    assert calls.RECORDING_URL not in event.metadata and event.metadata[calls.DROPPED_RECORDING_URL] == "true"
    assert calls.RECORDING_DURATION not in event.metadata
    assert event.sender is None and event.metadata[calls.CALLER] == "anonymous"


def greeting(**overrides: Any) -> CallGreeting:
    values: dict[str, Any] = {"callbacks": CALLBACKS, "support_number": "+390612345678",
                              "business_number": "+390611111111"}
    return CallGreeting(**{**values, **overrides})


CASES = {
    "known caller, open": greeting(open_now=True, customer_name="Anna <Bianchi> & Co", language="it",
                                   reference="OH-7K3M9Q"),
    "known caller, closed": greeting(open_now=False, customer_name="Anna", language="de", reference="OH-22"),
    "unknown caller, open": greeting(open_now=True),
    "unknown caller, closed": greeting(open_now=False),
    "open without a support number": greeting(open_now=True, support_number=None),
}


def sdk_twiml(g: CallGreeting) -> VoiceResponse:
    """The same answer, written with Twilio's SDK: the oracle of element and attribute names."""
    response = VoiceResponse()
    for line in g.opening_lines():
        response.say(line, language=g.locale)
    if g.dials:
        response.say(g.prompt("connecting"), language=g.locale)
        dial = response.dial(timeout=g.dial_timeout_seconds, action=g.callbacks.action, method="POST")
        dial.number(g.support_number)
    else:
        sdk_voicemail(response, g, after_no_answer=False)
    return response


def sdk_voicemail(response: VoiceResponse, g: CallGreeting, *, after_no_answer: bool) -> None:
    response.say(g.voicemail_prompt(after_no_answer=after_no_answer), language=g.locale)
    response.record(action=g.callbacks.action, method="POST", max_length=g.voicemail_max_seconds, play_beep=True,
                    transcribe=True, transcribe_callback=g.callbacks.transcription,
                    recording_status_callback=g.callbacks.recording, recording_status_callback_method="POST",
                    recording_status_callback_event="completed")
    response.hangup()


def xml(document: bytes) -> ET.Element:
    return ET.fromstring(document)  # noqa: S314 - documents the hub or Twilio's SDK wrote


def tree(element: ET.Element) -> tuple[Any, ...]:
    return (element.tag, sorted(element.attrib.items()), (element.text or "").strip(), [tree(c) for c in element])


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_twiml_is_well_formed_and_exactly_what_the_sdk_writes(case: str) -> None:
    g = CASES[case]
    document = voice.twiml_for_call(g)
    root = xml(document.encode())  # well-formed, names and text escaped
    assert tree(root) == tree(xml(sdk_twiml(g).to_xml().encode()))
    for element in root.iter():
        assert element.tag in voice.TWIML_VOCABULARY and set(element.attrib) <= voice.TWIML_VOCABULARY[element.tag]
    tags = [e.tag for e in root]
    assert ("Dial" in tags) == g.dials and ("Record" in tags) == (not g.dials)


def test_the_greeting_speaks_the_callers_language_and_spells_the_reference() -> None:
    root = xml(voice.twiml_for_call(CASES["known caller, open"]).encode())
    says = [s for s in root.iter("Say")]
    assert {s.get("language") for s in says} == {"it-IT"}
    assert says[0].text == "Buongiorno Anna Bianchi Co, grazie per averci chiamato."
    assert "O, H, 7, K, 3, M, 9, Q" in (says[1].text or "")
    unknown = xml(voice.twiml_for_call(CASES["unknown caller, closed"]).encode())
    assert next(unknown.iter("Say")).get("language") == "en-US"
    assert len(list(unknown.iter("Say"))) == 2  # hello and the voicemail prompt: no reference to read


def test_after_the_dial_nobody_answered_means_voicemail_and_an_answer_means_hang_up() -> None:
    g = CASES["known caller, open"]
    missed = parse(signed(voice.ACTION_PATH, [("CallSid", "CA1"), ("From", CALLER), ("DialCallStatus", "busy")]))
    answered = parse(signed(voice.ACTION_PATH, [("CallSid", "CA1"), ("From", CALLER), ("DialCallStatus", "completed"),
                                                ("DialCallDuration", "65")]))
    expected = VoiceResponse()
    sdk_voicemail(expected, g, after_no_answer=True)
    assert tree(xml(voice.twiml_after_action(g, missed).encode())) == tree(
        xml(expected.to_xml().encode()))
    assert [e.tag for e in xml(voice.twiml_after_action(g, answered).encode())] == ["Hangup"]
    assert answered[0].metadata[calls.AGENT_ANSWERED] == "true" and answered[0].metadata[calls.DURATION] == "65"


def test_the_default_answer_never_leaves_the_caller_in_silence() -> None:
    request = whole_call()[0]
    response = voice.VOICE.respond(request, voice.VOICE.parse(request))
    root = xml(response.body if isinstance(response.body, bytes) else response.body.encode())
    assert response.content_type == "text/xml" and [e.tag for e in root] == ["Say", "Say", "Record", "Hangup"]
    assert next(root.iter("Record")).get("recordingStatusCallback") == BASE_URL + voice.RECORDING_PATH
