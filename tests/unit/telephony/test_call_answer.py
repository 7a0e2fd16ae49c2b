"""The first answer of a call decided from storage: known and unknown callers, in and out of hours,
and never silence when the store or the calendar fails."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.adapters.memory import memory_repositories
from chalicelib.core.calendar import BusinessCalendar
from chalicelib.core.calls import CallAnswer
from chalicelib.core.model import (
    Channel,
    Conversation,
    ConversationStatus,
    Customer,
    Identity,
    InboundEvent,
    Priority,
)
from chalicelib.core.ports import Repositories
from chalicelib.ingest.call_answer import CallSettings, answer_call
from chalicelib.providers.twilio import voice as twilio_voice
from chalicelib.providers.vonage import voice as vonage_voice
from devstack.simulators.voice import simulate_twilio_voice_call, simulate_vonage_voice_call
from tests.unit.telephony.conftest import TWILIO_SECRETS, VONAGE_SECRETS, as_webhook_request

CALLER = "+393331234567"
MONDAY_NOON = datetime(2026, 1, 5, 11, 0, tzinfo=UTC)  # 12:00 in Rome
SUNDAY_NOON = datetime(2026, 1, 4, 11, 0, tzinfo=UTC)
SETTINGS = CallSettings(support_number="+390612345678", dial_timeout_seconds=25, voicemail_max_seconds=90)


def calendar() -> BusinessCalendar:
    return BusinessCalendar.from_config({"time_zone": "Europe/Rome", "weekly": {"monday": ["09:00-18:00"]}})


def known_customer(repos: Repositories, *, on: Channel = Channel.WHATSAPP, status: ConversationStatus =
                   ConversationStatus.OPEN) -> None:
    """A customer who wrote on WhatsApp from the number that now calls, with a case still open."""
    identity = Identity(on, CALLER)
    repos.customers.create(Customer(id="cus_anna", name="Anna", language="it", tier="vip", identities=(identity,),
                                    created_at="2026-01-01T00:00:00.000Z"))
    repos.customers.claim_identity(identity, "cus_anna")
    repos.customers.claim_open_conversation("cus_anna", "cnv_1", None)
    repos.conversations.create(Conversation(
        id="cnv_1", reference="OH-7K3M9Q", status=status, priority=Priority.NORMAL, route="default",
        customer_id="cus_anna", channel=on, created_at="2026-01-01T00:00:00.000Z",
        updated_at="2026-01-01T00:00:00.000Z"))


def call_events() -> list[InboundEvent]:
    request = as_webhook_request(simulate_twilio_voice_call(TWILIO_SECRETS, CALLER)[0])
    return twilio_voice.VOICE.parse(request)


def test_a_known_caller_is_greeted_by_name_in_their_language_with_the_open_cases_reference() -> None:
    repos = memory_repositories()
    known_customer(repos)
    answer = answer_call(repos, call_events(), SETTINGS, calendar, MONDAY_NOON)
    assert (answer.customer_name, answer.language, answer.reference) == ("Anna", "it", "OH-7K3M9Q")
    assert answer.open_now and answer.support_number == "+390612345678" and answer.business_number == "+15017122661"
    assert (answer.dial_timeout_seconds, answer.voicemail_max_seconds) == (25, 90)


def test_a_resolved_case_is_not_read_out_and_an_unknown_number_is_an_unknown_caller() -> None:
    repos = memory_repositories()
    known_customer(repos, status=ConversationStatus.RESOLVED)
    assert answer_call(repos, call_events(), SETTINGS, calendar, MONDAY_NOON).reference is None
    unknown = answer_call(memory_repositories(), call_events(), SETTINGS, calendar, MONDAY_NOON)
    assert (unknown.customer_name, unknown.language, unknown.reference) == (None, None, None)


def twiml(answer: CallAnswer) -> ET.Element:
    request = as_webhook_request(simulate_twilio_voice_call(TWILIO_SECRETS, CALLER)[0])
    response = twilio_voice.respond_twilio_voice(request, [], answer)
    root = ET.fromstring(response.body)  # noqa: S314 - the hub's own document
    for element in root.iter():  # only the verbs and attributes Twilio documents
        assert element.tag in twilio_voice.TWIML_VOCABULARY
        assert set(element.attrib) <= twilio_voice.TWIML_VOCABULARY[element.tag]
    return root


def ncco(answer: CallAnswer) -> list[dict[str, Any]]:
    request = as_webhook_request(simulate_vonage_voice_call(VONAGE_SECRETS, CALLER)[0])
    document = json.loads(vonage_voice.respond_vonage_answer(request, [], answer).body)
    assert isinstance(document, list)
    return document


@pytest.mark.parametrize(("known", "moment"), [(True, MONDAY_NOON), (True, SUNDAY_NOON), (False, MONDAY_NOON),
                                               (False, SUNDAY_NOON)],
                         ids=["known, in hours", "known, out of hours", "unknown, in hours", "unknown, out of hours"])
def test_in_hours_the_team_is_dialled_and_out_of_hours_the_voicemail_records(known: bool, moment: datetime) -> None:
    repos = memory_repositories()
    if known:
        known_customer(repos)
    answer = answer_call(repos, call_events(), SETTINGS, calendar, moment)
    root, actions = twiml(answer), ncco(answer)
    says = " ".join(s.text or "" for s in root.iter("Say"))
    assert ("Anna" in says and "O, H, 7, K, 3, M, 9, Q" in says) == known
    assert {s.get("language") for s in root.iter("Say")} == {"it-IT" if known else "en-US"}
    if moment == MONDAY_NOON:
        dial = next(root.iter("Dial"))
        assert dial.get("timeout") == "25" and next(dial.iter("Number")).text == "+390612345678"
        assert [a["action"] for a in actions][-1] == "connect" and actions[-1]["timeout"] == 25
    else:
        record = next(root.iter("Record"))
        assert record.get("maxLength") == "90" and record.get("transcribe") == "true"
        assert record.get("transcribeCallback") == "https://hub.example.com" + twilio_voice.TRANSCRIPTION_PATH
        assert record.get("recordingStatusCallback") == "https://hub.example.com" + twilio_voice.RECORDING_PATH
        assert not list(root.iter("Dial"))
        assert actions[-1]["action"] == "record" and actions[-1]["timeOut"] == 90
        assert actions[-1]["transcription"]["eventUrl"] == ["https://hub.example.com" + vonage_voice.EVENT_PATH]


class FailingRepositories:
    """Every read raises, as a throttled or unreachable table would."""

    def __getattr__(self, name: str) -> Any:
        raise ConnectionError("the table is unreachable")


def test_when_the_store_is_unreachable_the_caller_still_hears_a_greeting_and_the_voicemail() -> None:
    answer = answer_call(FailingRepositories(), call_events(), CallSettings(), calendar, SUNDAY_NOON)  # type: ignore[arg-type]
    assert answer == CallAnswer(business_number="+15017122661")
    root = twiml(answer)
    assert [e.tag for e in root] == ["Say", "Say", "Record", "Hangup"]


def test_an_unreadable_calendar_sends_the_call_to_the_voicemail() -> None:
    def broken() -> BusinessCalendar:
        raise ValueError("bad configuration")

    answer = answer_call(memory_repositories(), call_events(), SETTINGS, broken, MONDAY_NOON)
    assert not answer.open_now and not list(twiml(answer).iter("Dial"))


def test_settings_are_bounded_and_a_bad_support_number_means_no_dial() -> None:
    settings = CallSettings.from_environ({"OMNIHUB_VOICE_SUPPORT_NUMBER": "call me",
                                          "OMNIHUB_VOICE_DIAL_TIMEOUT_SECONDS": "999",
                                          "OMNIHUB_VOICE_VOICEMAIL_MAX_SECONDS": "-3"})
    assert settings == CallSettings(support_number=None, dial_timeout_seconds=120, voicemail_max_seconds=120)


def test_the_call_answer_path_loads_no_sender() -> None:
    """The webhook path stays free of chalicelib.outbound (and its senders) on a cold start."""
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys; import chalicelib.ingest.call_answer, chalicelib.providers.twilio.voice, "
            "chalicelib.providers.vonage.voice; print('\\n'.join(sorted(sys.modules)))")
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True)
    loaded = set(out.stdout.split())
    assert not {m for m in loaded if m.startswith("chalicelib.outbound")}
    assert "chalicelib.ingest.call_answer" in loaded
