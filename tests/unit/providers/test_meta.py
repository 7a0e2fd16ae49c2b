"""Meta (WhatsApp Cloud API, Messenger, Instagram): ``GET`` + ``POST /webhooks/meta``."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest

from chalicelib.core.errors import PermanentError
from chalicelib.core.model import Channel, DeliveryStatus, EventKind, InboundEvent
from chalicelib.providers.base import PayloadError, SignatureError, WebhookRequest
from chalicelib.providers.meta import CHANNEL, parse_meta_event
from chalicelib.providers.meta.signature import (
    answer_meta_verification,
    sign_meta_payload,
    verify_meta_signature,
)
from devstack.simulators.base import SimulatedRequest
from devstack.simulators.meta import (
    simulate_meta_message,
    simulate_meta_status,
    simulate_meta_verification_get,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "meta"
APP_SECRET = "a3f5c1e9d7b24f6a8c0e2d4b6f8a1c3e"
VERIFY_TOKEN = "meatyhamhock"  # the sample token of Meta's "Getting Started" page
SECRETS = {"META_APP_SECRET": APP_SECRET, "META_VERIFY_TOKEN": VERIFY_TOKEN}
RECEIVED_AT = "2026-06-08T21:00:00.000Z"
NOW = 1_780_000_000.0


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def signed_request(body: bytes, *, secret: str = APP_SECRET, signature: str | None = None) -> WebhookRequest:
    headers = {"content-type": "application/json"}
    headers["x-hub-signature-256"] = sign_meta_payload(secret, body) if signature is None else signature
    return WebhookRequest(method="POST", path="/webhooks/meta", headers=headers, body=body,
                          received_at=RECEIVED_AT)


def parse_fixture(name: str) -> list[InboundEvent]:
    request = signed_request(fixture_bytes(name))
    verify_meta_signature(request, SECRETS, NOW)
    return parse_meta_event(request)


def only_event(name: str) -> InboundEvent:
    events = parse_fixture(name)
    assert len(events) == 1
    return events[0]


def as_webhook_request(simulated: SimulatedRequest) -> WebhookRequest:
    parts = urlsplit(simulated.path)
    return WebhookRequest(
        method=simulated.method,
        path=parts.path,
        headers={key.lower(): value for key, value in simulated.headers.items()},
        body=simulated.body,
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        received_at=RECEIVED_AT,
    )


# --- signature --------------------------------------------------------------------------------


def test_signature_matches_the_official_whatsapp_sdk_vector() -> None:
    # WhatsApp/WhatsApp-Nodejs-SDK, src/__tests__/utils.test.ts "signature match": body "test",
    # app secret "TEST_APP_SECRET" (jest.config.ts) → known signature 0c61947b....
    known = "0c61947b610d4f45e65f3d680e26027121ec2413e77598bcb6cfc6e0d9888221"
    assert sign_meta_payload("TEST_APP_SECRET", b"test") == f"sha256={known}"
    request = signed_request(b"test", secret="unused", signature=f"sha256={known}")
    verify_meta_signature(request, {"META_APP_SECRET": "TEST_APP_SECRET"}, NOW)


def test_signature_is_over_the_raw_escaped_bytes_not_a_reserialization() -> None:
    body = fixture_bytes("text_message_unicode.json")
    assert b"\\u00e4\\u00f6\\u00e5" in body  # Meta escapes non-ASCII as \uXXXX, lower-case hex
    request = signed_request(body)
    verify_meta_signature(request, SECRETS, NOW)
    # The same JSON with the characters unescaped is different bytes: its signature differs.
    decoded = json.dumps(json.loads(body), ensure_ascii=False, indent=2).encode() + b"\n"
    assert decoded != body
    with pytest.raises(SignatureError):
        verify_meta_signature(signed_request(decoded, signature=request.headers["x-hub-signature-256"]),
                              SECRETS, NOW)
    event = parse_meta_event(request)[0]
    assert event.text == "Grüße aus Köln — äöå 😀"
    assert event.sender is not None and event.sender.name == "Jürgen Müller"


def test_signature_accepts_upper_case_hex() -> None:
    body = fixture_bytes("text_message.json")
    digest = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest().upper()
    verify_meta_signature(signed_request(body, signature=f"sha256={digest}"), SECRETS, NOW)


@pytest.mark.parametrize(
    ("signature", "reason"),
    [
        ("", "missing"),
        ("sha1=2fd4e1c67a2d28fced849ee1bb76e7391b93eb12", "sha256="),
        ("sha256=" + "0" * 64, "does not match"),
        ("sha256=not-hex", "does not match"),
    ],
)
def test_forged_or_missing_signature_is_rejected(signature: str, reason: str) -> None:
    request = signed_request(fixture_bytes("text_message.json"), signature=signature)
    with pytest.raises(SignatureError, match=reason) as raised:
        verify_meta_signature(request, SECRETS, NOW)
    assert raised.value.code == "unauthorized"


def test_signature_with_the_wrong_app_secret_is_rejected() -> None:
    request = signed_request(fixture_bytes("text_message.json"), secret="another app's secret")
    with pytest.raises(SignatureError):
        verify_meta_signature(request, SECRETS, NOW)


def test_tampered_body_is_rejected() -> None:
    body = fixture_bytes("text_message.json")
    signature = sign_meta_payload(APP_SECRET, body)
    tampered = body.replace(b"another color", b"a refund now!")
    with pytest.raises(SignatureError):
        verify_meta_signature(signed_request(tampered, signature=signature), SECRETS, NOW)


def test_missing_app_secret_refuses_everything() -> None:
    with pytest.raises(PermanentError, match="META_APP_SECRET") as raised:
        verify_meta_signature(signed_request(b"{}"), {"META_VERIFY_TOKEN": VERIFY_TOKEN}, NOW)
    assert raised.value.code == "unauthorized"


# --- handshake --------------------------------------------------------------------------------


def get_request(query: dict[str, str]) -> WebhookRequest:
    return WebhookRequest(method="GET", path="/webhooks/meta", headers={}, body=b"", query=query,
                          received_at=RECEIVED_AT)


def test_verification_request_returns_the_challenge_as_plain_text() -> None:
    # The sample request of Meta's Graph API webhooks "Getting Started" page.
    response = answer_meta_verification(
        get_request({"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "meatyhamhock"}),
        SECRETS, NOW,
    )
    assert response is not None
    assert (response.status, response.body, response.content_type) == (200, "1158201444", "text/plain")


def test_verification_with_a_wrong_token_is_forbidden() -> None:
    response = answer_meta_verification(
        get_request({"hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": "guess"}),
        SECRETS, NOW,
    )
    assert response is not None and response.status == 403
    assert "1158201444" not in str(response.body)


def test_verification_without_the_hub_parameters_is_a_bad_request() -> None:
    response = answer_meta_verification(get_request({}), SECRETS, NOW)
    assert response is not None and response.status == 400
    response = answer_meta_verification(get_request({"hub.mode": "unsubscribe", "hub.challenge": "1",
                                                     "hub.verify_token": VERIFY_TOKEN}), SECRETS, NOW)
    assert response is not None and response.status == 400


def test_posts_are_not_handshakes() -> None:
    assert answer_meta_verification(signed_request(fixture_bytes("text_message.json")), SECRETS, NOW) is None


def test_channel_spec() -> None:
    assert CHANNEL.provider == "meta"
    assert CHANNEL.secret_names == ("META_APP_SECRET", "META_VERIFY_TOKEN")
    assert CHANNEL.handshake is answer_meta_verification
    assert CHANNEL.forged_status == 401
    assert CHANNEL.max_body_bytes == 3 * 1024 * 1024  # Meta's documented maximum payload
    response = CHANNEL.respond(signed_request(b"{}"), [])
    assert (response.status, response.body, response.content_type) == (200, '{"ok":true}', "application/json")


# --- WhatsApp messages ------------------------------------------------------------------------


def test_text_message() -> None:
    event = only_event("text_message.json")
    assert event.provider == "meta"
    assert event.event_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="
    assert event.provider_message_id == event.event_id
    assert event.kind is EventKind.MESSAGE
    assert event.channel is Channel.WHATSAPP
    assert event.occurred_at == "2025-06-08T20:59:43.000Z"
    assert event.text == "Does it come in another color?"
    assert event.sender is not None
    assert event.sender.identity.address == "+16505551234"
    assert event.sender.phone == "+16505551234"
    assert event.sender.name == "Sheena Nelson"
    assert event.metadata["phone_number_id"] == "106540352242922"
    assert event.metadata["display_phone_number"] == "15550783881"
    assert event.metadata["waba_id"] == "102290129340398"
    assert event.metadata["message_type"] == "text"
    assert "consent" not in event.metadata


def test_reply_context_is_kept() -> None:
    event = only_event("text_reply_with_context.json")
    assert event.metadata["reply_to"] == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"


@pytest.mark.parametrize(
    ("fixture", "kind", "media_id", "content_type", "name", "caption"),
    [
        ("image_message.json", "image", "1003383421387256", "image/jpeg", None, "This is the broken part"),
        ("audio_message.json", "audio", "1146172480598493", "audio/ogg; codecs=opus", None, None),
        ("video_message.json", "video", "1240375020851011", "video/mp4", None, "Unboxing"),
        ("document_message.json", "document", "1374913773611418", "application/pdf", "invoice-2031.pdf",
         "My invoice"),
        ("sticker_message.json", "sticker", "1228193381703519", "image/webp", None, None),
    ],
)
def test_media_messages(fixture: str, kind: str, media_id: str, content_type: str, name: str | None,
                        caption: str | None) -> None:
    event = only_event(fixture)
    assert event.kind is EventKind.MESSAGE
    assert event.metadata["message_type"] == kind
    (attachment,) = event.attachments
    assert attachment.kind == kind
    assert attachment.media_id == media_id
    assert attachment.content_type == content_type
    assert attachment.name == name
    assert attachment.caption == caption
    assert attachment.url is None
    assert event.text == caption
    assert event.metadata["media_sha256"]


def test_voice_note_is_flagged() -> None:
    assert only_event("audio_message.json").metadata["voice"] == "true"


def test_media_url_is_kept_only_on_meta_hosts() -> None:
    payload = json.loads(fixture_bytes("image_message.json"))
    image = payload["entry"][0]["changes"][0]["value"]["messages"][0]["image"]
    image["url"] = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1003383421387256"
    event = parse_meta_event(signed_request(json.dumps(payload).encode()))[0]
    assert event.attachments[0].url == image["url"]
    assert "dropped_media_url" not in event.metadata
    image["url"] = "http://169.254.169.254/latest/meta-data/"
    event = parse_meta_event(signed_request(json.dumps(payload).encode()))[0]
    assert event.attachments[0].url is None
    assert event.metadata["dropped_media_url"] == "true"


def test_location_message() -> None:
    event = only_event("location_message.json")
    assert event.kind is EventKind.MESSAGE
    assert event.attachments[0].kind == "location"
    assert event.attachments[0].name == "Philz Coffee"
    assert event.metadata["location_latitude"] == "37.483307"
    assert event.metadata["location_longitude"] == "-122.148981"
    assert event.metadata["location_address"] == "1 Hacker Way, Menlo Park, CA 94025"


def test_contacts_message() -> None:
    event = only_event("contacts_message.json")
    assert event.kind is EventKind.MESSAGE
    assert [a.kind for a in event.attachments] == ["contact"]
    assert event.attachments[0].name == "Barbara J. Johnson"
    assert json.loads(event.metadata["shared_contacts"]) == [
        {"name": "Barbara J. Johnson", "phones": ["19405551234"]}
    ]
    # The shared contact is not the sender.
    assert event.sender is not None and event.sender.identity.address == "+16505551234"


def test_interactive_button_reply() -> None:
    event = only_event("interactive_button_reply.json")
    assert event.kind is EventKind.MESSAGE
    assert event.text == "Cancel"
    assert event.metadata["interactive_type"] == "button_reply"
    assert event.metadata["reply_id"] == "cancel-button"
    assert event.metadata["reply_to"] == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJBQjBCQzAyRkI0QkYyRjNDQ0EA"


def test_interactive_list_reply() -> None:
    event = only_event("interactive_list_reply.json")
    assert event.text == "Express Shipping"
    assert event.metadata["interactive_type"] == "list_reply"
    assert event.metadata["reply_id"] == "priority_express"
    assert event.metadata["reply_description"] == "Next Day to 2 Days"


def test_interactive_flow_reply() -> None:
    event = only_event("interactive_nfm_reply.json")
    assert event.text == "Sent"
    assert event.metadata["interactive_type"] == "nfm_reply"
    assert event.metadata["flow_name"] == "flow"
    assert json.loads(event.metadata["flow_response_json"])["rating"] == "5"


def test_template_quick_reply_button() -> None:
    event = only_event("button_message.json")
    assert event.kind is EventKind.MESSAGE
    assert event.text == "Track my order"
    assert event.metadata["button_payload"] == "TRACK_ORDER_2031"


def test_reaction() -> None:
    event = only_event("reaction_message.json")
    assert event.kind is EventKind.MESSAGE
    assert event.text == "👍"  # sent as the escaped surrogate pair \ud83d\udc4d
    assert event.metadata["reaction_to"] == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MDk5OUY0OTA1QTRENEI0NzIA"


def test_removed_reaction_is_not_a_message() -> None:
    payload = json.loads(fixture_bytes("reaction_message.json"))
    del payload["entry"][0]["changes"][0]["value"]["messages"][0]["reaction"]["emoji"]
    event = parse_meta_event(signed_request(json.dumps(payload).encode()))[0]
    assert event.kind is EventKind.UNKNOWN
    assert event.metadata["reaction_removed"] == "true"
    assert event.metadata["type"] == "reaction"


def test_order() -> None:
    event = only_event("order_message.json")
    assert event.kind is EventKind.MESSAGE
    assert event.text == "Please deliver before Friday"
    assert event.metadata["order_catalog_id"] == "194836987003835"
    assert len(json.loads(event.metadata["order_items"])) == 2


def test_system_message_is_a_lifecycle_event() -> None:
    event = only_event("system_message.json")
    assert event.kind is EventKind.LIFECYCLE
    assert event.metadata["lifecycle"] == "user_changed_number"
    assert event.metadata["new_wa_id"] == "16505559999"
    assert event.sender is not None and event.sender.identity.address == "+16505551234"


def test_unsupported_message_is_unknown_with_its_error() -> None:
    event = only_event("unsupported_message.json")
    assert event.kind is EventKind.UNKNOWN
    assert event.event_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUM5MAA="
    assert event.metadata["type"] == "unsupported"
    assert event.error_code == "131051"


def test_a_message_type_newer_than_the_module_is_unknown() -> None:
    payload = json.loads(fixture_bytes("text_message.json"))
    message = payload["entry"][0]["changes"][0]["value"]["messages"][0]
    message["type"] = "hologram"
    message["hologram"] = {"id": "1"}
    event = parse_meta_event(signed_request(json.dumps(payload).encode()))[0]
    assert event.kind is EventKind.UNKNOWN
    assert event.event_id == message["id"]
    assert event.metadata["type"] == "hologram"


@pytest.mark.parametrize(("text", "consent"), [("STOP", "opt_out"), ("start", "opt_in"), ("Help!", "help")])
def test_consent_keywords(text: str, consent: str) -> None:
    simulated = simulate_meta_message(SECRETS, "+393331234567", text)
    event = parse_meta_event(as_webhook_request(simulated))[0]
    assert event.metadata["consent"] == consent


def test_business_scoped_user_without_a_phone() -> None:
    event = only_event("bsuid_message.json")
    assert event.kind is EventKind.MESSAGE
    assert event.sender is not None
    assert event.sender.identity.address == "bsuid:US.13491208655302741918"
    assert event.sender.phone is None
    assert event.sender.name == "Sheena Nelson"
    assert event.metadata["username"] == "@realsheenanelson"
    assert event.metadata["bsuid"] == "US.13491208655302741918"


def test_phone_wins_over_bsuid_when_both_are_given() -> None:
    event = only_event("bsuid_with_phone_message.json")
    assert event.sender is not None
    assert event.sender.identity.address == "+16505551234"
    assert event.metadata["bsuid"] == "US.13491208655302741918"


# --- statuses ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fixture", "status"),
    [
        ("status_sent.json", DeliveryStatus.SENT),
        ("status_delivered.json", DeliveryStatus.DELIVERED),
        ("status_read.json", DeliveryStatus.READ),
        ("status_failed.json", DeliveryStatus.FAILED),
    ],
)
def test_statuses(fixture: str, status: DeliveryStatus) -> None:
    event = only_event(fixture)
    message_id = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MDk5OUY0OTA1QTRENEI0NzIA"
    assert event.kind is EventKind.DELIVERY_STATUS
    assert event.status is status
    assert event.provider_message_id == message_id
    assert event.event_id == f"{message_id}#{status.value}"
    assert event.metadata["recipient"] == "+16505551234"
    assert event.sender is None


def test_failed_status_carries_the_error_code() -> None:
    event = only_event("status_failed.json")
    assert event.error_code == "131049"
    assert event.metadata["error_title"].startswith("This message was not delivered")


def test_every_status_transition_is_its_own_event() -> None:
    ids = {only_event(f"status_{name}.json").event_id for name in ("sent", "delivered", "read", "failed")}
    assert len(ids) == 4


# --- batches, echoes, other fields, other products --------------------------------------------


def test_batch_with_several_entries_changes_messages_and_statuses() -> None:
    events = parse_fixture("batch_entries.json")
    assert [e.event_id for e in events] == [
        "wamid.BATCH1", "wamid.BATCH2", "wamid.OUT1#delivered", "wamid.OUT1#read", "wamid.BATCH3",
    ]
    first, second, _, _, third = events
    assert first.sender is not None and first.sender.name == "Sheena Nelson"
    assert second.sender is not None and second.sender.name == "Kerry Fisher"
    assert second.sender.identity.address == "+16315551181"
    assert third.sender is not None and third.sender.identity.address == "+393331234567"
    assert third.metadata["phone_number_id"] == "109876543210987"
    assert third.metadata["waba_id"] == "104996122399160"
    assert third.metadata["consent"] == "opt_out"


def test_message_echoes_are_ignored() -> None:
    assert parse_fixture("smb_message_echoes.json") == []


@pytest.mark.parametrize(("fixture", "field", "occurred_at"), [
    ("account_update.json", "account_update", "2025-06-08T21:03:20.000Z"),
    ("message_template_status_update.json", "message_template_status_update", "2025-06-08T21:05:00.000Z"),
])
def test_other_fields_are_unknown_with_a_stable_id(fixture: str, field: str, occurred_at: str) -> None:
    event = only_event(fixture)
    assert event.kind is EventKind.UNKNOWN
    assert event.metadata["type"] == field
    assert event.metadata["waba_id"] == "102290129340398"
    assert event.event_id.startswith("sha256:")
    assert event.event_id == only_event(fixture).event_id  # the same delivery, the same id
    assert event.occurred_at == occurred_at


def test_unknown_events_of_different_content_get_different_ids() -> None:
    assert only_event("account_update.json").event_id != only_event("message_template_status_update.json").event_id


def test_messenger_messages_postbacks_echoes_and_reads() -> None:
    events = parse_fixture("messenger_message.json")
    assert [e.kind for e in events] == [EventKind.MESSAGE, EventKind.MESSAGE, EventKind.MESSAGE,
                                        EventKind.LIFECYCLE]
    text, image, postback, read = events
    assert all(e.channel is Channel.MESSENGER for e in events)
    assert text.text == "hello, world!"
    assert text.event_id.startswith("m_AG5Hz2Uq")
    assert text.sender is not None and text.sender.identity.address == "6543210987654321"
    assert text.occurred_at == "2025-06-08T20:59:43.001Z"
    assert [a.url for a in image.attachments] == ["https://scontent.xx.fbcdn.net/v/t1.15752-9/123_n.jpg", None]
    assert image.metadata["dropped_media_url"] == "true"
    assert postback.text == "Talk to an agent"
    assert postback.metadata["postback_payload"] == "AGENT"
    assert read.metadata["lifecycle"] == "read_watermark"  # see test_meta_social.py


def test_instagram_message() -> None:
    event = only_event("instagram_message.json")
    assert event.channel is Channel.INSTAGRAM
    assert event.kind is EventKind.MESSAGE
    assert event.text == "ciao!"
    assert event.sender is not None and event.sender.identity.address == "1254459154682919"


def test_unknown_object_is_one_unknown_event() -> None:
    event = only_event("unknown_object.json")
    assert event.kind is EventKind.UNKNOWN
    assert event.metadata["type"] == "object:permissions"
    assert event.occurred_at == RECEIVED_AT


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"object": "page"}', b'{"entry": []}', b"\xff\xfe",
                                  b"[" * 100_000, b'{"object": "page", "entry": [' + b"9" * 5000 + b"]}"])
def test_malformed_bodies_are_payload_errors(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_meta_event(signed_request(body))


# --- one bad event never sinks the batch ----------------------------------------------------------


def _whatsapp_batch(*messages: dict, statuses: tuple[dict, ...] = ()) -> bytes:
    data = json.loads(fixture_bytes("text_message.json"))
    value = data["entry"][0]["changes"][0]["value"]
    value["messages"] = list(messages)
    value.pop("contacts")
    if statuses:
        value["statuses"] = list(statuses)
    return json.dumps(data).encode()


def _text(message_id: str, sender: object, **extra: object) -> dict:
    return {"from": sender, "id": message_id, "timestamp": "1749416383", "type": "text",
            "text": {"body": "Does it come in another color?"}, **extra}


@pytest.mark.parametrize("bad_sender", ["4242", "not-a-phone", " ", "+0000000000"])
def test_whatsapp_sender_that_does_not_parse_is_unknown_and_the_batch_is_kept(bad_sender: str) -> None:
    body = _whatsapp_batch(_text("wamid.GOOD", "16505551234"), _text("wamid.BAD", bad_sender),
                           _text("wamid.ALSO_GOOD", "393331234567"))
    events = parse_meta_event(signed_request(body))
    assert [e.event_id for e in events] == ["wamid.GOOD", "wamid.BAD", "wamid.ALSO_GOOD"]
    good, bad, also_good = events
    assert good.kind is EventKind.MESSAGE and also_good.kind is EventKind.MESSAGE
    assert bad.kind is EventKind.UNKNOWN and bad.sender is None
    assert bad.provider_message_id == "wamid.BAD"
    assert bad.metadata["type"] == "text"
    assert bad.metadata["reason"] == "invalid_sender"
    assert "consent" not in bad.metadata
    if bad_sender.strip():
        assert bad.metadata["reason_detail"].endswith("not a phone number in international form"
                                                      " (+, country code, 7 to 15 digits)")
        assert bad_sender not in json.dumps(bad.to_dict())  # never the raw phone in metadata or reason


def test_whatsapp_status_with_an_unreadable_recipient_still_counts() -> None:
    status = json.loads(fixture_bytes("status_delivered.json"))["entry"][0]["changes"][0]["value"]["statuses"][0]
    status["recipient_id"] = "12"
    body = _whatsapp_batch(_text("wamid.GOOD", "16505551234"), statuses=(status,))
    message, delivered = parse_meta_event(signed_request(body))
    assert message.kind is EventKind.MESSAGE
    assert delivered.kind is EventKind.DELIVERY_STATUS and delivered.status is DeliveryStatus.DELIVERED
    assert delivered.metadata["reason"] == "invalid_recipient" and "recipient" not in delivered.metadata


def test_an_event_that_cannot_be_built_is_unknown_with_a_stable_id() -> None:
    body = _whatsapp_batch(_text("w" * 600, "16505551234"), _text("wamid.GOOD", "16505551234"))
    first = parse_meta_event(signed_request(body))
    again = parse_meta_event(signed_request(body))
    assert [e.kind for e in first] == [EventKind.UNKNOWN, EventKind.MESSAGE]
    assert first[0].event_id.startswith("sha256:") and first[0].event_id == again[0].event_id
    assert first[0].metadata["reason"] == "invalid_event"


def test_an_entry_that_is_not_an_object_is_kept_as_unknown() -> None:
    data = json.loads(fixture_bytes("text_message.json"))
    data["entry"].insert(0, "x")
    unknown, message = parse_meta_event(signed_request(json.dumps(data).encode()))
    assert unknown.kind is EventKind.UNKNOWN and unknown.metadata["type"] == "invalid_entry"
    assert message.kind is EventKind.MESSAGE


@pytest.mark.parametrize("bad_id", [" ", ""])
def test_messenger_sender_id_that_does_not_fit_is_unknown_not_a_model_error(bad_id: str) -> None:
    data = json.loads(fixture_bytes("messenger_message.json"))
    item = data["entry"][0]["messaging"][0]
    good = json.loads(json.dumps(item))
    item["sender"]["id"] = bad_id
    good["message"]["mid"] = "m_GOOD"
    postback = {"sender": {"id": bad_id}, "recipient": {"id": "106445795700891"}, "timestamp": 1749416383001,
                "postback": {"mid": "m_POSTBACK", "title": "Talk to an agent", "payload": "AGENT"}}
    data["entry"][0]["messaging"] = [item, good, postback]
    events = parse_meta_event(signed_request(json.dumps(data).encode()))
    assert [e.kind for e in events] == [EventKind.UNKNOWN, EventKind.MESSAGE, EventKind.UNKNOWN]
    if bad_id:
        assert events[0].event_id == item["message"]["mid"]
        assert events[0].metadata["reason"] == "invalid_sender"
    assert events[1].event_id == "m_GOOD"


@pytest.mark.parametrize("timestamp", [b"NaN", b"Infinity", b"-Infinity", b"1e30", b'"NaN"', b'"inf"', b'"1e30"',
                                       b'"-1e30"', b"9" * 30, b"true", b"[]", b'"soon"'])
def test_whatsapp_timestamp_that_is_no_date_falls_back_to_reception(timestamp: bytes) -> None:
    # Python's json reads NaN and Infinity; WhatsApp's timestamps are strings, which go through float().
    body = fixture_bytes("text_message.json").replace(b'"1749416383"', timestamp)
    [event] = parse_meta_event(signed_request(body))
    assert event.kind is EventKind.MESSAGE and event.occurred_at == RECEIVED_AT


@pytest.mark.parametrize("timestamp", [b"NaN", b"Infinity", b"1e30", b"-1e30", b"9" * 30])
def test_messenger_millisecond_timestamp_that_is_no_date_falls_back(timestamp: bytes) -> None:
    body = fixture_bytes("messenger_message.json").replace(b"1749416383001", timestamp)
    events = parse_meta_event(signed_request(body))
    assert events[0].kind is EventKind.MESSAGE and events[0].occurred_at == RECEIVED_AT


# --- simulator --------------------------------------------------------------------------------


def test_simulated_message_round_trips() -> None:
    simulated = simulate_meta_message(SECRETS, "whatsapp:+39 333 123 4567", "Ciao, è arrivato rotto",
                                      name="Marco Rossi", event_id="wamid.SIM1", timestamp=1_749_416_383)
    assert simulated.method == "POST" and simulated.path == "/webhooks/meta"
    assert b"\\u00e8" in simulated.body  # escaped like Meta's bodies
    request = as_webhook_request(simulated)
    verify_meta_signature(request, SECRETS, NOW)
    (event,) = parse_meta_event(request)
    assert event.event_id == "wamid.SIM1"
    assert event.text == "Ciao, è arrivato rotto"
    assert event.sender is not None
    assert event.sender.identity.address == "+393331234567"
    assert event.sender.name == "Marco Rossi"


def test_simulated_message_ids_are_unique() -> None:
    first = parse_meta_event(as_webhook_request(simulate_meta_message(SECRETS, "+393331234567", "a")))[0]
    second = parse_meta_event(as_webhook_request(simulate_meta_message(SECRETS, "+393331234567", "a")))[0]
    assert first.event_id != second.event_id


@pytest.mark.parametrize("status", ["sent", "delivered", "read", "failed"])
def test_simulated_status_round_trips(status: str) -> None:
    simulated = simulate_meta_status(SECRETS, "wamid.OUT42", status, recipient="+393331234567")
    request = as_webhook_request(simulated)
    verify_meta_signature(request, SECRETS, NOW)
    (event,) = parse_meta_event(request)
    assert event.kind is EventKind.DELIVERY_STATUS
    assert event.event_id == f"wamid.OUT42#{status}"
    assert event.status is DeliveryStatus(status)
    assert event.metadata["recipient"] == "+393331234567"
    assert (event.error_code == "131026") is (status == "failed")


def test_simulated_verification_get() -> None:
    request = as_webhook_request(simulate_meta_verification_get(SECRETS, "4242"))
    assert request.method == "GET" and request.path == "/webhooks/meta"
    response = answer_meta_verification(request, SECRETS, NOW)
    assert response is not None and (response.status, response.body) == (200, "4242")
    forged = as_webhook_request(simulate_meta_verification_get(SECRETS, "4242", verify_token="nope"))
    response = answer_meta_verification(forged, SECRETS, NOW)
    assert response is not None and response.status == 403
