"""Vonage Messages API: JWT checked against PyJWT and the vonage-jwt SDK (test-only oracles).

Published vector: vonage-python-sdk ``jwt/tests/test_verify_jwt.py`` (token signed with
``qwertyuiopasdfghjklzxcvbnm123456``; ``asdf`` must not verify it).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from pathlib import Path
from typing import Any

import jwt as pyjwt
import pytest
from vonage_jwt import verify_signature as vonage_verify_signature

from chalicelib.core.errors import PermanentError
from chalicelib.core.model import Channel, DeliveryStatus, EventKind
from chalicelib.providers import channel_spec
from chalicelib.providers.base import PayloadError, SignatureError, WebhookRequest, hmac_sha256
from chalicelib.providers.vonage import (
    IAT_MAX_AGE_SECONDS,
    MESSAGES,
    parse_vonage_messages,
    sign_vonage_webhook,
    verified_claims,
    verify_vonage_signature,
)
from devstack.simulators.base import SimulatedRequest
from devstack.simulators.vonage import simulate_vonage_messages_message, simulate_vonage_status

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "vonage"
SECRET = "vonage-signature-secret-0123456789abcdef"
SECRETS = {"VONAGE_SIGNATURE_SECRET": SECRET}
NOW = 1_738_584_866  # 2025-02-03T12:14:26Z
RECEIVED_AT = "2025-02-03T12:14:27.000Z"

SDK_TOKEN = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJPbmxpbmUgSldUIEJ1aWxkZXIiLCJpYXQiOjE2OTc2MzQ2ODAsImV4cCI6MzMy"
    "NTQ1NDA4MjgsImF1ZCI6IiIsInN1YiI6IiJ9.88vJc3I2HhuqEDixHXVhc9R30tA6U_HQHZTC29y6CGM"
)
SDK_SECRET = "qwertyuiopasdfghjklzxcvbnm123456"
SDK_TOKEN_IAT = 1697634680


def fixture_body(name: str) -> bytes:
    """The fixture as Vonage sends it: compact JSON."""
    data = json.loads((FIXTURES / name).read_text())
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def claims_for(body: bytes, **overrides: Any) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iat": NOW,
        "jti": str(uuid.uuid4()),
        "iss": "Vonage",
        "payload_hash": hashlib.sha256(body).hexdigest(),
        "api_key": "abcd1234",
        "application_id": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def request_with(body: bytes, authorization: str | None) -> WebhookRequest:
    headers = {"content-type": "application/json"}
    if authorization is not None:
        headers["authorization"] = authorization
    return WebhookRequest(
        method="POST", path="/webhooks/vonage/messages", headers=headers, body=body, received_at=RECEIVED_AT
    )


def pyjwt_signed(body: bytes, secret: str = SECRET, algorithm: str = "HS256", **overrides: Any) -> WebhookRequest:
    """Signed by PyJWT, as Vonage signs: the oracle for every fixture."""
    token = pyjwt.encode(claims_for(body, **overrides), secret, algorithm=algorithm)
    return request_with(body, f"Bearer {token}")


def parse_fixture(name: str) -> Any:
    request = pyjwt_signed(fixture_body(name))
    verify_vonage_signature(request, SECRETS, NOW)
    [event] = parse_vonage_messages(request)
    return event


def from_simulated(simulated: SimulatedRequest) -> WebhookRequest:
    return WebhookRequest(
        method=simulated.method,
        path=simulated.path,
        headers={k.lower(): v for k, v in simulated.headers.items()},
        body=simulated.body,
        received_at=RECEIVED_AT,
    )


# --- JWT: published vector and oracles ----------------------------------------------------------


def test_published_vector_verifies() -> None:
    claims = verified_claims(SDK_TOKEN, SDK_SECRET, SDK_TOKEN_IAT + 60)
    assert claims["iss"] == "Online JWT Builder"
    assert vonage_verify_signature(SDK_TOKEN, SDK_SECRET) is True


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # the vector's 4-byte secret
def test_published_vector_wrong_secret_fails() -> None:
    with pytest.raises(SignatureError, match="signature"):
        verified_claims(SDK_TOKEN, "asdf", SDK_TOKEN_IAT + 60)
    assert vonage_verify_signature(SDK_TOKEN, "asdf") is False


def test_our_tokens_verify_with_pyjwt_and_the_vonage_sdk() -> None:
    body = fixture_body("inbound_sms.json")
    header = sign_vonage_webhook(SECRET, body, issued_at=NOW, jti="j-1")
    token = header.removeprefix("Bearer ")
    assert vonage_verify_signature(token, SECRET) is True
    decoded = pyjwt.decode(token, SECRET, algorithms=["HS256"])
    assert decoded["payload_hash"] == hashlib.sha256(body).hexdigest()
    assert decoded["iss"] == "Vonage"
    assert pyjwt.get_unverified_header(token)["alg"] == "HS256"


def test_pyjwt_tokens_decode_with_ours() -> None:
    claims = {"iat": NOW, "jti": "x", "nested": {"a": [1, 2]}, "unicode": "è✓"}
    token = pyjwt.encode(claims, SECRET, algorithm="HS256")
    assert verified_claims(token, SECRET, NOW) == claims


def test_a_required_claim_that_is_missing_is_named() -> None:
    with pytest.raises(SignatureError, match="payload_hash"):
        verified_claims(SDK_TOKEN, SDK_SECRET, SDK_TOKEN_IAT + 60, required=("iat", "payload_hash"))


def test_every_fixture_verifies() -> None:
    for path in sorted(FIXTURES.glob("*.json")):
        verify_vonage_signature(pyjwt_signed(fixture_body(path.name)), SECRETS, NOW)


# --- JWT: rejections ----------------------------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "", "   "])
def test_missing_token_is_answered_401_like_any_unsigned_request(authorization: str | None) -> None:
    # 5xx is for a failed durable write only; an unsigned request is never trusted nor retried for.
    with pytest.raises(SignatureError) as err:
        verify_vonage_signature(request_with(fixture_body("inbound_sms.json"), authorization), SECRETS, NOW)
    assert err.value.code == "unauthorized"
    assert MESSAGES.forged_status == 401


@pytest.mark.parametrize(
    "authorization", ["Basic YWJjOmRlZg==", "Bearer", "Bearer not.a.jwt", "Bearer a.b", "Bearer @@.@@.@@"]
)
def test_malformed_authorization_is_rejected(authorization: str) -> None:
    with pytest.raises(SignatureError):
        verify_vonage_signature(request_with(fixture_body("inbound_sms.json"), authorization), SECRETS, NOW)


def test_wrong_secret_is_rejected() -> None:
    with pytest.raises(SignatureError, match="signature"):
        verify_vonage_signature(
            pyjwt_signed(fixture_body("inbound_sms.json"), secret="another-secret-of-at-least-32-bytes-long"),
            SECRETS,
            NOW,
        )


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")  # HS512 wants 64 bytes
def test_other_algorithms_are_rejected() -> None:
    body = fixture_body("inbound_sms.json")
    with pytest.raises(SignatureError, match="algorithm"):
        verify_vonage_signature(pyjwt_signed(body, algorithm="HS512"), SECRETS, NOW)
    unsigned = pyjwt.encode(claims_for(body), None, algorithm="none")
    for token in (unsigned, unsigned.rstrip(".") + ".", unsigned + "c2ln"):
        with pytest.raises(SignatureError):
            verify_vonage_signature(request_with(body, f"Bearer {token}"), SECRETS, NOW)


def test_tampered_body_fails_payload_hash() -> None:
    signed = pyjwt_signed(fixture_body("inbound_sms.json"))
    tampered = request_with(signed.body.replace(b"parcel", b"refund"), signed.headers["authorization"])
    with pytest.raises(SignatureError, match="payload_hash"):
        verify_vonage_signature(tampered, SECRETS, NOW)


def test_missing_payload_hash_is_rejected() -> None:
    with pytest.raises(SignatureError, match="payload_hash"):
        verify_vonage_signature(pyjwt_signed(fixture_body("inbound_sms.json"), payload_hash=None), SECRETS, NOW)


def test_reformatted_json_body_is_rejected() -> None:
    # Vonage hashes the raw bytes it sends: a body that differs in any byte, even only in its JSON
    # formatting, is not the body Vonage signed.
    compact = fixture_body("inbound_whatsapp_text.json")
    token = pyjwt.encode(claims_for(compact), SECRET, algorithm="HS256")
    pretty = (FIXTURES / "inbound_whatsapp_text.json").read_bytes()
    assert pretty != compact
    with pytest.raises(SignatureError, match="payload_hash"):
        verify_vonage_signature(request_with(pretty, f"Bearer {token}"), SECRETS, NOW)
    reordered = json.dumps(dict(reversed(json.loads(compact).items())), separators=(",", ":")).encode()
    with pytest.raises(SignatureError, match="payload_hash"):
        verify_vonage_signature(request_with(reordered, f"Bearer {token}"), SECRETS, NOW)


@pytest.mark.parametrize("claim", ["iat", "exp", "nbf"])
@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_time_claims_are_rejected(claim: str, value: float) -> None:
    # NaN compares false with everything: unchecked, it would pass every time bound.
    body = fixture_body("inbound_sms.json")
    token = pyjwt.encode(claims_for(body, **{claim: value}), SECRET, algorithm="HS256")
    with pytest.raises(SignatureError):
        verify_vonage_signature(request_with(body, f"Bearer {token}"), SECRETS, NOW)


@pytest.mark.parametrize("payload", [b"[" * 100_000, b'{"iat": ' + b"9" * 5000 + b"}"])
def test_jwt_json_that_json_loads_refuses_is_a_signature_error(payload: bytes) -> None:
    # Nesting deeper than the recursion limit and integers over 4300 digits raise RecursionError and
    # ValueError, not JSONDecodeError: still a SignatureError, never a 500.
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    claims = base64.urlsafe_b64encode(payload).rstrip(b"=").decode()
    signature = base64.urlsafe_b64encode(hmac_sha256(SECRET, f"{header}.{claims}".encode())).rstrip(b"=").decode()
    with pytest.raises(SignatureError, match="malformed"):
        verified_claims(f"{header}.{claims}.{signature}", SECRET, NOW)


def test_uppercase_payload_hash_is_accepted() -> None:
    body = fixture_body("inbound_sms.json")
    verify_vonage_signature(pyjwt_signed(body, payload_hash=hashlib.sha256(body).hexdigest().upper()), SECRETS, NOW)


@pytest.mark.parametrize(
    ("overrides", "accepted"),
    [
        ({"iat": NOW - 24 * 3600}, True),  # a retry a day later
        ({"iat": NOW - IAT_MAX_AGE_SECONDS - 1}, False),  # ancient
        ({"iat": NOW + 299}, True),  # clock skew
        ({"iat": NOW + 301}, False),  # from the future
        ({"iat": None}, False),
        ({"iat": "yesterday"}, False),
        ({"exp": NOW - 301}, False),
        ({"exp": NOW + 60}, True),
        ({"nbf": NOW + 3600}, False),
    ],
)
def test_time_claims(overrides: dict[str, Any], accepted: bool) -> None:
    request = pyjwt_signed(fixture_body("inbound_sms.json"), **overrides)
    if accepted:
        verify_vonage_signature(request, SECRETS, NOW)
    else:
        with pytest.raises(SignatureError):
            verify_vonage_signature(request, SECRETS, NOW)


def test_missing_secret_refuses_with_401() -> None:
    with pytest.raises(PermanentError) as err:
        verify_vonage_signature(pyjwt_signed(fixture_body("inbound_sms.json")), {}, NOW)
    assert err.value.code == "unauthorized"


def test_spec_is_registered() -> None:
    assert channel_spec("vonage_messages") is MESSAGES
    assert MESSAGES.provider == "vonage"
    assert MESSAGES.secret_names == ("VONAGE_SIGNATURE_SECRET",)
    assert MESSAGES.forged_status == 401


# --- inbound messages ---------------------------------------------------------------------------


def test_inbound_sms() -> None:
    event = parse_fixture("inbound_sms.json")
    assert (event.provider, event.kind, event.channel) == ("vonage", EventKind.MESSAGE, Channel.SMS)
    assert event.event_id == "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
    assert event.sender.identity.address == "+447700900001"
    assert event.sender.phone == "+447700900001"
    assert event.text == "Hello, my parcel has not arrived"
    assert event.occurred_at == "2025-02-03T12:14:25.000Z"
    assert event.metadata["to"] == "447700900000"
    assert "consent" not in event.metadata


def test_inbound_sms_stop_records_consent() -> None:
    assert parse_fixture("inbound_sms_stop.json").metadata["consent"] == "opt_out"


def test_inbound_mms_image() -> None:
    event = parse_fixture("inbound_mms_image.json")
    assert event.channel is Channel.SMS
    assert event.metadata["transport"] == "mms"
    [image] = event.attachments
    assert image.kind == "image"
    assert image.url == "https://api-us.nexmo.com/v3/media/1b456509-974c-458b-aafa-45a3ba3e25c4"
    assert image.caption == "The damaged box"


def test_inbound_whatsapp_text() -> None:
    event = parse_fixture("inbound_whatsapp_text.json")
    assert event.channel is Channel.WHATSAPP
    assert event.sender.identity.address == "+447700900001"
    assert event.sender.name == "Jane Smith"
    assert event.metadata["username"] == "janesmith123"


def test_inbound_whatsapp_image_and_file() -> None:
    image = parse_fixture("inbound_whatsapp_image.json")
    assert image.attachments[0].kind == "image"
    assert image.attachments[0].name == "photo.jpg"
    assert image.text == "See attached"
    document = parse_fixture("inbound_whatsapp_file.json")
    assert document.attachments[0].kind == "document"
    assert document.attachments[0].url is not None and "api-eu.nexmo.com" in document.attachments[0].url
    assert document.text is None


def test_media_url_off_vonage_hosts_is_dropped() -> None:
    body = fixture_body("inbound_whatsapp_image.json").replace(b"api-us.nexmo.com", b"evil.example")
    [event] = parse_vonage_messages(request_with(body, None))
    assert event.attachments[0].url is None
    assert event.metadata["dropped_media_url"] == "true"


def test_inbound_whatsapp_location() -> None:
    event = parse_fixture("inbound_whatsapp_location.json")
    [location] = event.attachments
    assert (location.kind, location.name) == ("location", "Vonage London")
    assert location.caption == "15 Bonhill St, London EC2A 4DN"
    assert (event.metadata["latitude"], event.metadata["longitude"]) == ("51.5216317", "-0.0890882")


def test_inbound_whatsapp_reply_and_button() -> None:
    reply = parse_fixture("inbound_whatsapp_reply.json")
    assert reply.text == "9am"
    assert reply.metadata["reply_id"] == "slot-9am"
    assert reply.metadata["replied_to_message_id"] == "11111111-2222-4333-8444-555555555555"
    button = parse_fixture("inbound_whatsapp_button.json")
    assert button.text == "Yes, reschedule"
    assert button.metadata["button_payload"] == "reschedule:yes"


def test_inbound_whatsapp_unsupported_is_unknown() -> None:
    event = parse_fixture("inbound_whatsapp_unsupported.json")
    assert event.kind is EventKind.UNKNOWN
    assert event.event_id == "cdcdcdcd-efef-4aba-8cdc-0123456789ab"
    assert event.metadata["type"] == "unsupported"


def test_inbound_messenger_keeps_the_psid() -> None:
    event = parse_fixture("inbound_messenger_text.json")
    assert event.channel is Channel.MESSENGER
    assert event.sender.identity.address == "9876543210987654321"
    assert event.sender.phone is None


def test_ids_beyond_2_53_stay_exact_strings() -> None:
    data = json.loads(fixture_body("inbound_messenger_text.json"))
    data["from"] = 9876543210987654321  # a JSON number
    [event] = parse_vonage_messages(request_with(json.dumps(data).encode(), None))
    assert event.sender.identity.address == "9876543210987654321"


def test_inbound_viber() -> None:
    event = parse_fixture("inbound_viber_text.json")
    assert event.channel is Channel.VIBER
    assert event.sender.identity.address == "+447700900001"
    assert event.metadata["vonage_channel"] == "viber_service"
    assert event.metadata["replied_to_message_id"] == "22222222-3333-4444-8555-666666666666"


def test_whatsapp_business_scoped_user_without_phone() -> None:
    # Shape assumed from Vonage's status callback (whatsapp.recipient.user_id): no phone, a BSUID.
    data = json.loads(fixture_body("inbound_whatsapp_text.json"))
    del data["from"]
    data["whatsapp"] = {"sender": {"user_id": "GB.13491208655302741918"}}
    [event] = parse_vonage_messages(request_with(json.dumps(data).encode(), None))
    assert event.sender.identity.address == "bsuid:GB.13491208655302741918"
    data["from"] = "GB.13491208655302741918"
    del data["whatsapp"]
    [event] = parse_vonage_messages(request_with(json.dumps(data).encode(), None))
    assert event.sender.identity.address == "bsuid:GB.13491208655302741918"


def test_unknown_message_type_and_channel_are_unknown_events() -> None:
    data = json.loads(fixture_body("inbound_whatsapp_text.json"))
    data["message_type"] = "order"
    [order] = parse_vonage_messages(request_with(json.dumps(data).encode(), None))
    assert (order.kind, order.metadata["type"]) == (EventKind.UNKNOWN, "order")
    data["channel"] = "carrier_pigeon"
    [pigeon] = parse_vonage_messages(request_with(json.dumps(data).encode(), None))
    assert (pigeon.kind, pigeon.metadata["type"]) == (EventKind.UNKNOWN, "channel:carrier_pigeon")


def test_unrecognized_payload_gets_a_stable_hash_id() -> None:
    body = b'{"event": "something-new", "value": 1}'
    [first] = parse_vonage_messages(request_with(body, None))
    [second] = parse_vonage_messages(request_with(b'{"value": 1, "event": "something-new"}', None))
    assert first.kind is EventKind.UNKNOWN
    assert first.event_id == second.event_id and len(first.event_id) == 64


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        b'{"channel": "sms", "message_type": "text", "text": "no uuid", "from": "447700900001"}',
        b'{"channel": "whatsapp", "message_uuid": "u2", "message_type": "image", "image": "x", "from": "447700900001"}',
        b'{"channel": "whatsapp", "message_uuid": "u3", "message_type": "location", "location": {}, "from": "4477009"}',
        b'{"status": "delivered", "channel": "sms"}',
        b"\xff\xfe",
    ],
)
def test_malformed_payloads_raise_payload_error(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_vonage_messages(request_with(body, None))


@pytest.mark.parametrize(
    ("channel", "sender"),
    [("sms", "VERIFY"), ("sms", "12345"), ("sms", None), ("messenger", "   "), ("whatsapp", None)],
)
def test_unreadable_sender_is_an_unknown_event_not_a_lost_message(channel: str, sender: str | None) -> None:
    # A 4xx makes Vonage drop the message for good: it is kept, deduplicated on message_uuid.
    payload = {"channel": channel, "message_uuid": "u-sender", "message_type": "text", "text": "your code is 1234",
               "to": "447700900000", "timestamp": "2025-02-03T12:14:25Z"}
    if sender is not None:
        payload["from"] = sender
    [event] = parse_vonage_messages(request_with(json.dumps(payload).encode(), None))
    assert (event.kind, event.event_id, event.sender) == (EventKind.UNKNOWN, "u-sender", None)
    assert event.metadata["reason"] == "invalid_sender"
    assert event.metadata["type"] == "text"
    assert "VERIFY" not in json.dumps(event.to_dict())  # the raw payload keeps it, not the metadata


@pytest.mark.parametrize(
    "timestamp", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "yesterday", 1e30, None]
)
def test_unreadable_timestamp_falls_back_to_the_reception_time(timestamp: object) -> None:
    payload = json.loads(fixture_body("inbound_sms.json"))
    payload["timestamp"] = timestamp
    [event] = parse_vonage_messages(request_with(json.dumps(payload).encode(), None))
    assert event.kind is EventKind.MESSAGE
    assert event.occurred_at == RECEIVED_AT


def test_distinct_webhooks_have_distinct_event_ids() -> None:
    names = [p.name for p in FIXTURES.glob("*.json")]
    ids = [parse_fixture(name).event_id for name in names]
    assert len(set(ids)) == len(ids)


# --- status webhooks ----------------------------------------------------------------------------


def test_status_submitted_and_delivered() -> None:
    submitted = parse_fixture("status_submitted_sms.json")
    delivered = parse_fixture("status_delivered_sms.json")
    for event in (submitted, delivered):
        assert event.kind is EventKind.DELIVERY_STATUS
        assert event.provider_message_id == "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ff"
        assert event.metadata["client_ref"] == "omnihub-out-42"
        assert event.sender is None
    assert (submitted.status, submitted.event_id) == (
        DeliveryStatus.SENT,
        "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ff#submitted",
    )
    assert (delivered.status, delivered.event_id) == (
        DeliveryStatus.DELIVERED,
        "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ff#delivered",
    )
    assert submitted.metadata["price"] == "0.0333"


def test_status_read_whatsapp() -> None:
    event = parse_fixture("status_read_whatsapp.json")
    assert (event.channel, event.status) == (Channel.WHATSAPP, DeliveryStatus.READ)
    assert event.metadata["recipient_bsuid"] == "US.13491208655302741918"
    assert event.occurred_at == "2025-02-03T12:14:25.000Z"


def test_status_rejected_with_error() -> None:
    event = parse_fixture("status_rejected_whatsapp.json")
    assert (event.status, event.error_code) == (DeliveryStatus.FAILED, "1330")
    assert "WhatsApp" in event.metadata["error_detail"]


def test_status_undeliverable_viber() -> None:
    event = parse_fixture("status_undeliverable_viber.json")
    assert (event.channel, event.status, event.error_code) == (Channel.VIBER, DeliveryStatus.FAILED, "1020")


def test_unknown_status_is_unknown_event() -> None:
    data = json.loads(fixture_body("status_delivered_sms.json"))
    data["status"] = "teleported"
    [event] = parse_vonage_messages(request_with(json.dumps(data).encode(), None))
    assert (event.kind, event.event_id) == (EventKind.UNKNOWN, "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ff#teleported")
    assert event.metadata["type"] == "status:teleported"


# --- simulators ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "sender", "expected_channel", "expected_address"),
    [
        ("sms", "+447700900001", Channel.SMS, "+447700900001"),
        ("whatsapp", "447700900001", Channel.WHATSAPP, "+447700900001"),
        ("messenger", "9876543210987654321", Channel.MESSENGER, "9876543210987654321"),
        ("viber", "447700900001", Channel.VIBER, "+447700900001"),
    ],
)
def test_message_simulator_round_trip(
    channel: str, sender: str, expected_channel: Channel, expected_address: str
) -> None:
    simulated = simulate_vonage_messages_message(
        SECRETS, sender, "Hello!", name="Jane", event_id="sim-1", channel=channel, issued_at=NOW
    )
    assert simulated.path == "/webhooks/vonage/messages"
    request = from_simulated(simulated)
    verify_vonage_signature(request, SECRETS, NOW)
    assert vonage_verify_signature(simulated.headers["Authorization"].removeprefix("Bearer "), SECRET)
    [event] = parse_vonage_messages(request)
    assert (event.event_id, event.channel, event.text) == ("sim-1", expected_channel, "Hello!")
    assert event.sender.identity.address == expected_address


def test_status_simulator_round_trip() -> None:
    simulated = simulate_vonage_status(
        SECRETS, "sim-2", "rejected", channel="whatsapp", error_code=1330, client_ref="out-7", issued_at=NOW
    )
    request = from_simulated(simulated)
    verify_vonage_signature(request, SECRETS, NOW)
    [event] = parse_vonage_messages(request)
    assert (event.event_id, event.status, event.error_code) == ("sim-2#rejected", DeliveryStatus.FAILED, "1330")
    assert event.metadata["client_ref"] == "out-7"


def test_simulator_signature_expires_like_vonage() -> None:
    simulated = simulate_vonage_messages_message(SECRETS, "447700900001", "hi", issued_at=NOW - 2 * 86400)
    with pytest.raises(SignatureError):
        verify_vonage_signature(from_simulated(simulated), SECRETS, NOW)


def test_default_response_is_200() -> None:
    response = MESSAGES.respond(request_with(b"{}", None), [])
    assert response.status == 200


# --- claims of the wrong type or range: always 401, never an exception ------------------------


def hs256_token(claims_json: bytes, secret: str = SECRET) -> str:
    """A correctly signed HS256 token over any claims text (even JSON no encoder would write)."""
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(claims_json).rstrip(b"=").decode()
    signature = base64.urlsafe_b64encode(hmac_sha256(secret, f"{header}.{payload}".encode())).rstrip(b"=").decode()
    return f"{header}.{payload}.{signature}"


def claims_json(body: bytes, claim: str, raw_value: str) -> bytes:
    claims = {k: v for k, v in claims_for(body).items() if k != claim}
    return json.dumps(claims)[:-1].encode() + f', "{claim}": {raw_value}}}'.encode()


ABSURD_CLAIMS = [
    ("iat", "-" + "1" + "0" * 400),  # -10**400: OverflowError once it meets a float
    ("iat", "1" + "0" * 400),
    ("iat", "1e400"),  # inf once parsed
    ("iat", "-1e400"),
    ("iat", "NaN"),
    ("iat", "1e300"),
    ("iat", '"1738584866"'),  # a string, even of the right number
    ("iat", "true"),
    ("iat", "[1738584866]"),
    ("iat", "{}"),
    ("iat", "null"),
    ("exp", "-" + "1" + "0" * 400),
    ("exp", "1" + "0" * 400),
    ("exp", '"tomorrow"'),
    ("exp", "[]"),
    ("nbf", "1" + "0" * 400),
    ("nbf", "-1e400"),
    ("nbf", "false"),
    ("payload_hash", "12345"),
    ("payload_hash", "[]"),
    ("payload_hash", '""'),
    ("payload_hash", "null"),
    ("jti", "5"),
    ("sub", "[]"),
    ("aud", '"someone-else"'),
]


@pytest.mark.parametrize(("claim", "raw_value"), ABSURD_CLAIMS)
def test_a_signed_jwt_with_a_claim_of_the_wrong_type_or_range_is_a_signature_error(
    claim: str, raw_value: str
) -> None:
    body = fixture_body("inbound_sms.json")
    token = hs256_token(claims_json(body, claim, raw_value))
    with pytest.raises(SignatureError) as err:
        verify_vonage_signature(request_with(body, f"Bearer {token}"), SECRETS, NOW)
    assert err.value.code == "unauthorized"
    assert "Error" not in err.value.reason  # our words, never a library's exception text


@pytest.mark.parametrize(
    "header",
    [b'{"alg":"HS256","typ":"JWT","kid":5}', b'{"alg":["HS256"]}', b'{"alg":"HS256","b64":false}', b"[]",
     b'{"alg":"HS256","crit":["exp"]}', b"[" * 100_000, b'{"alg": "HS256", "n": ' + b"9" * 5000 + b"}"],
)
def test_a_jwt_header_of_the_wrong_shape_is_a_signature_error(header: bytes) -> None:
    body = fixture_body("inbound_sms.json")
    encoded_header = base64.urlsafe_b64encode(header).rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(json.dumps(claims_for(body)).encode()).rstrip(b"=").decode()
    mac = hmac_sha256(SECRET, f"{encoded_header}.{payload}".encode())
    token = f"{encoded_header}.{payload}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"
    with pytest.raises(SignatureError):
        verify_vonage_signature(request_with(body, f"Bearer {token}"), SECRETS, NOW)


def test_a_token_that_is_not_text_the_jwt_library_can_read_is_a_signature_error() -> None:
    body = fixture_body("inbound_sms.json")
    for token in ("a\ud83d.b.c", "é.é.é", "a.b.c.d", "...", "a" * 10_000):
        with pytest.raises(SignatureError):
            verify_vonage_signature(request_with(body, f"Bearer {token}"), SECRETS, NOW)


def test_importing_the_providers_does_not_import_the_jwt_library() -> None:
    # Only a Vonage request pays for PyJWT's import; every other webhook's cold start never loads it.
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from chalicelib.providers import ENDPOINTS, channel_spec\n"
        "for endpoint in ENDPOINTS: channel_spec(endpoint)\n"
        "print('jwt' in sys.modules)\n"
    )
    root = Path(__file__).resolve().parents[3]
    result = subprocess.run([sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
