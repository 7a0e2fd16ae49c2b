"""Viber callbacks: signature (viberbot SDK vector), every callback kind, exact 64-bit tokens.

The official viberbot SDK is a test-only dependency: ``Api.verify_signature`` checks our
signatures and ``Api.parse_request`` checks that the fixtures are shaped as Viber sends them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from viberbot import Api, BotConfiguration

from chalicelib.core.errors import PermanentError
from chalicelib.core.model import Channel, DeliveryStatus, EventKind, Identity
from chalicelib.providers import channel_spec
from chalicelib.providers.base import PayloadError, SignatureError, WebhookRequest
from chalicelib.providers.viber import (
    CHANNEL,
    parse_viber_callback,
    sign_viber_body,
    verify_viber_signature,
    viber_welcome_response,
)
from devstack.simulators.base import SimulatedRequest
from devstack.simulators.viber import (
    simulate_viber_message,
    simulate_viber_status,
    simulate_viber_webhook_check,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "viber"
# Viber/viber-bot-python/tests/api/test_api.py
SDK_TOKEN = "44dafb7e0f40021e-61a47a1e6778d187-f2c5a676a07050b3"
SDK_BODY = b'{"event":"webhook","timestamp":4977069964384421269,"message_token":1478683725125}'
SDK_SIGNATURE = "d21b343448c8aee33b8e93768ef6ceb64a6ba6163099973a2b8bd028fea510ef"
TOKEN = "445da6az1s345z78-dazcczb2542zv51a-e0vc5fva17480im9"
SECRETS = {"VIBER_AUTH_TOKEN": TOKEN}
NOW = 1_700_000_000.0
RECEIVED_AT = "2026-11-22T20:00:00.000Z"
USER_ID = "01234567890A="
ALL_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.json"))


def fixture_body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def viber_request(body: bytes, signature: str | None = "sign", token: str = TOKEN) -> WebhookRequest:
    headers = {"content-type": "application/json"}
    if signature == "sign":
        headers["x-viber-content-signature"] = sign_viber_body(token, body)
    elif signature is not None:
        headers["x-viber-content-signature"] = signature
    return WebhookRequest(
        method="POST",
        path="/webhooks/viber",
        headers=headers,
        body=body,
        public_url="http://127.0.0.1:8000/webhooks/viber",
        received_at=RECEIVED_AT,
    )


def parse_fixture(name: str) -> list:
    request = viber_request(fixture_body(name))
    verify_viber_signature(request, SECRETS, NOW)
    return parse_viber_callback(request)


def from_simulated(simulated: SimulatedRequest) -> WebhookRequest:
    return WebhookRequest(
        method=simulated.method,
        path=simulated.path,
        headers={k.lower(): v for k, v in simulated.headers.items()},
        body=simulated.body,
        public_url="http://127.0.0.1:8000" + simulated.path,
        received_at=RECEIVED_AT,
    )


def sdk_api(token: str = TOKEN) -> Api:
    return Api(BotConfiguration(token, "Omnihub", "https://example.com/avatar.png"))


# --- signatures ---------------------------------------------------------------------------


def test_sdk_published_vector():
    assert sign_viber_body(SDK_TOKEN, SDK_BODY) == SDK_SIGNATURE
    request = viber_request(SDK_BODY, SDK_SIGNATURE)
    verify_viber_signature(request, {"VIBER_AUTH_TOKEN": SDK_TOKEN}, NOW)
    assert sdk_api(SDK_TOKEN).verify_signature(SDK_BODY, SDK_SIGNATURE)


def test_sdk_vector_webhook_callback_has_no_events():
    # Its timestamp is far outside any calendar: the webhook check must not even look at it.
    assert parse_viber_callback(viber_request(SDK_BODY, SDK_SIGNATURE)) == []


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_sdk_accepts_our_signature(name: str):
    body = fixture_body(name)
    assert sdk_api().verify_signature(body, sign_viber_body(TOKEN, body))


@pytest.mark.parametrize("name", [n for n in ALL_FIXTURES if n != "client_status.json"])
def test_sdk_parses_every_documented_fixture(name: str):
    # client_status is not in the SDK (it raises for event types it does not know).
    request = sdk_api().parse_request(fixture_body(name))
    assert request.event_type == json.loads(fixture_body(name))["event"]


def test_forged_signature_is_rejected_by_both():
    body = fixture_body("message_text.json")
    forged = sign_viber_body("another-token", body)
    assert not sdk_api().verify_signature(body, forged)
    with pytest.raises(SignatureError):
        verify_viber_signature(viber_request(body, forged), SECRETS, NOW)


def test_missing_signature_is_rejected():
    with pytest.raises(SignatureError) as err:
        verify_viber_signature(viber_request(fixture_body("message_text.json"), None), SECRETS, NOW)
    assert err.value.code == "unauthorized"


def test_signature_of_a_modified_body_is_rejected():
    body = fixture_body("message_text.json")
    request = viber_request(body.replace(b"#1234", b"#9999"), sign_viber_body(TOKEN, body))
    with pytest.raises(SignatureError):
        verify_viber_signature(request, SECRETS, NOW)


def test_missing_secret_refuses_like_a_forgery():
    with pytest.raises(PermanentError) as err:
        verify_viber_signature(viber_request(fixture_body("message_text.json")), {}, NOW)
    assert err.value.code == "unauthorized"


def test_channel_spec_is_registered():
    assert channel_spec("viber") is CHANNEL
    assert CHANNEL.provider == "viber"
    assert CHANNEL.secret_names == ("VIBER_AUTH_TOKEN",)
    assert CHANNEL.forged_status == 401


# --- set_webhook check --------------------------------------------------------------------


def test_webhook_callback_gets_200_and_stores_nothing():
    # No handshake: the set_webhook check is verified like any callback and holds no event.
    assert CHANNEL.handshake is None
    request = viber_request(fixture_body("webhook.json"))
    CHANNEL.verify(request, SECRETS, NOW)
    assert CHANNEL.parse(request) == []
    response = CHANNEL.respond(request, [])
    assert (response.status, response.body) == (200, "{}")


def test_webhook_callback_must_be_signed():
    with pytest.raises(SignatureError):
        CHANNEL.verify(viber_request(fixture_body("webhook.json"), "00" * 32), SECRETS, NOW)


# --- messages -----------------------------------------------------------------------------


def test_text_message_keeps_the_64_bit_token_exact():
    [event] = parse_fixture("message_text.json")
    assert event.kind is EventKind.MESSAGE
    assert event.provider == "viber" and event.channel is Channel.VIBER
    # 4912661846655238145 > 2^53: a double would read it as ...238144 or ...238208.
    assert event.event_id == "4912661846655238145" == event.provider_message_id
    assert int(float(event.event_id)) != 4912661846655238145
    assert event.text == "Hello, my order #1234 has not arrived"
    assert event.sender.identity == Identity(Channel.VIBER, USER_ID)
    assert event.sender.name == "John McClane"
    assert event.sender.language == "en"
    assert event.metadata["country"] == "UK"
    assert event.metadata["tracking_data"] == "tracking data"
    assert event.metadata["chat_hostname"] == "SN-CHAT-04_"
    assert event.metadata["silent"] == "false"
    assert event.occurred_at == "2016-03-12T06:29:57.627Z"


def test_picture_on_viber_host_is_kept_with_caption():
    [event] = parse_fixture("message_picture.json")
    [attachment] = event.attachments
    assert attachment.kind == "image"
    assert attachment.url.startswith("https://dl-media.viber.com/5/media/")
    assert (attachment.name, attachment.size, attachment.caption) == (
        "broken-box.jpg",
        187345,
        "the parcel arrived broken",
    )
    assert event.text == "the parcel arrived broken"
    assert "dropped_media_url" not in event.metadata


def test_picture_on_a_foreign_host_is_dropped():
    [event] = parse_fixture("message_picture_foreign_host.json")
    [attachment] = event.attachments
    assert attachment.url is None
    assert event.metadata["dropped_media_url"] == "true"


def test_video():
    [event] = parse_fixture("message_video.json")
    [attachment] = event.attachments
    assert attachment.kind == "video" and attachment.url.startswith("https://dl-media.viber.com/")
    assert attachment.size == 250381 and attachment.name is None  # Viber sends the string "null"
    assert event.metadata["duration_s"] == "2466"


def test_file():
    [event] = parse_fixture("message_file.json")
    [attachment] = event.attachments
    assert (attachment.kind, attachment.name, attachment.size) == ("file", "invoice-1234.pdf", 10000)
    assert attachment.url.startswith("https://dl-media.viber.com/")


def test_sticker_keeps_its_id_and_drops_the_plain_http_url():
    [event] = parse_fixture("message_sticker.json")
    [attachment] = event.attachments
    assert attachment.kind == "sticker" and attachment.media_id == "153500"
    assert attachment.url is None and event.metadata["dropped_media_url"] == "true"


def test_contact():
    [event] = parse_fixture("message_contact.json")
    [attachment] = event.attachments
    assert attachment.kind == "contact" and attachment.name == "Itamar"
    assert event.metadata["contact_phone_number"] == "+972511123123"


def test_url_is_text_not_media():
    [event] = parse_fixture("message_url.json")
    assert event.text == "http://www.website.com/go_here"
    assert event.attachments == ()
    assert event.metadata["message_type"] == "url"


def test_location_keeps_coordinates_as_sent():
    [event] = parse_fixture("message_location.json")
    [attachment] = event.attachments
    assert attachment.kind == "location"
    assert (event.metadata["latitude"], event.metadata["longitude"]) == ("45.7949653", "15.7187165")


def test_unknown_message_type_is_unknown_not_an_error():
    payload = json.loads(fixture_body("message_text.json"))
    payload["message"] = {"type": "hologram"}
    [event] = parse_viber_callback(viber_request(json.dumps(payload).encode()))
    assert event.kind is EventKind.UNKNOWN
    assert event.event_id == "4912661846655238145"
    assert event.metadata["message_type"] == "hologram"


# --- lifecycle and receipts ---------------------------------------------------------------


def test_conversation_started():
    [event] = parse_fixture("conversation_started.json")
    assert event.kind is EventKind.LIFECYCLE
    assert event.metadata["lifecycle"] == "conversation_started"
    assert event.event_id == "4912661846655238146#conversation_started"
    assert event.sender.identity.address == USER_ID and event.sender.name == "John McClane"
    assert event.metadata["context"] == "order-1234"
    assert event.metadata["subscribed"] == "false"
    assert event.metadata["conversation_type"] == "open"


@pytest.mark.parametrize(
    ("name", "lifecycle"), [("subscribed.json", "subscribed"), ("unsubscribed.json", "unsubscribed")]
)
def test_subscription_lifecycle(name: str, lifecycle: str):
    [event] = parse_fixture(name)
    assert event.kind is EventKind.LIFECYCLE and event.metadata["lifecycle"] == lifecycle
    assert event.sender.identity == Identity(Channel.VIBER, USER_ID)
    assert event.event_id.endswith("#" + lifecycle)


@pytest.mark.parametrize(
    ("name", "status"),
    [
        ("delivered.json", DeliveryStatus.DELIVERED),
        ("seen.json", DeliveryStatus.READ),
        ("failed.json", DeliveryStatus.FAILED),
    ],
)
def test_receipts_are_delivery_statuses(name: str, status: DeliveryStatus):
    [event] = parse_fixture(name)
    assert event.kind is EventKind.DELIVERY_STATUS
    assert event.status is status
    assert event.provider_message_id == "4912661846655238149"
    assert event.event_id == "4912661846655238149#" + name.removesuffix(".json")
    assert event.sender.identity.address == USER_ID


def test_each_receipt_of_one_message_is_its_own_event():
    ids = {parse_fixture(n)[0].event_id for n in ("delivered.json", "seen.json", "failed.json")}
    assert len(ids) == 3


def test_failed_receipt_carries_the_description():
    [event] = parse_fixture("failed.json")
    assert event.metadata["error_description"] == "failure description"


def test_client_status_is_unknown():
    [event] = parse_fixture("client_status.json")
    assert event.kind is EventKind.UNKNOWN
    assert event.metadata["type"] == "client_status"
    assert event.event_id == "4912661846655238150#client_status"


def test_unknown_event_without_token_gets_a_stable_hash():
    body = b'{"event":"action","timestamp":1457764197627,"user_id":"01234567890A="}'
    [first] = parse_viber_callback(viber_request(body))
    [second] = parse_viber_callback(
        viber_request(b'{"user_id":"01234567890A=","timestamp":1457764197627,"event":"action"}')
    )
    assert first.event_id.startswith("sha256:") and first.event_id == second.event_id


def test_distinct_callbacks_have_distinct_ids():
    events = [e for name in ALL_FIXTURES for e in parse_fixture(name)]
    assert len({e.inbox_key for e in events}) == len(events)


# --- numbers and malformed bodies ---------------------------------------------------------


def test_token_sent_as_a_digit_string_is_accepted():
    payload = json.loads(fixture_body("message_text.json"))
    payload["message_token"] = "4912661846655238145"
    [event] = parse_viber_callback(viber_request(json.dumps(payload).encode()))
    assert event.event_id == "4912661846655238145"


def test_token_that_already_lost_digits_is_refused():
    body = fixture_body("message_text.json").replace(b"4912661846655238145", b"4.912661846655238e18")
    with pytest.raises(PayloadError):
        parse_viber_callback(viber_request(body))


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b"{}",
        b'{"event": 5}',
        b"\xff\xfe",
        b'{"event":"message","timestamp":1}',
        b'{"event":"message","message_token":1,"sender":{"id":"x"}}',
        b'{"event":"delivered","user_id":"x"}',
        b'{"event":"message","message_token":"\xc2\xb2","sender":{"id":"x"},"message":{"type":"text","text":"hi"}}',
        b"[" * 100_000,
        b'{"event":"message","message_token":' + b"9" * 5000 + b"}",
    ],
)
def test_malformed_body_is_a_payload_error(body: bytes):
    with pytest.raises(PayloadError):
        parse_viber_callback(viber_request(body))


@pytest.mark.parametrize("user_id", [" ", "\t"])
def test_a_sender_id_that_does_not_fit_is_unknown_not_a_model_error(user_id: str):
    payload = json.loads(fixture_body("message_text.json"))
    payload["sender"]["id"] = user_id
    [event] = parse_viber_callback(viber_request(json.dumps(payload).encode()))
    assert (event.kind, event.event_id, event.sender) == (EventKind.UNKNOWN, "4912661846655238145", None)
    assert event.metadata["reason"] == "invalid_sender"


@pytest.mark.parametrize(("name", "kind"), [("delivered.json", EventKind.DELIVERY_STATUS),
                                            ("unsubscribed.json", EventKind.LIFECYCLE)])
def test_a_user_id_that_does_not_fit_keeps_the_receipt_or_lifecycle_event(name: str, kind: EventKind):
    payload = json.loads(fixture_body(name))
    payload["user_id"] = " "
    [event] = parse_viber_callback(viber_request(json.dumps(payload).encode()))
    assert event.kind is kind and event.sender is None
    assert event.metadata["reason"] == "invalid_sender"


@pytest.mark.parametrize("timestamp", [b"NaN", b"Infinity", b"1e30", b"9" * 40, b"-99999999999999999"])
def test_a_timestamp_that_is_no_time_falls_back_to_received_at(timestamp: bytes):
    body = fixture_body("message_text.json").replace(b"1457764197627", timestamp)
    [event] = parse_viber_callback(viber_request(body))
    assert event.kind is EventKind.MESSAGE and event.occurred_at == RECEIVED_AT


def test_bad_timestamp_falls_back_to_received_at():
    payload = json.loads(fixture_body("delivered.json"))
    payload["timestamp"] = 4977069964384421269
    [event] = parse_viber_callback(viber_request(json.dumps(payload).encode()))
    assert event.occurred_at == RECEIVED_AT


def test_events_are_serializable():
    for name in ALL_FIXTURES:
        for event in parse_fixture(name):
            assert type(event).from_dict(event.to_dict()) == event


# --- welcome message ----------------------------------------------------------------------


def test_welcome_response_is_a_send_message_body_without_receiver():
    response = viber_welcome_response("Hi! How can we help?", "Omnihub Care", tracking_data="welcome")
    assert response.status == 200
    body = json.loads(response.body)
    assert body == {
        "sender": {"name": "Omnihub Care"},
        "type": "text",
        "text": "Hi! How can we help?",
        "tracking_data": "welcome",
    }
    assert "receiver" not in body


@pytest.mark.parametrize(("text", "name"), [("", "Care"), ("Hi", ""), ("Hi", "x" * 29), ("x" * 7001, "Care")])
def test_welcome_response_limits(text: str, name: str):
    with pytest.raises(ValueError):
        viber_welcome_response(text, name)


# --- simulator ----------------------------------------------------------------------------


def test_simulated_message_round_trips_with_an_exact_token():
    simulated = simulate_viber_message(
        SECRETS,
        USER_ID,
        "Ciao, dov'è il mio ordine?",
        name="Maria",
        language="it",
        country="IT",
        event_id="9007199254740993",  # 2^53 + 1: the first integer a double cannot hold
    )
    request = from_simulated(simulated)
    assert simulated.path == "/webhooks/viber"
    CHANNEL.verify(request, SECRETS, NOW)
    assert sdk_api().verify_signature(simulated.body, simulated.headers["X-Viber-Content-Signature"])
    assert b'"message_token":9007199254740993' in simulated.body
    [event] = CHANNEL.parse(request)
    assert event.kind is EventKind.MESSAGE and event.text == "Ciao, dov'è il mio ordine?"
    assert event.event_id == "9007199254740993"
    assert (event.sender.name, event.sender.language, event.metadata["country"]) == ("Maria", "it", "IT")


def test_simulated_messages_get_distinct_tokens_above_2_53():
    first = CHANNEL.parse(from_simulated(simulate_viber_message(SECRETS, USER_ID, "a")))[0]
    second = CHANNEL.parse(from_simulated(simulate_viber_message(SECRETS, USER_ID, "b")))[0]
    assert first.event_id != second.event_id
    assert int(first.event_id) > 2**53


@pytest.mark.parametrize(
    ("status", "expected"),
    [("delivered", DeliveryStatus.DELIVERED), ("seen", DeliveryStatus.READ), ("failed", DeliveryStatus.FAILED)],
)
def test_simulated_status_round_trips(status: str, expected: DeliveryStatus):
    request = from_simulated(simulate_viber_status(SECRETS, USER_ID, "5167121934301882005", status))
    CHANNEL.verify(request, SECRETS, NOW)
    [event] = CHANNEL.parse(request)
    assert event.status is expected
    assert event.provider_message_id == "5167121934301882005"


def test_simulated_webhook_check_round_trips():
    request = from_simulated(simulate_viber_webhook_check(SECRETS))
    CHANNEL.verify(request, SECRETS, NOW)
    assert CHANNEL.parse(request) == []
