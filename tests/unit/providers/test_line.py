"""LINE webhook: signature (LINE SDK vectors), parsing of every event kind, simulator round trip.

The official line-bot-sdk is a test-only dependency: its SignatureValidator checks our signatures
and its WebhookParser checks that every fixture is shaped as LINE sends it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from linebot.v3 import SignatureValidator, WebhookParser
from linebot.v3.exceptions import InvalidSignatureError

from chalicelib.core.errors import PermanentError
from chalicelib.core.model import Channel, EventKind, Identity
from chalicelib.providers import channel_spec
from chalicelib.providers.base import PayloadError, SignatureError, WebhookRequest
from chalicelib.providers.line import (
    CHANNEL,
    parse_line_events,
    sign_line_body,
    verify_line_signature,
)
from devstack.simulators.base import SimulatedRequest
from devstack.simulators.line import simulate_line_message, simulate_line_verification

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "line"
SECRET = "8c570fa6dd201bb328f1c1eac23a96d8"
SECRETS = {"LINE_CHANNEL_SECRET": SECRET}
NOW = 1_700_000_000.0
RECEIVED_AT = "2026-11-22T20:00:00.000Z"
USER_ID = "U4af4980629e6a8a0f1c4b2e7c6c7e1a2"
GROUP_ID = "Ca56f94637cc4347f90a25382909b24b9"


def fixture_body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def line_request(body: bytes, signature: str | None = "sign", secret: str = SECRET) -> WebhookRequest:
    headers = {"content-type": "application/json; charset=utf-8"}
    if signature == "sign":
        headers["x-line-signature"] = sign_line_body(secret, body)
    elif signature is not None:
        headers["x-line-signature"] = signature
    return WebhookRequest(
        method="POST",
        path="/webhooks/line",
        headers=headers,
        body=body,
        public_url="http://127.0.0.1:8000/webhooks/line",
        received_at=RECEIVED_AT,
    )


def parse_fixture(name: str) -> list:
    request = line_request(fixture_body(name))
    verify_line_signature(request, SECRETS, NOW)
    return parse_line_events(request)


def from_simulated(simulated: SimulatedRequest) -> WebhookRequest:
    return WebhookRequest(
        method=simulated.method,
        path=simulated.path,
        headers={k.lower(): v for k, v in simulated.headers.items()},
        body=simulated.body,
        public_url="http://127.0.0.1:8000" + simulated.path,
        received_at=RECEIVED_AT,
    )


ALL_FIXTURES = sorted(p.name for p in FIXTURES.glob("*.json"))


# --- signatures ---------------------------------------------------------------------------


def test_sdk_published_vector():
    # line/line-bot-sdk-python/tests/v3/test_webhook.py::TestSignatureValidator
    assert sign_line_body("channel_secret", b"bodybodybodybody") == "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k="
    request = line_request(b"bodybodybodybody", "/gg9a+LvFevTH1sd7XCQycD7tsWclCsInj7MhBHxN7k=")
    verify_line_signature(request, {"LINE_CHANNEL_SECRET": "channel_secret"}, NOW)


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_sdk_validator_accepts_our_signature_and_parses_fixture(name: str):
    body = fixture_body(name)
    signature = sign_line_body(SECRET, body)
    assert SignatureValidator(SECRET).validate(body.decode(), signature)
    # The SDK's own parser reads every fixture: they are shaped as LINE sends them.
    sdk_events = WebhookParser(SECRET).parse(body.decode(), signature)
    assert len(sdk_events) == len(json.loads(body)["events"])
    assert len(parse_fixture(name)) == len(sdk_events)


def test_sdk_parser_rejects_what_we_reject():
    body = fixture_body("message_text.json")
    forged = sign_line_body("another-secret", body)
    with pytest.raises(InvalidSignatureError):
        WebhookParser(SECRET).parse(body.decode(), forged)
    with pytest.raises(SignatureError):
        verify_line_signature(line_request(body, forged), SECRETS, NOW)


def test_missing_signature_is_rejected():
    with pytest.raises(SignatureError) as err:
        verify_line_signature(line_request(fixture_body("message_text.json"), None), SECRETS, NOW)
    assert err.value.code == "unauthorized"


def test_signature_of_a_modified_body_is_rejected():
    body = fixture_body("message_text.json")
    request = line_request(body.replace(b"#1234", b"#9999"), sign_line_body(SECRET, body))
    with pytest.raises(SignatureError):
        verify_line_signature(request, SECRETS, NOW)


def test_missing_secret_refuses_like_a_forgery():
    with pytest.raises(PermanentError) as err:
        verify_line_signature(line_request(fixture_body("message_text.json")), {}, NOW)
    assert err.value.code == "unauthorized"


def test_channel_spec_is_registered():
    assert channel_spec("line") is CHANNEL
    assert CHANNEL.provider == "line"
    assert CHANNEL.secret_names == ("LINE_CHANNEL_SECRET",)
    assert CHANNEL.forged_status == 401


# --- webhook URL verification ------------------------------------------------------------


def test_verification_post_has_no_events_and_gets_200():
    # No handshake: the verification POST is verified like any delivery and holds no event.
    assert CHANNEL.handshake is None
    request = line_request(fixture_body("verification.json"))
    CHANNEL.verify(request, SECRETS, NOW)
    assert CHANNEL.parse(request) == []
    response = CHANNEL.respond(request, [])
    assert (response.status, response.body) == (200, "{}")


def test_verification_post_must_be_signed():
    with pytest.raises(SignatureError):
        CHANNEL.verify(line_request(fixture_body("verification.json"), "bm9wZQ=="), SECRETS, NOW)


# --- events ------------------------------------------------------------------------------


def test_text_message():
    [event] = parse_fixture("message_text.json")
    assert event.kind is EventKind.MESSAGE
    assert event.provider == "line" and event.channel is Channel.LINE
    assert event.event_id == "01H810YECXQQZ37VAXPF6H9E6T"
    assert event.sender is not None and event.sender.identity == Identity(Channel.LINE, USER_ID)
    assert event.text == "Hello, I ordered #1234 and it has not arrived"
    assert event.provider_message_id == "468789577898262530"
    assert event.reply_token == "757913772c4646b784d4b7ce46d12671"
    assert event.occurred_at == "2023-08-17T05:54:26.727Z"
    assert event.metadata["quoted_message_id"] == "468789532432007169"
    assert event.metadata["is_redelivery"] == "false"
    assert event.metadata["mode"] == "active"
    assert event.metadata["destination"] == "Uc7472b39e21dab71c2347e02714630d6"
    assert event.metadata["source_type"] == "user"


def test_image_hosted_by_line_keeps_the_message_id():
    [event] = parse_fixture("message_image.json")
    assert event.kind is EventKind.MESSAGE and event.text is None
    [attachment] = event.attachments
    assert attachment.kind == "image" and attachment.media_id == "354718705033693861"
    assert attachment.url is None
    assert event.metadata["content_provider"] == "line"
    assert event.metadata["image_set_index"] == "1" and event.metadata["image_set_total"] == "2"
    assert "dropped_media_url" not in event.metadata


def test_external_image_url_off_line_hosts_is_dropped():
    [event] = parse_fixture("message_image_external.json")
    [attachment] = event.attachments
    assert attachment.url is None and attachment.media_id == "354718705033693862"
    assert event.metadata["content_provider"] == "external"
    assert event.metadata["dropped_media_url"] == "true"


def test_external_image_url_on_line_hosts_is_kept():
    payload = json.loads(fixture_body("message_image_external.json"))
    url = "https://obs.line-scdn.net/0hABCDEF/original"
    payload["events"][0]["message"]["contentProvider"]["originalContentUrl"] = url
    [event] = parse_line_events(line_request(json.dumps(payload).encode()))
    assert event.attachments[0].url == url
    assert "dropped_media_url" not in event.metadata


@pytest.mark.parametrize(("name", "kind"), [("message_video.json", "video"), ("message_audio.json", "audio")])
def test_video_and_audio(name: str, kind: str):
    [event] = parse_fixture(name)
    [attachment] = event.attachments
    assert attachment.kind == kind and attachment.media_id
    assert event.metadata["duration_ms"] == "60000"


def test_file():
    [event] = parse_fixture("message_file.json")
    [attachment] = event.attachments
    assert (attachment.kind, attachment.name, attachment.size) == ("file", "invoice-1234.pdf", 2138)
    assert attachment.media_id == "325710"


def test_location():
    [event] = parse_fixture("message_location.json")
    [attachment] = event.attachments
    assert attachment.kind == "location" and attachment.name == "my location"
    assert attachment.caption.startswith("1-3 Kioicho")
    assert (event.metadata["latitude"], event.metadata["longitude"]) == ("35.67966", "139.73669")


def test_sticker():
    [event] = parse_fixture("message_sticker.json")
    [attachment] = event.attachments
    assert attachment.kind == "sticker" and attachment.media_id == "52002738"
    assert event.metadata["sticker_package_id"] == "11537"
    assert event.metadata["sticker_keywords"].startswith("cony,sally")


def test_follow_and_unfollow_are_lifecycle():
    [follow] = parse_fixture("follow.json")
    [unfollow] = parse_fixture("unfollow.json")
    assert follow.kind is EventKind.LIFECYCLE and follow.metadata["lifecycle"] == "follow"
    assert follow.metadata["is_unblocked"] == "false"
    assert follow.reply_token is not None
    assert unfollow.kind is EventKind.LIFECYCLE and unfollow.metadata["lifecycle"] == "unfollow"
    assert unfollow.reply_token is None
    assert unfollow.sender is not None and unfollow.sender.identity.address == USER_ID


def test_postback_data_becomes_text():
    [event] = parse_fixture("postback.json")
    assert event.kind is EventKind.MESSAGE
    assert event.text == "action=track&order=1234"
    assert event.metadata["postback_data"] == "action=track&order=1234"
    assert json.loads(event.metadata["postback_params"]) == {"datetime": "2017-12-25T01:00"}


def test_unsend_names_the_unsent_message():
    [event] = parse_fixture("unsend.json")
    assert event.kind is EventKind.LIFECYCLE and event.metadata["lifecycle"] == "unsend"
    assert event.provider_message_id == "325708" == event.metadata["unsent_message_id"]
    assert event.sender.identity.address == USER_ID
    assert event.metadata["group_id"] == GROUP_ID


def test_member_joined_without_user_uses_the_group():
    [event] = parse_fixture("member_joined.json")
    assert event.kind is EventKind.LIFECYCLE and event.metadata["lifecycle"] == "member_joined"
    assert event.sender.identity == Identity(Channel.LINE, GROUP_ID)
    assert event.metadata["member_ids"].split(",")[0] == USER_ID


def test_standby_mode_is_flagged_and_has_no_reply_token():
    [event] = parse_fixture("standby.json")
    assert event.kind is EventKind.MESSAGE
    assert event.metadata["mode"] == "standby"
    assert event.reply_token is None


def test_redelivery_keeps_the_event_id():
    [original] = parse_fixture("message_text.json")
    [again] = parse_fixture("redelivery.json")
    assert again.metadata["is_redelivery"] == "true"
    assert again.inbox_key == original.inbox_key


def test_unknown_event_type_is_kept_as_unknown():
    [event] = parse_fixture("beacon.json")
    assert event.kind is EventKind.UNKNOWN
    assert event.metadata["type"] == "beacon"
    assert event.event_id == "01GZ2CM4Y5Z6A7B8C9D0E1F2G3"


def test_unknown_message_type_is_unknown_not_an_error():
    payload = json.loads(fixture_body("message_text.json"))
    payload["events"][0]["message"] = {"type": "hologram", "id": "1"}
    [event] = parse_line_events(line_request(json.dumps(payload).encode()))
    assert event.kind is EventKind.UNKNOWN
    assert event.metadata["message_type"] == "hologram"


def test_event_without_webhook_event_id_gets_a_stable_hash():
    payload = json.loads(fixture_body("beacon.json"))
    del payload["events"][0]["webhookEventId"]
    body = json.dumps(payload).encode()
    [first] = parse_line_events(line_request(body))
    [second] = parse_line_events(line_request(json.dumps(payload, indent=4).encode()))
    assert first.event_id.startswith("sha256:") and first.event_id == second.event_id


def test_batch_gives_one_event_per_entry_with_distinct_ids():
    events = parse_fixture("batch.json")
    assert [e.kind for e in events] == [EventKind.LIFECYCLE, EventKind.MESSAGE, EventKind.MESSAGE]
    assert len({e.event_id for e in events}) == 3
    assert events[2].text == "Just sticker"
    assert events[2].metadata["source_type"] == "group"
    assert events[2].sender.identity.address == USER_ID


def test_ids_are_strings_even_when_sent_as_numbers():
    payload = json.loads(fixture_body("message_text.json"))
    payload["events"][0]["message"]["id"] = 2**60 + 1
    [event] = parse_line_events(line_request(json.dumps(payload).encode()))
    assert event.provider_message_id == str(2**60 + 1)


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"destination": "U1"}', b'{"events": {}}', b"\xff\xfe", b"[" * 100_000,
     b'{"events": [' + b"9" * 5000 + b"]}"],
)
def test_malformed_body_is_a_payload_error(body: bytes):
    with pytest.raises(PayloadError):
        parse_line_events(line_request(body))


# --- one bad event never sinks the batch ---------------------------------------------------------


def _batch_with(bad_event: object) -> list:
    payload = json.loads(fixture_body("batch.json"))
    payload["events"].insert(1, bad_event)
    events = parse_line_events(line_request(json.dumps(payload).encode()))
    assert len(events) == len(payload["events"])
    assert [e.event_id for e in events[:1] + events[2:]] == [
        e["webhookEventId"] for e in payload["events"][:1] + payload["events"][2:]
    ]
    return events


def test_message_event_without_message_object_is_unknown_and_the_batch_is_kept():
    event = json.loads(fixture_body("message_text.json"))["events"][0]
    del event["message"]
    unknown = _batch_with(event)[1]
    assert (unknown.kind, unknown.event_id) == (EventKind.UNKNOWN, event["webhookEventId"])
    assert unknown.metadata["type"] == "message" and unknown.metadata["reason"] == "invalid_event"


@pytest.mark.parametrize("user_id", [" ", "\t\n"])
def test_a_user_id_that_does_not_fit_is_unknown_not_a_failed_batch(user_id: str):
    event = json.loads(fixture_body("message_text.json"))["events"][0]
    event["source"]["userId"] = user_id
    unknown = _batch_with(event)[1]
    assert (unknown.kind, unknown.event_id, unknown.sender) == (EventKind.UNKNOWN, event["webhookEventId"], None)
    assert unknown.metadata["reason"] == "invalid_sender"
    assert unknown.reply_token is None  # nobody to reply to


@pytest.mark.parametrize("bad_event", [1, "x", None, ["a"]])
def test_an_event_that_is_not_an_object_is_unknown_with_a_stable_id(bad_event: object):
    first, again = _batch_with(bad_event)[1], _batch_with(bad_event)[1]
    assert first.kind is EventKind.UNKNOWN and first.event_id.startswith("sha256:")
    assert first.event_id == again.event_id


def test_an_event_id_too_long_for_the_model_gets_a_content_hash():
    event = json.loads(fixture_body("message_text.json"))["events"][0]
    event["webhookEventId"] = "0" * 600
    unknown = _batch_with(event)[1]
    assert unknown.kind is EventKind.UNKNOWN and unknown.event_id.startswith("sha256:")


@pytest.mark.parametrize("timestamp", [b"NaN", b"Infinity", b"-Infinity", b"1e30", b"1e300", b"9" * 40, b'"soon"'])
def test_a_timestamp_that_is_no_time_falls_back_to_reception(timestamp: bytes):
    body = fixture_body("message_text.json")
    original = str(json.loads(body)["events"][0]["timestamp"]).encode()
    [event] = parse_line_events(line_request(body.replace(original, timestamp)))
    assert event.kind is EventKind.MESSAGE and event.occurred_at == RECEIVED_AT


def test_events_are_serializable():
    for name in ALL_FIXTURES:
        for event in parse_fixture(name):
            assert type(event).from_dict(event.to_dict()) == event


# --- simulator ---------------------------------------------------------------------------


def test_simulated_message_round_trips():
    simulated = simulate_line_message(
        SECRETS, USER_ID, "Ciao, where is my order?", event_id="01H8XYZ0000000000000000000"
    )
    request = from_simulated(simulated)
    assert simulated.path == "/webhooks/line"
    CHANNEL.verify(request, SECRETS, NOW)
    assert SignatureValidator(SECRET).validate(simulated.body.decode(), simulated.headers["x-line-signature"])
    [event] = CHANNEL.parse(request)
    assert event.kind is EventKind.MESSAGE and event.text == "Ciao, where is my order?"
    assert event.event_id == "01H8XYZ0000000000000000000"
    assert event.sender.identity == Identity(Channel.LINE, USER_ID)
    assert event.reply_token


def test_simulated_messages_get_distinct_ulids():
    first = CHANNEL.parse(from_simulated(simulate_line_message(SECRETS, USER_ID, "a")))[0]
    second = CHANNEL.parse(from_simulated(simulate_line_message(SECRETS, USER_ID, "b")))[0]
    assert first.event_id != second.event_id and len(first.event_id) == 26


def test_simulated_verification_round_trips():
    request = from_simulated(simulate_line_verification(SECRETS))
    CHANNEL.verify(request, SECRETS, NOW)
    assert CHANNEL.parse(request) == []
