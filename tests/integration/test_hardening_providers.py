"""Provider hardening through the app: every answer pinned, nothing stored for a refusal, never a 500.

Requests are built by the simulators (signed exactly as each provider signs) and then altered and
signed again, so each test sends what a real provider could send.
"""

from __future__ import annotations

import json
import time
import uuid
from argparse import Namespace
from typing import Any
from urllib.parse import parse_qsl, quote

import pytest

from chalicelib.providers.api import sign_api_payload
from chalicelib.providers.line import sign_line_body
from chalicelib.providers.meta.signature import sign_meta_payload
from chalicelib.providers.twilio import sign_twilio_request
from chalicelib.providers.viber import sign_viber_body
from chalicelib.providers.vonage import sign_vonage_webhook
from devstack.cli import SIMULATORS
from devstack.simulators.base import SimulatedRequest
from tests.conftest import TEST_SECRETS, Hub

BASE_URL = "https://hub.example.com"  # PUBLIC_BASE_URL in tests/conftest.py
MARK = "MARKER"
SENDERS = {  # simulator → a sender address it takes
    "api": "hub-user", "twilio-sms": "+393330000001", "whatsapp": "393330000003",
    "telegram": "9007199254740993", "line": "U4af4980629a1b2c3d4e5f607182930ab", "viber": "01234567890A=",
    "vonage-sms": "447700900011",
}
JSON_PROVIDERS = ["api", "whatsapp", "telegram", "line", "viber", "vonage-sms"]
# The answer to a signed body carrying a lone surrogate, decided from each provider's retry semantics
# (README, "Providers": "Text that is not valid Unicode").
REPLACED = {"whatsapp", "telegram", "line", "viber", "vonage-sms", "twilio-sms"}
REFUSED = {"api"}
ESCAPED_SURROGATE = b"\\ud83d"  # what a JSON encoder writes for half of an emoji
CESU_SURROGATE = b"\xed\xa0\xbd"  # the same half encoded on its own (CESU-8), invalid UTF-8


def simulated(provider: str, text: str = f"hello {MARK} there") -> SimulatedRequest:
    builder, _ = SIMULATORS[provider]
    args = Namespace(sender=SENDERS[provider], text=text, name="Ada", language="en", event_id=None, option=None)
    request: SimulatedRequest = builder(args, dict(TEST_SECRETS))
    return request


def resigned(provider: str, request: SimulatedRequest, body: bytes) -> SimulatedRequest:
    """``request`` with a new body, signed again as the provider signs it."""
    headers = dict(request.headers)
    if provider == "api":
        timestamp = headers["X-Omnihub-Timestamp"]
        headers["X-Omnihub-Signature"] = sign_api_payload(TEST_SECRETS["OMNIHUB_API_SIGNING_SECRET"], timestamp, body)
    elif provider == "whatsapp":
        headers["X-Hub-Signature-256"] = sign_meta_payload(TEST_SECRETS["META_APP_SECRET"], body)
    elif provider == "line":
        headers["x-line-signature"] = sign_line_body(TEST_SECRETS["LINE_CHANNEL_SECRET"], body)
    elif provider == "viber":
        headers["X-Viber-Content-Signature"] = sign_viber_body(TEST_SECRETS["VIBER_AUTH_TOKEN"], body)
    elif provider.startswith("vonage"):
        headers["Authorization"] = sign_vonage_webhook(
            TEST_SECRETS["VONAGE_SIGNATURE_SECRET"], body, issued_at=int(time.time()), jti=str(uuid.uuid4())
        )
    elif provider != "telegram":  # Telegram signs nothing: its secret token header stays valid
        raise AssertionError(provider)
    return SimulatedRequest(request.method, request.path, headers, body)


def post(hub: Hub, request: SimulatedRequest) -> Any:
    return hub.client.http.post(request.path, body=request.body, headers=request.headers)


def inbox(hub: Hub) -> list[dict[str, Any]]:
    return [item for item in hub.table_items() if item["sk"] == "INBOX"]


def stored_events(hub: Hub) -> list[dict[str, Any]]:
    return [json.loads(item["event"]) for item in inbox(hub)]


def has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


@pytest.fixture(autouse=True)
def simulators_sign_the_hub_url(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIHUB_URL", BASE_URL)


# --- item 1: lone UTF-16 surrogates -----------------------------------------------------------


@pytest.mark.parametrize("surrogate", [ESCAPED_SURROGATE, CESU_SURROGATE], ids=["escaped", "cesu"])
@pytest.mark.parametrize("provider", JSON_PROVIDERS)
def test_a_signed_json_body_with_a_lone_surrogate_gets_the_answer_chosen_for_its_provider(
    hub: Hub, provider: str, surrogate: bytes
) -> None:
    original = simulated(provider)
    assert MARK.encode() in original.body
    request = resigned(provider, original, original.body.replace(MARK.encode(), surrogate))
    response = post(hub, request)
    if provider in REFUSED:
        assert response.status_code == 400, response.body
        assert "surrogate" in json.loads(response.body)["reason"]
        assert hub.table_items() == []
        return
    assert 200 <= response.status_code < 300, (provider, response.status_code, response.body)
    [item] = inbox(hub)
    assert not has_surrogate(item["event"])
    [event] = stored_events(hub)
    assert event["text"] == "hello \ufffd there"
    assert event["metadata"]["sanitized"] == "lone_surrogates"
    assert bytes(item["raw"]) == request.body  # the raw payload is kept exactly as signed


@pytest.mark.parametrize("provider", sorted(REPLACED - {"twilio-sms"}))
def test_a_replaced_body_is_still_deduplicated(hub: Hub, provider: str) -> None:
    original = simulated(provider)
    request = resigned(provider, original, original.body.replace(MARK.encode(), ESCAPED_SURROGATE))
    for _ in range(2):
        assert post(hub, request).status_code == 200
    assert len(inbox(hub)) == 1


def test_a_lone_surrogate_in_the_generic_channel_is_refused_wherever_it_is(hub: Hub) -> None:
    for field, value in (("event_id", "ev-\ud83d"), ("from", {"id": "user-\udc00"}), ("text", "\udfff")):
        payload = {"event_id": "ev-1", "type": "message", "from": {"id": "u-1"}, "text": "hi", field: value}
        original = simulated("api")
        request = resigned("api", original, json.dumps(payload).encode())
        response = post(hub, request)
        assert response.status_code == 400, (field, response.body)
        assert json.loads(response.body)["error"] == "bad_request"
    assert hub.table_items() == []


def test_an_event_without_a_provider_id_gets_a_stable_id_despite_a_lone_surrogate(hub: Hub) -> None:
    # Without webhookEventId, a LINE event's id is a hash of its JSON: it must not fail on the surrogate.
    original = simulated("line")
    payload = json.loads(original.body)
    del payload["events"][0]["webhookEventId"]
    body = json.dumps(payload, ensure_ascii=False).encode().replace(MARK.encode(), ESCAPED_SURROGATE)
    request = resigned("line", original, body)
    for _ in range(2):
        assert post(hub, request).status_code == 200
    [event] = stored_events(hub)
    assert event["event_id"].startswith("sha256:")
    assert event["metadata"]["sanitized"] == "lone_surrogates"


@pytest.mark.parametrize("encoded", ["%ED%A0%BD", "%FF", "%C3"], ids=["cesu", "invalid-byte", "truncated"])
def test_a_twilio_form_value_that_is_not_utf8_is_stored_replaced_and_flagged(hub: Hub, encoded: str) -> None:
    # Twilio never retries a 4xx: a customer's SMS whose emoji was cut between two segments must not
    # be lost. The form is percent-encoded ASCII; its decoded values are what Twilio signs.
    original = simulated("twilio-sms")
    body = original.body.replace(MARK.encode(), encoded.encode())
    params = parse_qsl(body.decode(), keep_blank_values=True)
    url = BASE_URL + original.path
    headers = {**original.headers, "X-Twilio-Signature": sign_twilio_request(TEST_SECRETS["TWILIO_AUTH_TOKEN"], url,
                                                                             params)}
    response = post(hub, SimulatedRequest("POST", original.path, headers, body))
    assert response.status_code == 200, response.body
    [item] = inbox(hub)
    assert not has_surrogate(item["event"])
    [event] = stored_events(hub)
    assert "\ufffd" in event["text"] and event["text"].startswith("hello ")
    assert event["metadata"]["sanitized"] == "lone_surrogates"


def test_a_twilio_form_body_of_raw_non_ascii_bytes_is_refused_and_stores_nothing(hub: Hub) -> None:
    # Twilio percent-encodes every form value; raw bytes that are not UTF-8 cannot carry its signature.
    original = simulated("twilio-sms")
    body = original.body.replace(MARK.encode(), CESU_SURROGATE)
    response = post(hub, SimulatedRequest("POST", original.path, dict(original.headers), body))
    assert response.status_code == 403
    assert hub.table_items() == []


def test_the_simulators_still_round_trip_plain_text(hub: Hub) -> None:
    for provider in sorted(SENDERS):
        assert 200 <= post(hub, simulated(provider, text="plain " + quote("text"))).status_code < 300, provider
    events = stored_events(hub)
    assert len(events) == len(SENDERS)
    assert not any("sanitized" in event.get("metadata", {}) for event in events)


def test_a_lone_surrogate_in_a_header_is_no_500(hub: Hub) -> None:
    # Headers and the query are text too, and the content type is stored with the event.
    original = simulated("api")
    headers = {**original.headers, "Content-Type": "application/json; charset=\ud83d"}
    response = post(hub, SimulatedRequest("POST", original.path, headers, original.body))
    assert response.status_code == 200, response.body
    [item] = inbox(hub)
    assert item["content_type"] == "application/json; charset=\ufffd"
    forged = {**original.headers, "X-Omnihub-Signature": "v1=\udc00"}
    assert post(hub, SimulatedRequest("POST", original.path, forged, original.body)).status_code == 401


def test_a_lone_surrogate_in_the_meta_challenge_is_no_500(hub: Hub) -> None:
    token = TEST_SECRETS["META_VERIFY_TOKEN"]
    response = hub.client.http.get(f"/webhooks/meta?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=\ud83d1")
    assert response.status_code == 200
    assert response.body.decode() == "\ufffd1"


# --- item 7: LINE and Viber check the signature before they read the body -----------------------

HOSTILE_BODIES = {
    "deep": b"[" * 100_000,
    "huge-number": b'{"events": [], "event": "webhook", "n": ' + b"9" * 5000 + b"}",
    "handshake-shaped": b'{"destination": "U0", "events": [], "event": "webhook"}',
}
SIGNATURE_HEADERS = {"line": "x-line-signature", "viber": "X-Viber-Content-Signature"}


@pytest.mark.parametrize("signature", [None, "bm9wZQ=="], ids=["unsigned", "forged"])
@pytest.mark.parametrize("body", sorted(HOSTILE_BODIES))
@pytest.mark.parametrize("provider", sorted(SIGNATURE_HEADERS))
def test_an_unsigned_body_is_refused_before_any_json_parsing(
    hub: Hub, monkeypatch: pytest.MonkeyPatch, provider: str, body: str, signature: str | None
) -> None:
    payload = HOSTILE_BODIES[body]
    parsed: list[object] = []
    real_loads = json.loads

    def tripwire(document: Any, *args: Any, **kwargs: Any) -> Any:
        if document in (payload, payload.decode()):
            parsed.append(document)
        return real_loads(document, *args, **kwargs)

    monkeypatch.setattr(json, "loads", tripwire)
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[SIGNATURE_HEADERS[provider]] = signature
    response = hub.client.http.post(f"/webhooks/{provider}", body=payload, headers=headers)
    assert response.status_code == 401, response.body
    assert parsed == [], "the body was parsed before its signature was checked"
    assert hub.table_items() == []


def test_the_line_verification_request_is_still_answered_200_and_stores_nothing(hub: Hub) -> None:
    from devstack.simulators.line import simulate_line_verification

    request = simulate_line_verification(dict(TEST_SECRETS))
    response = post(hub, request)
    assert response.status_code == 200 and json.loads(response.body) == {}
    forged = SimulatedRequest(request.method, request.path, {**request.headers, "x-line-signature": "bm9wZQ=="},
                              request.body)
    assert post(hub, forged).status_code == 401
    assert hub.table_items() == []


def test_the_viber_webhook_check_is_still_answered_200_and_stores_nothing(hub: Hub) -> None:
    from devstack.simulators.viber import simulate_viber_webhook_check

    request = simulate_viber_webhook_check(dict(TEST_SECRETS))
    response = post(hub, request)
    assert response.status_code == 200 and json.loads(response.body) == {}
    forged = SimulatedRequest(request.method, request.path,
                              {**request.headers, "X-Viber-Content-Signature": "00" * 32}, request.body)
    assert post(hub, forged).status_code == 401
    assert hub.table_items() == []


# --- items 4 and 15: the Vonage JWT --------------------------------------------------------------


@pytest.mark.parametrize("iat", ["-1" + "0" * 400, "1" + "0" * 400, "1e400", '"1"', "[1]"])
def test_a_vonage_jwt_with_an_absurd_iat_is_401_and_stores_nothing(hub: Hub, iat: str) -> None:
    import base64
    import hashlib

    from chalicelib.providers.base import hmac_sha256

    original = simulated("vonage-sms")
    secret = TEST_SECRETS["VONAGE_SIGNATURE_SECRET"]
    claims = json.dumps({"jti": str(uuid.uuid4()), "iss": "Vonage",
                         "payload_hash": hashlib.sha256(original.body).hexdigest()})[:-1] + f', "iat": {iat}}}'

    def segment(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = segment(b'{"alg":"HS256","typ":"JWT"}')
    signing_input = f"{header}.{segment(claims.encode())}"
    token = f"{signing_input}.{segment(hmac_sha256(secret, signing_input.encode()))}"
    request = SimulatedRequest("POST", original.path, {**original.headers, "Authorization": f"Bearer {token}"},
                               original.body)
    response = post(hub, request)
    assert response.status_code == 401, response.body
    assert json.loads(response.body)["error"] == "unauthorized"
    assert hub.table_items() == []


# --- item 18: the URL Twilio signed, however its query string was written -----------------------

# Query strings as an integrator may type them into the Twilio Console (Twilio signs the URL exactly
# as configured); API Gateway hands the Lambda only their decoded pairs.
CONFIGURED_QUERIES = [
    "tenant=acme",
    "tenant=a/b",
    "tenant=a%2Fb",
    "tenant=a+b",
    "tenant=a%20b",
    "tenant=a%2Bb",
    "flag",
    "flag=",
    "flag&tenant=acme",
    "x=%7E",
    "x=~",
    "token=abc==",
    "list=a,b;c",
    "at=user@example.com",
    "path=/a/b&flag",
    "name=caf%C3%A9",
    "a=1&b=2&b=3",
]


def twilio_oracle_signature(url: str, params: list[tuple[str, str]]) -> str:
    from twilio.request_validator import RequestValidator

    signature: str = RequestValidator(TEST_SECRETS["TWILIO_AUTH_TOKEN"]).compute_signature(url, dict(params))
    return signature


def twilio_form(text: str = "hello") -> list[tuple[str, str]]:
    return [("MessageSid", "SM" + uuid.uuid4().hex), ("From", "+393330000001"), ("To", "+15005550006"),
            ("Body", text), ("NumMedia", "0"), ("AccountSid", "AC" + "0" * 32)]


def twilio_post(hub: Hub, path: str, query: str, params: list[tuple[str, str]], signature: str) -> Any:
    from urllib.parse import urlencode

    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    return hub.client.http.post(f"{path}?{query}", body=urlencode(params).encode(), headers=headers)


@pytest.mark.parametrize("query", CONFIGURED_QUERIES)
def test_a_twilio_request_signed_over_a_configured_query_string_is_accepted(hub: Hub, query: str) -> None:
    path = "/webhooks/twilio/messaging"
    params = twilio_form()
    signature = twilio_oracle_signature(f"{BASE_URL}{path}?{query}", params)
    response = twilio_post(hub, path, query, params, signature)
    assert response.status_code == 200, (query, response.body)
    assert len(inbox(hub)) == 1


@pytest.mark.parametrize(
    ("signed", "sent"),
    [("tenant=a/b", "tenant=a/c"), ("tenant=a+b", "tenant=a-b"), ("flag", "flag=1"), ("x=%7E", "x=%7F"),
     ("tenant=a/b", "tenant=a/b&extra=1"), ("tenant=a/b", "")],
)
def test_a_twilio_signature_for_another_query_is_still_refused(hub: Hub, signed: str, sent: str) -> None:
    path = "/webhooks/twilio/messaging"
    params = twilio_form()
    signature = twilio_oracle_signature(f"{BASE_URL}{path}?{signed}", params)
    response = twilio_post(hub, path, sent, params, signature)
    assert response.status_code == 403, (signed, sent)
    assert hub.table_items() == []


def test_a_twilio_json_request_to_a_configured_query_string_is_accepted(hub: Hub) -> None:
    # JSON bodies: Twilio appends bodySHA256 to the URL it calls and signs the URL alone.
    import hashlib

    body = json.dumps({"MessageSid": "SM" + uuid.uuid4().hex, "From": "+393330000001", "Body": "hi"}).encode()
    path, query = "/webhooks/twilio/status", f"tenant=a/b&bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = twilio_oracle_signature(f"{BASE_URL}{path}?{query}", [])
    headers = {"Content-Type": "application/json", "X-Twilio-Signature": signature}
    response = hub.client.http.post(f"{path}?{query}", body=body, headers=headers)
    assert response.status_code != 403, response.body  # signed: whatever the body holds, it is not forged
