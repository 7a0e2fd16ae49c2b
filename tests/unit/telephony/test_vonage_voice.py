"""Vonage Voice: a simulated call verified and parsed; every NCCO validated by the SDK's own models.

``vonage_voice.models.ncco`` (the official SDK, test-only) is the oracle of action names, required
fields, types and ranges; the record action's ``transcription`` object, which that SDK version does not
model, is checked against the NCCO reference (language, eventUrl array, eventMethod).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from vonage_voice.models import ncco as sdk
from vonage_voice.models.enums import NccoActionType, TtsLanguageCode

from chalicelib.core import calls
from chalicelib.core.calls import CallCallbacks, CallGreeting
from chalicelib.core.model import Channel, EventKind
from chalicelib.providers.base import SignatureError, WebhookRequest
from chalicelib.providers.vonage import voice
from chalicelib.providers.vonage.signature import sign_vonage_webhook
from devstack.simulators.voice import simulate_vonage_voice_call
from tests.unit.telephony.conftest import BASE_URL, NOW, VONAGE_SECRETS, as_webhook_request

CALLER = "+447700900001"
CONVERSATION = "CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
EVENT_URL = BASE_URL + voice.EVENT_PATH


def whole_call(issued_at: int = int(NOW)) -> list[WebhookRequest]:
    simulated = simulate_vonage_voice_call(VONAGE_SECRETS, CALLER, public_base_url=BASE_URL,
                                           conversation_uuid=CONVERSATION, issued_at=issued_at)
    return [as_webhook_request(r) for r in simulated]


def spec_of(request: WebhookRequest) -> Any:
    return voice.VOICE_ANSWER if request.path == voice.ANSWER_PATH else voice.VOICE_EVENT


def test_a_whole_call_is_signed_and_every_event_belongs_to_the_conversation() -> None:
    requests = whole_call()
    assert requests[0].method == "GET" and not requests[0].body
    events = []
    for request in requests:
        spec_of(request).verify(request, VONAGE_SECRETS, NOW)
        events += spec_of(request).parse(request)
    assert all(e.kind is EventKind.CALL and e.channel is Channel.VOICE for e in events)
    assert {e.metadata[calls.CALL_ID] for e in events} == {CONVERSATION}
    stages = [e.metadata[calls.CALL_STAGE] for e in events]
    assert stages == ["call", "status", "dial", "recording", "transcription", "status"]
    assert events[0].sender is not None and events[0].sender.identity.key == f"voice#{CALLER}"
    assert events[2].metadata[calls.AGENT_ANSWERED] == "false" and events[2].sender is None
    assert events[3].metadata[calls.RECORDING_URL].startswith("https://api.nexmo.com/v1/files/")
    assert events[4].metadata[calls.TRANSCRIPTION_URL].startswith("https://api.nexmo.com/v1/files/")
    assert events[5].metadata[calls.CALL_STATE] == "completed" and events[5].metadata[calls.DURATION] == "42"
    assert len({e.event_id for e in events}) == len(events)


def test_the_answer_also_comes_as_post_json() -> None:
    body = json.dumps({"from": "447700900001", "to": "447700900000", "uuid": "leg-1",
                       "conversation_uuid": CONVERSATION}).encode()
    request = WebhookRequest(method="POST", path=voice.ANSWER_PATH, body=body, public_url=BASE_URL + voice.ANSWER_PATH,
                             headers={"authorization": sign_vonage_webhook(VONAGE_SECRETS["VONAGE_SIGNATURE_SECRET"],
                                                                           body, issued_at=int(NOW), jti="j")})
    voice.VOICE_ANSWER.verify(request, VONAGE_SECRETS, NOW)
    (event,) = voice.VOICE_ANSWER.parse(request)
    assert event.event_id == f"{CONVERSATION}#answer" and event.sender is not None


@pytest.mark.parametrize("index", range(6))
def test_forged_stale_or_unsigned_requests_are_refused(index: int) -> None:
    request = whole_call()[index]
    spec = spec_of(request)
    with pytest.raises(SignatureError):
        spec.verify(request, {"VONAGE_SIGNATURE_SECRET": "another-secret-of-enough-length-1234"}, NOW)
    with pytest.raises(SignatureError):
        spec.verify(replace(request, headers={}), VONAGE_SECRETS, NOW)
    if request.body:
        with pytest.raises(SignatureError):
            spec.verify(replace(request, body=request.body.replace(b"CON-", b"CON-X")), VONAGE_SECRETS, NOW)
    else:  # a GET's query is not signed: its token must be fresh
        with pytest.raises(SignatureError):
            spec.verify(whole_call(issued_at=int(NOW) - 3600)[index], VONAGE_SECRETS, NOW)


def greeting(**overrides: Any) -> CallGreeting:
    values: dict[str, Any] = {"callbacks": CallCallbacks(EVENT_URL, EVENT_URL, EVENT_URL),
                              "support_number": "+447700900999", "business_number": "+447700900000"}
    return CallGreeting(**{**values, **overrides})


CASES = {
    "known caller, open": greeting(open_now=True, customer_name="Anna", language="pt-BR", reference="OH-7K3M"),
    "known caller, closed": greeting(customer_name="Anna", language="fr", reference="OH-7K3M"),
    "unknown caller, open, no business number": greeting(open_now=True, business_number=None),
    "unknown caller, closed": greeting(),
}
MODELS = {"talk": sdk.Talk, "connect": sdk.Connect, "record": sdk.Record}
TRANSCRIPTION_FIELDS = {"language", "eventUrl", "eventMethod", "sentimentAnalysis"}


def validate(ncco: Any) -> list[str]:
    """Each action as the SDK models it (no unknown field, every type and range); returns the actions."""
    assert isinstance(ncco, list) and ncco
    json.loads(json.dumps(ncco))  # plain JSON
    for action in ncco:
        name = action["action"]
        assert name in {a.value for a in NccoActionType}
        fields = dict(action)
        transcription = fields.pop("transcription", None)
        if "from" in fields:
            fields["from_"] = fields.pop("from")
        model = MODELS[name]
        assert set(fields) <= set(model.model_fields), set(fields) - set(model.model_fields)
        model(**fields)  # raises on a wrong type, a missing field or a value out of range
        if transcription is not None:
            assert name == "record" and set(transcription) <= TRANSCRIPTION_FIELDS
            assert transcription["language"] in {c.value for c in TtsLanguageCode}
            urls = transcription["eventUrl"]
            assert isinstance(urls, list) and all(isinstance(u, str) for u in urls)
        if "eventUrl" in action:
            assert isinstance(action["eventUrl"], list)  # every eventUrl is an array
    return [a["action"] for a in ncco]


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_the_ncco_is_what_vonage_accepts(case: str) -> None:
    g = CASES[case]
    ncco = voice.ncco_for_call(g)
    actions = validate(ncco)
    assert actions == (["talk", "talk", "connect"] if g.dials else ["talk", "talk", "record"])
    assert {a["language"] for a in ncco if a["action"] == "talk"} <= {c.value for c in TtsLanguageCode}
    if g.dials:
        assert ncco[-1]["endpoint"] == [{"type": "phone", "number": "447700900999"}]
        assert ncco[-1]["eventType"] == "synchronous" and ncco[-1]["timeout"] == g.dial_timeout_seconds
    else:
        assert ncco[-1]["transcription"]["eventUrl"] == [EVENT_URL] and ncco[-1]["beepStart"] is True


def test_the_greeting_is_in_the_callers_language_with_the_reference_spelled_out() -> None:
    talk = voice.ncco_for_call(CASES["known caller, open"])[0]
    assert talk["language"] == "pt-BR" and "O, H, 7, K, 3, M" in talk["text"] and "Anna" in talk["text"]


def test_an_unanswered_team_leg_is_answered_with_the_voicemail() -> None:
    requests = whole_call()
    team_leg = requests[2]
    response = voice.VOICE_EVENT.respond(team_leg, voice.VOICE_EVENT.parse(team_leg))
    assert validate(json.loads(response.body)) == ["talk", "record"]
    ringing = requests[1]
    assert voice.VOICE_EVENT.respond(ringing, voice.VOICE_EVENT.parse(ringing)).body == ""
