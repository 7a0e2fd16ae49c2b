"""Twilio Messaging: signatures checked against the official SDK and its published test vectors.

Vectors from ``twilio/twilio-python/tests/unit/test_request_validator.py`` (token ``12345``).
The SDK's ``RequestValidator`` is a test-only oracle; the hub's code never imports it.
"""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qsl, quote

import pytest
from multidict import MultiDict
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from chalicelib.core.errors import PermanentError
from chalicelib.core.model import Channel, DeliveryStatus, EventKind
from chalicelib.providers import channel_spec
from chalicelib.providers.base import PayloadError, SignatureError, WebhookRequest
from chalicelib.providers.twilio import (
    MESSAGING,
    STATUS,
    parse_twilio_message,
    parse_twilio_status,
    sign_twilio_json_request,
    sign_twilio_request,
    twilio_signature,
    twiml_response,
    verify_twilio_signature,
)
from devstack.simulators.base import SimulatedRequest
from devstack.simulators.twilio import simulate_twilio_messaging_message, simulate_twilio_status

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "twilio"
TOKEN = "test-auth-token-0123456789abcdef"
SECRETS = {"TWILIO_AUTH_TOKEN": TOKEN}
BASE_URL = "https://hub.example.com"
MESSAGING_URL = BASE_URL + "/webhooks/twilio/messaging"
STATUS_URL = BASE_URL + "/webhooks/twilio/status"
RECEIVED_AT = "2026-03-01T10:00:00.000Z"
NOW = 1_772_359_200.0

# Published vectors (twilio/twilio-python/tests/unit/test_request_validator.py)
SDK_TOKEN = "12345"
SDK_URI = "https://mycompany.com/myapp.php?foo=1&bar=2"
SDK_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Digits": "1234",
    "From": "+14158675309",
    "To": "+18005551212",
    "Caller": "+14158675309",
}
SDK_EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
SDK_BODY = '{"property": "value", "boolean": true}'
SDK_BODY_HASH = "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes().strip()


def form_request(
    body: bytes, url: str, signature: str | None, path: str = "/webhooks/twilio/messaging", **headers: str
) -> WebhookRequest:
    all_headers = {"content-type": "application/x-www-form-urlencoded", **headers}
    if signature is not None:
        all_headers["x-twilio-signature"] = signature
    return WebhookRequest(
        method="POST", path=path, headers=all_headers, body=body, public_url=url, received_at=RECEIVED_AT
    )


def sdk_signed(body: bytes, url: str = MESSAGING_URL, token: str = TOKEN, **kwargs: str) -> WebhookRequest:
    """A request signed by the official SDK, as Twilio would sign it."""
    params = MultiDict(parse_qsl(body.decode(), keep_blank_values=True))
    return form_request(body, url, RequestValidator(token).compute_signature(url, params), **kwargs)


def from_simulated(simulated: SimulatedRequest, base_url: str = "http://127.0.0.1:8000") -> WebhookRequest:
    return WebhookRequest(
        method=simulated.method,
        path=simulated.path,
        headers={k.lower(): v for k, v in simulated.headers.items()},
        body=simulated.body,
        public_url=base_url + simulated.path,
        received_at=RECEIVED_AT,
    )


# --- signatures: published vectors ----------------------------------------------------------


def test_published_vector_compute_signature() -> None:
    assert twilio_signature(SDK_TOKEN, SDK_URI, SDK_PARAMS) == SDK_EXPECTED
    assert sign_twilio_request(SDK_TOKEN, SDK_URI, SDK_PARAMS) == SDK_EXPECTED


def test_published_vector_duplicate_parameters_sorted_by_value() -> None:
    params = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234")]
    assert twilio_signature(SDK_TOKEN, SDK_URI, params) == "IK+Dwps556ElfBT0I3Rgjkr1wJU="


def test_published_vector_body_hash() -> None:
    assert hashlib.sha256(SDK_BODY.encode()).hexdigest() == SDK_BODY_HASH


def _vector_request(url: str, signature: str) -> WebhookRequest:
    body = "&".join(f"{k}={v}" for k, v in SDK_PARAMS.items()).replace("+", "%2B").encode()
    return form_request(body, url, signature)


@pytest.mark.parametrize(
    ("url", "signature"),
    [
        (SDK_URI, SDK_EXPECTED),  # test_validation
        (SDK_URI.replace(".com", ".com:1234"), SDK_EXPECTED),  # removes port on https
        (SDK_URI.replace(".com", ".com:1234").replace("https", "http"), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
        (SDK_URI, "kvajT1Ptam85bY51eRf/AJRuM3w="),  # adds port 443
        (SDK_URI.replace("https", "http"), "0ZXoZLH/DfblKGATFgpif+LLRf4="),  # adds port 80
    ],
)
def test_published_vectors_validate_with_and_without_port(url: str, signature: str) -> None:
    verify_twilio_signature(_vector_request(url, signature), {"TWILIO_AUTH_TOKEN": SDK_TOKEN}, NOW)


def test_published_vector_json_body_signature() -> None:
    url = SDK_URI + "&bodySHA256=" + SDK_BODY_HASH
    request = WebhookRequest(
        method="POST",
        path="/myapp.php",
        headers={"content-type": "application/json", "x-twilio-signature": "a9nBmqA0ju/hNViExpshrM61xv4="},
        body=SDK_BODY.encode(),
        public_url=url,
    )
    verify_twilio_signature(request, {"TWILIO_AUTH_TOKEN": SDK_TOKEN}, NOW)
    assert sign_twilio_json_request(SDK_TOKEN, SDK_URI, SDK_BODY.encode()) == (url, "a9nBmqA0ju/hNViExpshrM61xv4=")


def test_json_body_tampered_is_rejected() -> None:
    url, signature = sign_twilio_json_request(TOKEN, MESSAGING_URL, b'{"a":1}')
    request = WebhookRequest(
        method="POST", path="/x", headers={"x-twilio-signature": signature}, body=b'{"a":2}', public_url=url
    )
    with pytest.raises(SignatureError, match="bodySHA256"):
        verify_twilio_signature(request, SECRETS, NOW)


# --- signatures: the SDK as oracle --------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        [("Body", "Ciao è già arrivato? ✓ 🙂"), ("From", "+393331234567"), ("To", "+15017122661")],
        [("Body", "a+b=c&d"), ("Empty", ""), ("body", "lower-case sorts after upper-case")],
        [("MediaUrl0", "https://api.twilio.com/x?y=1"), ("NumMedia", "1"), ("Zeta", "1"), ("alpha", "2")],
    ],
)
def test_signature_matches_sdk(params: list[tuple[str, str]]) -> None:
    validator = RequestValidator(TOKEN)
    for url in (MESSAGING_URL, MESSAGING_URL + "?x=1&y=%20", "http://127.0.0.1:8000/webhooks/twilio/messaging"):
        expected = validator.compute_signature(url, MultiDict(params))
        assert sign_twilio_request(TOKEN, url, params) == expected
        assert validator.validate(url, MultiDict(params), sign_twilio_request(TOKEN, url, params))


def test_sha256_signature_settings_header_matches_sdk() -> None:
    body = fixture("sms.txt")
    params = MultiDict(parse_qsl(body.decode(), keep_blank_values=True))
    signature = RequestValidator(TOKEN).compute_signature(MESSAGING_URL, params, algorithm="HMAC_SHA256")
    headers = {"x-twilio-webhooks-signature-settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"}
    verify_twilio_signature(form_request(body, MESSAGING_URL, signature, **headers), SECRETS, NOW)
    with pytest.raises(SignatureError):  # the same signature is not a SHA-1 one
        verify_twilio_signature(form_request(body, MESSAGING_URL, signature), SECRETS, NOW)


def test_unknown_signature_algorithm_is_rejected() -> None:
    headers = {"x-twilio-webhooks-signature-settings": "key=k,algorithm=HMAC_MD5"}
    request = sdk_signed(fixture("sms.txt"), **headers)
    with pytest.raises(SignatureError, match="algorithm"):
        verify_twilio_signature(request, SECRETS, NOW)


def test_every_fixture_verifies_when_signed_by_sdk() -> None:
    for path in sorted(FIXTURES.glob("*.txt")):
        verify_twilio_signature(sdk_signed(path.read_bytes().strip()), SECRETS, NOW)


def test_forged_signature_is_rejected() -> None:
    request = sdk_signed(fixture("sms.txt"), token="some-other-token")
    with pytest.raises(SignatureError):
        verify_twilio_signature(request, SECRETS, NOW)


def test_missing_signature_is_rejected() -> None:
    with pytest.raises(SignatureError, match="missing"):
        verify_twilio_signature(form_request(fixture("sms.txt"), MESSAGING_URL, None), SECRETS, NOW)


def test_tampered_parameter_is_rejected() -> None:
    signed = sdk_signed(fixture("sms.txt"))
    tampered = form_request(signed.body.replace(b"1234", b"9999"), MESSAGING_URL, signed.headers["x-twilio-signature"])
    with pytest.raises(SignatureError):
        verify_twilio_signature(tampered, SECRETS, NOW)


def test_signature_for_another_url_is_rejected() -> None:
    signed = sdk_signed(fixture("sms.txt"), url=STATUS_URL)
    request = form_request(signed.body, MESSAGING_URL, signed.headers["x-twilio-signature"])
    with pytest.raises(SignatureError):
        verify_twilio_signature(request, SECRETS, NOW)


def test_non_utf8_body_is_a_signature_error_not_a_crash() -> None:
    with pytest.raises(SignatureError):
        verify_twilio_signature(form_request(b"Body=\xff\xfe", MESSAGING_URL, "x"), SECRETS, NOW)


def test_missing_secret_refuses_with_401() -> None:
    with pytest.raises(PermanentError) as err:
        verify_twilio_signature(sdk_signed(fixture("sms.txt")), {}, NOW)
    assert err.value.code == "unauthorized"


def test_specs_are_registered_and_answer_403_to_forgeries() -> None:
    assert channel_spec("twilio_messaging") is MESSAGING
    assert channel_spec("twilio_status") is STATUS
    assert MESSAGING.forged_status == STATUS.forged_status == 403
    assert MESSAGING.provider == STATUS.provider == "twilio"
    assert MESSAGING.secret_names == ("TWILIO_AUTH_TOKEN",)


# --- inbound messages ---------------------------------------------------------------------------


def test_sms() -> None:
    [event] = parse_twilio_message(sdk_signed(fixture("sms.txt")))
    assert event.provider == "twilio"
    assert event.kind is EventKind.MESSAGE
    assert event.channel is Channel.SMS
    assert event.event_id == "SM1f0e8ae6ade43cb3c0ce4525424e404f"
    assert event.sender is not None
    assert event.sender.identity.address == "+393331234567"
    assert event.sender.phone == "+393331234567"
    assert event.text == "Ciao, il mio ordine 1234 non è ancora arrivato"
    assert event.metadata["country"] == "IT"
    assert event.metadata["to"] == "+15017122661"
    assert "consent" not in event.metadata
    assert event.occurred_at == RECEIVED_AT


def test_mms_keeps_twilio_media_urls() -> None:
    [event] = parse_twilio_message(sdk_signed(fixture("mms.txt")))
    assert [a.kind for a in event.attachments] == ["image", "document"]
    assert [a.content_type for a in event.attachments] == ["image/jpeg", "application/pdf"]
    assert event.attachments[0].url is not None and event.attachments[0].url.startswith("https://api.twilio.com/")
    assert event.attachments[0].media_id == "ME0a1b2c3d4e5f60718293a4b5c6d7e8f9"
    assert "dropped_media_url" not in event.metadata


def test_media_url_off_twilio_hosts_is_dropped() -> None:
    body = fixture("mms.txt").replace(b"api.twilio.com", b"attacker.example")
    [event] = parse_twilio_message(sdk_signed(body))
    assert all(a.url is None for a in event.attachments)
    assert event.metadata["dropped_media_url"] == "true"
    assert len(event.attachments) == 2


def test_stop_uses_opt_out_type() -> None:
    [event] = parse_twilio_message(sdk_signed(fixture("sms_stop.txt")))
    assert event.metadata["consent"] == "opt_out"
    assert event.metadata["opt_out_type"] == "STOP"


def test_opt_out_type_wins_over_the_text() -> None:
    body = fixture("sms_stop.txt").replace(b"OptOutType=STOP", b"OptOutType=START")
    [event] = parse_twilio_message(sdk_signed(body))
    assert event.metadata["consent"] == "opt_in"


@pytest.mark.parametrize(("word", "consent"), [("START", "opt_in"), ("help", "help"), ("Stop!", "opt_out")])
def test_consent_keywords_without_opt_out_type(word: str, consent: str) -> None:
    simulated = simulate_twilio_messaging_message(SECRETS, "+15558675310", word)
    [event] = parse_twilio_message(from_simulated(simulated))
    assert event.metadata["consent"] == consent


def test_whatsapp_text() -> None:
    [event] = parse_twilio_message(sdk_signed(fixture("whatsapp_text.txt")))
    assert event.channel is Channel.WHATSAPP
    assert event.sender is not None
    assert event.sender.identity.address == "+393331234567"
    assert event.sender.name == "Giulia Rossi"
    assert event.metadata["wa_id"] == "393331234567"
    assert event.metadata["to"] == "whatsapp:+14155238886"


def test_whatsapp_image_without_body() -> None:
    [event] = parse_twilio_message(sdk_signed(fixture("whatsapp_image.txt")))
    assert event.kind is EventKind.MESSAGE
    assert event.text is None
    assert event.attachments[0].kind == "image"


def test_whatsapp_location() -> None:
    [event] = parse_twilio_message(sdk_signed(fixture("whatsapp_location.txt")))
    assert event.kind is EventKind.MESSAGE
    [location] = event.attachments
    assert location.kind == "location"
    assert location.name == "Duomo di Milano"
    assert location.caption == "Piazza del Duomo, 20122 Milano MI"
    assert (event.metadata["latitude"], event.metadata["longitude"]) == ("45.4642035", "9.189982")


def test_whatsapp_button_reply() -> None:
    [event] = parse_twilio_message(sdk_signed(fixture("whatsapp_button.txt")))
    assert event.text == "Yes, reschedule"
    assert event.metadata["button_payload"] == "reschedule:yes"
    assert event.metadata["button_text"] == "Yes, reschedule"
    assert event.metadata["replied_to_message_id"] == "SMd4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9"


def test_whatsapp_business_scoped_user_without_phone() -> None:
    [event] = parse_twilio_message(sdk_signed(fixture("whatsapp_bsuid.txt")))
    assert event.sender is not None
    assert event.sender.identity.address == "bsuid:US.13491208655302741918"
    assert event.sender.phone is None


def test_whatsapp_external_user_id_parameter() -> None:
    body = fixture("whatsapp_bsuid.txt").replace(
        b"From=whatsapp%3AUS.13491208655302741918", b"From=whatsapp%3Amaria.lopez&ExternalUserId=BR.1502576394655843"
    )
    [event] = parse_twilio_message(sdk_signed(body))
    assert event.sender is not None
    assert event.sender.identity.address == "bsuid:BR.1502576394655843"


def test_message_without_content_is_unknown_not_an_error() -> None:
    body = fixture("whatsapp_text.txt").replace(b"MessageType=text", b"MessageType=reaction")
    body = b"&".join(p for p in body.split(b"&") if not p.startswith(b"Body="))
    [event] = parse_twilio_message(sdk_signed(body))
    assert event.kind is EventKind.UNKNOWN
    assert event.event_id == "SM5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e"
    assert event.metadata["type"] == "reaction"


@pytest.mark.parametrize("body", [b"", b"Body=hello&From=%2B15558675310", b"MessageSid=SM1&Body=hi"])
def test_malformed_messages_raise_payload_error(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_twilio_message(form_request(body, MESSAGING_URL, None))


@pytest.mark.parametrize(
    "sender", ["VERIFY", "12345", "MyBank", "not-a-phone", "whatsapp:VERIFY", "user:abc", "bsuid:abc", "++"]
)
def test_a_from_that_is_no_phone_number_is_kept_as_unknown_not_refused(sender: str) -> None:
    # Twilio never retries a 4xx: refusing a short code or an alphanumeric sender would lose the message.
    body = fixture("sms_stop.txt").replace(b"From=%2B15558675310", b"From=" + quote(sender).encode())
    [event] = parse_twilio_message(sdk_signed(body))
    assert (event.kind, event.event_id, event.sender) == (EventKind.UNKNOWN, "SM8d2f6c4b1a0e9d8c7b6a5f4e3d2c1b0a", None)
    assert event.provider_message_id == event.event_id
    assert event.metadata["reason"] == "invalid_sender"
    assert "consent" not in event.metadata  # a STOP from nobody the hub can name changes no one's consent
    assert sender not in json.dumps(event.metadata)
    response = MESSAGING.respond(sdk_signed(body), [event])
    assert response.status == 200 and "<Message>" not in response.body


def test_non_utf8_message_raises_payload_error() -> None:
    with pytest.raises(PayloadError):
        parse_twilio_message(form_request(b"MessageSid=SM1&Body=\xff", MESSAGING_URL, None))


def test_distinct_messages_have_distinct_event_ids() -> None:
    ids = {
        parse_twilio_message(sdk_signed(fixture(name)))[0].event_id for name in ("sms.txt", "mms.txt", "sms_stop.txt")
    }
    assert len(ids) == 3


# --- status callbacks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "error_code"),
    [
        ("status_sent.txt", DeliveryStatus.SENT, None),
        ("status_delivered.txt", DeliveryStatus.DELIVERED, None),
        ("status_undelivered.txt", DeliveryStatus.FAILED, "30003"),
    ],
)
def test_sms_status_callbacks(name: str, status: DeliveryStatus, error_code: str | None) -> None:
    [event] = parse_twilio_status(sdk_signed(fixture(name), url=STATUS_URL, path="/webhooks/twilio/status"))
    assert event.kind is EventKind.DELIVERY_STATUS
    assert event.channel is Channel.SMS
    assert event.provider_message_id == "SM9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d"
    assert event.event_id == f"SM9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d#{event.metadata['twilio_status']}"
    assert event.status is status
    assert event.error_code == error_code
    assert event.sender is None


def test_undelivered_keeps_error_message() -> None:
    [event] = parse_twilio_status(sdk_signed(fixture("status_undelivered.txt"), url=STATUS_URL))
    assert event.metadata["error_message"] == "Unreachable destination handset"


def test_whatsapp_read_status() -> None:
    [event] = parse_twilio_status(sdk_signed(fixture("status_whatsapp_read.txt"), url=STATUS_URL))
    assert event.channel is Channel.WHATSAPP
    assert event.status is DeliveryStatus.READ
    assert event.event_id == "SM6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c#read"


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("accepted", DeliveryStatus.QUEUED),
        ("scheduled", DeliveryStatus.QUEUED),
        ("queued", DeliveryStatus.QUEUED),
        ("sending", DeliveryStatus.QUEUED),
        ("canceled", DeliveryStatus.FAILED),
        ("failed", DeliveryStatus.FAILED),
        ("receiving", DeliveryStatus.RECEIVED),
        ("received", DeliveryStatus.RECEIVED),
        ("partially_delivered", DeliveryStatus.SENT),
    ],
)
def test_every_twilio_status_maps(raw: str, status: DeliveryStatus) -> None:
    [event] = parse_twilio_status(from_simulated(simulate_twilio_status(SECRETS, "SMabc", raw)))
    assert event.status is status
    assert event.event_id == f"SMabc#{raw}"


def test_unknown_status_is_unknown_event() -> None:
    [event] = parse_twilio_status(from_simulated(simulate_twilio_status(SECRETS, "SMabc", "teleported")))
    assert event.kind is EventKind.UNKNOWN
    assert event.event_id == "SMabc#teleported"
    assert event.metadata["type"] == "status:teleported"


def test_each_transition_is_its_own_event() -> None:
    ids = [
        parse_twilio_status(from_simulated(simulate_twilio_status(SECRETS, "SMabc", s)))[0].event_id
        for s in ("queued", "sent", "delivered", "read")
    ]
    assert len(set(ids)) == 4


@pytest.mark.parametrize("body", [b"MessageStatus=sent", b"MessageSid=SM1&To=%2B15558675310", b""])
def test_malformed_status_raises_payload_error(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_twilio_status(form_request(body, STATUS_URL, None))


# --- responses ----------------------------------------------------------------------------------


def test_empty_twiml_is_what_the_sdk_means() -> None:
    assert twiml_response([]) == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    assert ET.tostring(ET.fromstring(twiml_response([]))) == ET.tostring(ET.fromstring(str(MessagingResponse())))  # noqa: S314 - our own TwiML


def test_twiml_messages_are_escaped_like_the_sdk() -> None:
    texts = ['Ticket <#42> & "more"', "Grazie, è tutto ok ✓"]
    sdk = MessagingResponse()
    for text in texts:
        sdk.message(text)
    assert twiml_response(texts) == str(sdk)


def test_twiml_strips_characters_xml_cannot_hold() -> None:
    root = ET.fromstring(twiml_response(["a\x00b\x1bc"]))  # noqa: S314 - our own TwiML
    assert root[0].text == "abc"


def test_messaging_responds_with_empty_twiml_and_status_with_empty_200() -> None:
    request = sdk_signed(fixture("sms.txt"))
    response = MESSAGING.respond(request, parse_twilio_message(request))
    assert (response.status, response.content_type) == (200, "text/xml")
    assert response.body == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    status_response = STATUS.respond(request, [])
    assert (status_response.status, status_response.body) == (200, "")


# --- simulators ---------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
def test_messaging_simulator_round_trip(channel: str) -> None:
    simulated = simulate_twilio_messaging_message(
        SECRETS, "+393331234567", "Ciao!", name="Giulia", public_base_url=BASE_URL, event_id="SMsim1", channel=channel
    )
    assert simulated.path == "/webhooks/twilio/messaging"
    request = from_simulated(simulated, BASE_URL)
    verify_twilio_signature(request, SECRETS, NOW)
    params = MultiDict(parse_qsl(simulated.body.decode(), keep_blank_values=True))
    assert RequestValidator(TOKEN).validate(MESSAGING_URL, params, simulated.headers["X-Twilio-Signature"])
    [event] = parse_twilio_message(request)
    assert event.event_id == "SMsim1"
    assert event.channel.value == channel
    assert event.sender is not None and event.sender.identity.address == "+393331234567"
    assert event.text == "Ciao!"
    if channel == "whatsapp":
        assert event.sender.name == "Giulia"


def test_messaging_simulator_signs_its_own_base_url_only() -> None:
    simulated = simulate_twilio_messaging_message(SECRETS, "+15558675310", "hi")
    verify_twilio_signature(from_simulated(simulated), SECRETS, NOW)
    with pytest.raises(SignatureError):
        verify_twilio_signature(from_simulated(simulated, BASE_URL), SECRETS, NOW)


def test_messaging_simulator_with_media() -> None:
    media_url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"
    simulated = simulate_twilio_messaging_message(SECRETS, "+15558675310", "", media=((media_url, "image/png"),))
    [event] = parse_twilio_message(from_simulated(simulated))
    assert event.attachments[0].url == media_url


def test_status_simulator_round_trip() -> None:
    simulated = simulate_twilio_status(
        SECRETS, "SMsim2", "undelivered", error_code="30006", channel="whatsapp", public_base_url=BASE_URL
    )
    request = from_simulated(simulated, BASE_URL)
    verify_twilio_signature(request, SECRETS, NOW)
    [event] = parse_twilio_status(request)
    assert (event.status, event.error_code, event.channel) == (DeliveryStatus.FAILED, "30006", Channel.WHATSAPP)


def test_events_serialize_to_json() -> None:
    [event] = parse_twilio_message(sdk_signed(fixture("mms.txt")))
    assert json.loads(json.dumps(event.to_dict()))["event_id"] == event.event_id


# --- the URL Twilio signed, rebuilt from API Gateway's decoded query ---------------------------


def as_api_gateway_hands_it(body: bytes, configured_query: str, signature: str, *, raw: bool = False
                            ) -> WebhookRequest:
    """The request the hub sees for a URL configured with ``configured_query``: API Gateway (REST) decodes
    the query (``+`` as a space, ``?flag`` as ``flag=""``) and groups the values of a repeated name
    (``multiValueQueryStringParameters``); the hub re-encodes it for ``public_url``."""
    grouped: dict[str, list[str]] = {}
    for name, value in parse_qsl(configured_query, keep_blank_values=True):
        grouped.setdefault(name, []).append(value)
    pairs = tuple((name, value) for name, values in grouped.items() for value in values)
    rebuilt = "&".join(f"{quote(name, safe='')}={quote(value, safe='')}" for name, value in pairs)
    return WebhookRequest(
        method="POST", path="/webhooks/twilio/messaging",
        headers={"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature},
        body=body, public_url=MESSAGING_URL + ("?" + rebuilt if rebuilt else ""), received_at=RECEIVED_AT,
        query_pairs=pairs, raw_query=configured_query if raw else None,
    )


SAFE_QUERIES = [
    "tenant=acme", "tenant=a/b", "tenant=a%2Fb", "tenant=a+b", "tenant=a%20b", "tenant=a%2Bb", "flag", "flag=",
    "flag&tenant=acme", "x=%7E", "x=~", "token=abc==", "list=a,b;c", "at=user@example.com", "path=/a/b&flag",
    "name=caf%C3%A9", "a=1&b=2&b=3", "q=a+b/c~d&empty", "a=1&a=2&b",
]


@pytest.mark.parametrize("query", SAFE_QUERIES)
def test_a_request_signed_over_the_configured_query_verifies_as_the_sdk_validates_it(query: str) -> None:
    body = fixture("sms.txt")
    params = MultiDict(parse_qsl(body.decode(), keep_blank_values=True))
    configured_url = f"{MESSAGING_URL}?{query}"
    signature = RequestValidator(TOKEN).compute_signature(configured_url, params)
    assert RequestValidator(TOKEN).validate(configured_url, params, signature)  # the oracle agrees with itself
    verify_twilio_signature(as_api_gateway_hands_it(body, query, signature), SECRETS, NOW)


@pytest.mark.parametrize(
    ("signed", "sent"),
    [("tenant=a/b", "tenant=a/c"), ("tenant=a+b", "tenant=a-b"), ("flag", "flag=1"), ("x=%7E", "x=%7F"),
     ("tenant=a/b", "tenant=a/b&extra=1"), ("tenant=a/b", ""), ("a=1&b=2", "b=2&a=1")],
)
def test_a_signature_over_another_query_is_refused(signed: str, sent: str) -> None:
    body = fixture("sms.txt")
    params = MultiDict(parse_qsl(body.decode(), keep_blank_values=True))
    signature = RequestValidator(TOKEN).compute_signature(f"{MESSAGING_URL}?{signed}", params)
    with pytest.raises(SignatureError):
        verify_twilio_signature(as_api_gateway_hands_it(body, sent, signature), SECRETS, NOW)


def test_a_raw_query_string_is_tried_first_when_the_gateway_passes_one() -> None:
    # A name repeated after another one (a=1&b=2&a=3) cannot be rebuilt from grouped pairs: only the
    # raw query (an HTTP API passes it) recovers the order Twilio signed.
    body = fixture("sms.txt")
    params = MultiDict(parse_qsl(body.decode(), keep_blank_values=True))
    query = "a=1&b=2&a=3"
    signature = RequestValidator(TOKEN).compute_signature(f"{MESSAGING_URL}?{query}", params)
    with pytest.raises(SignatureError):
        verify_twilio_signature(as_api_gateway_hands_it(body, query, signature), SECRETS, NOW)
    verify_twilio_signature(as_api_gateway_hands_it(body, query, signature, raw=True), SECRETS, NOW)


def test_the_candidate_urls_are_few() -> None:
    from chalicelib.providers.twilio import signed_url_candidates

    request = as_api_gateway_hands_it(b"", "q=a+b/c~d&empty", "x")
    candidates = signed_url_candidates(request)
    assert len(candidates) == len(set(candidates)) == 2 * 16
    assert f"{MESSAGING_URL}?q=a+b/c~d&empty" in candidates
    assert f"{MESSAGING_URL}?q=a%20b%2Fc%7Ed&empty=" in candidates
    assert len(signed_url_candidates(as_api_gateway_hands_it(b"", "tenant=acme", "x"))) == 2  # ports only
