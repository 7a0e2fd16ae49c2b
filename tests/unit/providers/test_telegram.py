"""Telegram Bot API: ``POST /webhooks/telegram/{bot}``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.core.errors import PermanentError
from chalicelib.core.model import Channel, EventKind, InboundEvent
from chalicelib.providers.base import PayloadError, SignatureError, WebhookRequest
from chalicelib.providers.telegram import (
    CHANNEL,
    parse_telegram_update,
    reply_with_method,
    telegram_method_reply,
    verify_telegram_secret_token,
)
from devstack.simulators.base import SimulatedRequest
from devstack.simulators.telegram import simulate_telegram_message

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "telegram"
SECRET_TOKEN = "Zq3_k9-XvB7mP2wR5tY8uI1oA4sD6fG0hJ"  # setWebhook allows A-Z a-z 0-9 _ - (1-256)
SECRETS = {"TELEGRAM_SECRET_TOKEN": SECRET_TOKEN}
RECEIVED_AT = "2026-06-08T21:00:00.000Z"
NOW = 1_780_000_000.0
BOT = "support_bot"


def request_for(body: bytes, *, bot: str = BOT, token: str | None = SECRET_TOKEN) -> WebhookRequest:
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["x-telegram-bot-api-secret-token"] = token
    return WebhookRequest(method="POST", path=f"/webhooks/telegram/{bot}", headers=headers, body=body,
                          path_params={"bot": bot}, received_at=RECEIVED_AT)


def only_event(name: str, *, bot: str = BOT) -> InboundEvent:
    request = request_for((FIXTURES / name).read_bytes(), bot=bot)
    verify_telegram_secret_token(request, SECRETS, NOW)
    events = parse_telegram_update(request)
    assert len(events) == 1
    return events[0]


def as_webhook_request(simulated: SimulatedRequest) -> WebhookRequest:
    bot = simulated.path.rsplit("/", 1)[-1]
    return WebhookRequest(
        method=simulated.method,
        path=simulated.path,
        headers={key.lower(): value for key, value in simulated.headers.items()},
        body=simulated.body,
        path_params={"bot": bot},
        received_at=RECEIVED_AT,
    )


# --- secret token -----------------------------------------------------------------------------


def test_matching_secret_token_is_accepted() -> None:
    verify_telegram_secret_token(request_for(b"{}"), SECRETS, NOW)


@pytest.mark.parametrize(("token", "reason"), [
    (None, "missing"),
    ("", "missing"),
    ("Zq3_k9-XvB7mP2wR5tY8uI1oA4sD6fG0hj", "does not match"),  # one character off
    (SECRET_TOKEN + "x", "does not match"),
])
def test_missing_or_wrong_secret_token_is_rejected(token: str | None, reason: str) -> None:
    with pytest.raises(SignatureError, match=reason) as raised:
        verify_telegram_secret_token(request_for(b"{}", token=token), SECRETS, NOW)
    assert raised.value.code == "unauthorized"


def test_missing_configuration_refuses_everything() -> None:
    with pytest.raises(PermanentError, match="TELEGRAM_SECRET_TOKEN") as raised:
        verify_telegram_secret_token(request_for(b"{}"), {}, NOW)
    assert raised.value.code == "unauthorized"


def test_channel_spec() -> None:
    assert CHANNEL.provider == "telegram"
    assert CHANNEL.secret_names == ("TELEGRAM_SECRET_TOKEN",)
    assert CHANNEL.handshake is None
    response = CHANNEL.respond(request_for(b"{}"), [])
    assert (response.status, response.body, response.content_type) == (200, "{}", "application/json")


# --- messages ---------------------------------------------------------------------------------


def test_text_message() -> None:
    event = only_event("message_text.json")
    assert event.provider == "telegram"
    assert event.event_id == "support_bot#987654321"
    assert event.kind is EventKind.MESSAGE
    assert event.channel is Channel.TELEGRAM
    assert event.occurred_at == "2025-06-08T20:59:43.000Z"
    assert event.text == "Ciao, il mio ordine non è arrivato"
    assert event.sender is not None
    assert event.sender.identity.address == "111111111"
    assert event.sender.name == "Mario Rossi"
    assert event.sender.language == "it"
    assert event.provider_message_id == "111111111:1365"
    assert event.metadata["bot"] == "support_bot"
    assert event.metadata["message_id"] == "1365"
    assert event.metadata["username"] == "mariorossi"
    assert event.metadata["chat_type"] == "private"
    assert "consent" not in event.metadata


def test_dedupe_key_is_per_bot() -> None:
    assert only_event("message_text.json", bot="sales_bot").event_id == "sales_bot#987654321"
    assert only_event("message_text.json").event_id != only_event("message_text.json", bot="sales_bot").event_id


def test_ids_above_2_pow_53_keep_every_digit() -> None:
    raw = (FIXTURES / "message_big_ids.json").read_bytes()
    assert b"9007199254740993" in raw and b"18014398509481985" in raw
    assert float(9007199254740993) == 9007199254740992.0  # what a double would make of it
    event = only_event("message_big_ids.json")
    assert event.sender is not None
    assert event.sender.identity.address == "9007199254740993"
    assert event.metadata["user_id"] == "18014398509481985"
    assert event.sender.name == "Anna"
    assert event.sender.language is None
    # And through the model's JSON form, as queues and DynamoDB see it.
    assert json.loads(json.dumps(event.to_dict()))["sender"]["identity"]["address"] == "9007199254740993"


def test_command_is_recorded() -> None:
    event = only_event("message_command_start.json")
    assert event.kind is EventKind.MESSAGE
    assert event.text == "/start order_2031"
    assert event.metadata["command"] == "start"


def test_reply_to_message_id() -> None:
    assert only_event("message_reply.json").metadata["reply_to"] == "1360"


def test_edited_message_is_its_own_event() -> None:
    original = only_event("message_text.json")
    edited = only_event("edited_message.json")
    assert edited.kind is EventKind.MESSAGE
    assert edited.event_id == "support_bot#987654325" != original.event_id
    assert edited.metadata["edited"] == "true"
    assert edited.metadata["message_id"] == original.metadata["message_id"] == "1365"
    assert edited.occurred_at == "2025-06-08T21:00:00.000Z"  # the edit_date
    assert edited.text == "Ciao, il mio ordine 2031 non è arrivato"


def test_channel_post_is_unknown() -> None:
    event = only_event("channel_post.json")
    assert event.kind is EventKind.UNKNOWN
    assert event.metadata["type"] == "channel_post"
    assert event.event_id == "support_bot#987654326"
    assert event.sender is None


def test_photo_keeps_the_largest_size() -> None:
    event = only_event("message_photo.json")
    assert event.kind is EventKind.MESSAGE
    (photo,) = event.attachments
    assert photo.kind == "image"
    assert photo.media_id == "AgACAgQAAxkBAAIBQ2ZmLarge"
    assert photo.size == 93811
    assert photo.caption == "the damaged box"
    assert photo.url is None
    assert event.text == "the damaged box"
    assert event.metadata["file_unique_id"] == "AQADlarge"


@pytest.mark.parametrize(
    ("fixture", "kind", "media_id", "content_type", "name", "size"),
    [
        ("message_document.json", "document", "BQACAgQAAxkBAAIBRGZmDocument", "application/pdf",
         "invoice-2031.pdf", 48213),
        ("message_voice.json", "audio", "AwACAgQAAxkBAAIBRWZmVoice", "audio/ogg", None, 11840),
        ("message_audio.json", "audio", "CQACAgQAAxkBAAIBRmZmAudio", "audio/mpeg", "recording.mp3", 2931200),
        ("message_video.json", "video", "BAACAgQAAxkBAAIBR2ZmVideo", "video/mp4", "noise.mp4", 1843200),
        ("message_sticker.json", "sticker", "CAACAgIAAxkBAAIBSGZmSticker", None, None, 23011),
    ],
)
def test_media_messages(fixture: str, kind: str, media_id: str, content_type: str | None, name: str | None,
                        size: int) -> None:
    event = only_event(fixture)
    assert event.kind is EventKind.MESSAGE
    (attachment,) = event.attachments
    assert (attachment.kind, attachment.media_id, attachment.content_type, attachment.name, attachment.size) == (
        kind, media_id, content_type, name, size)
    assert event.metadata["file_unique_id"]


def test_voice_and_sticker_extras() -> None:
    assert only_event("message_voice.json").metadata["voice"] == "true"
    assert only_event("message_voice.json").metadata["duration"] == "4"
    assert only_event("message_sticker.json").metadata["sticker_emoji"] == "😡"


def test_own_contact_gives_the_sender_phone() -> None:
    event = only_event("message_contact.json")
    assert event.kind is EventKind.MESSAGE
    assert event.attachments[0].kind == "contact"
    assert event.attachments[0].name == "Mario Rossi"
    assert event.metadata["contact_phone"] == "393331234567"
    assert event.sender is not None
    assert event.sender.phone == "+393331234567"
    assert event.sender.identity.address == "111111111"  # the chat stays the identity


def test_someone_elses_contact_is_not_the_sender_phone() -> None:
    update = json.loads((FIXTURES / "message_contact.json").read_bytes())
    update["message"]["contact"]["user_id"] = 222222222
    (event,) = parse_telegram_update(request_for(json.dumps(update).encode()))
    assert event.sender is not None and event.sender.phone is None
    assert event.metadata["contact_phone"] == "393331234567"


def test_location() -> None:
    event = only_event("message_location.json")
    assert event.kind is EventKind.MESSAGE
    assert event.attachments[0].kind == "location"
    assert event.metadata["location_latitude"] == "45.464211"
    assert event.metadata["location_longitude"] == "9.191383"


def test_callback_query() -> None:
    event = only_event("callback_query.json")
    assert event.kind is EventKind.MESSAGE
    assert event.event_id == "support_bot#987654335"
    assert event.text == "solved:no"
    assert event.metadata["callback_query_id"] == "4382bfdwdsb323b2d9"
    assert event.metadata["callback_message_id"] == "1400"
    assert event.metadata["message_type"] == "callback_query"
    assert event.sender is not None and event.sender.identity.address == "111111111"
    assert event.sender.language == "it"


def test_blocked_and_unblocked() -> None:
    blocked = only_event("my_chat_member_blocked.json")
    unblocked = only_event("my_chat_member_unblocked.json")
    assert blocked.kind is unblocked.kind is EventKind.LIFECYCLE
    assert blocked.metadata["lifecycle"] == "blocked"
    assert unblocked.metadata["lifecycle"] == "unblocked"
    assert blocked.sender is not None and blocked.sender.identity.address == "111111111"
    assert blocked.event_id != unblocked.event_id


@pytest.mark.parametrize(("fixture", "event_type"), [
    ("message_reaction.json", "message_reaction"),
    ("message_service_new_members.json", "message:new_chat_members"),
])
def test_unknown_updates(fixture: str, event_type: str) -> None:
    event = only_event(fixture)
    assert event.kind is EventKind.UNKNOWN
    assert event.metadata["type"] == event_type
    assert event.event_id.startswith("support_bot#98765433")


def test_an_update_type_newer_than_the_module_is_unknown() -> None:
    body = json.dumps({"update_id": 5, "purchased_paid_media": {"from": {"id": 1}, "payload": "x"}}).encode()
    (event,) = parse_telegram_update(request_for(body))
    assert event.kind is EventKind.UNKNOWN
    assert event.metadata["type"] == "purchased_paid_media"
    assert event.occurred_at == RECEIVED_AT


@pytest.mark.parametrize("body", [b"not json", b"[]", b"{}", b'{"update_id": "12"}', b'{"update_id": true}',
                                  b"\xff", b'{"update_id": ' + b"9" * 5000 + b"}"])
def test_malformed_bodies_are_payload_errors(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_telegram_update(request_for(body))


@pytest.mark.parametrize("bot", ["", "../admin", "a" * 65, "bot name"])
def test_bad_bot_names_are_payload_errors(bot: str) -> None:
    with pytest.raises(PayloadError, match="bot"):
        parse_telegram_update(request_for((FIXTURES / "message_text.json").read_bytes(), bot=bot))


# --- signed but malformed ---------------------------------------------------------------------


def _update(**message_changes: object) -> bytes:
    update = json.loads((FIXTURES / "message_text.json").read_text())
    update["message"].update(message_changes)
    return json.dumps(update).encode()


@pytest.mark.parametrize("chat", [{"id": " ", "type": "private"}, {"id": "\t", "type": "private"}])
def test_a_chat_id_that_does_not_fit_is_unknown_not_a_model_error(chat: dict) -> None:
    [event] = parse_telegram_update(request_for(_update(chat=chat)))
    assert (event.kind, event.event_id, event.sender) == (EventKind.UNKNOWN, f"{BOT}#987654321", None)
    assert event.metadata["reason"] == "invalid_sender"
    assert event.metadata["type"] == "message"


def test_callback_query_and_member_updates_with_a_bad_chat_id_are_unknown() -> None:
    for update in (
        {"update_id": 5, "callback_query": {"id": "q1", "from": {"id": " "}, "data": "agent"}},
        {"update_id": 6, "my_chat_member": {"chat": {"id": " ", "type": "private"}, "from": {"id": 1},
                                            "date": 1749416383, "new_chat_member": {"status": "kicked"}}},
    ):
        [event] = parse_telegram_update(request_for(json.dumps(update).encode()))
        assert event.kind is EventKind.UNKNOWN and event.metadata["reason"] == "invalid_sender"


@pytest.mark.parametrize("date", [b"NaN", b"Infinity", b"1e30", b"1e308", b"9" * 40])
def test_a_date_that_is_no_time_falls_back_to_reception(date: bytes) -> None:
    body = (FIXTURES / "message_text.json").read_bytes().replace(b"1749416383", date)
    [event] = parse_telegram_update(request_for(body))
    assert event.kind is EventKind.MESSAGE and event.occurred_at == RECEIVED_AT


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"update_id": ' + b"9" * 5000 + b"}"])
def test_json_that_json_loads_refuses_is_a_payload_error(body: bytes) -> None:
    with pytest.raises(PayloadError, match="not JSON"):
        parse_telegram_update(request_for(body))


# --- webhook method reply ---------------------------------------------------------------------


def test_method_reply() -> None:
    assert telegram_method_reply("9007199254740993", "Ciao! Ref #A1B2", "1365") == {
        "method": "sendMessage",
        "chat_id": "9007199254740993",
        "text": "Ciao! Ref #A1B2",
        "reply_parameters": {"message_id": 1365, "allow_sending_without_reply": True},
    }
    assert telegram_method_reply("111", "hi", None) == {"method": "sendMessage", "chat_id": "111", "text": "hi"}


@pytest.mark.parametrize("reply_to", ["abc", "²", "12a", "-5", "1.5", "", " 12", "١٢"])
def test_method_reply_leaves_out_a_reply_to_that_is_no_message_id(reply_to: str) -> None:
    assert telegram_method_reply("111", "hi", reply_to) == {"method": "sendMessage", "chat_id": "111", "text": "hi"}


def test_instant_reply_with_a_non_numeric_message_id_still_answers() -> None:
    [event] = parse_telegram_update(request_for((FIXTURES / "message_text.json").read_bytes()))
    odd = type(event).from_dict({**event.to_dict(), "metadata": {**event.metadata, "message_id": "²"}})
    response = reply_with_method(request_for(b"{}"), odd, "Thanks!")
    assert response.status == 200
    assert json.loads(response.body) == {"method": "sendMessage", "chat_id": "111111111", "text": "Thanks!"}
    normal = json.loads(reply_with_method(request_for(b"{}"), event, "Thanks!").body)
    assert normal["reply_parameters"]["message_id"] == 1365


def test_method_reply_fits_telegram_limits() -> None:
    assert len(telegram_method_reply("111", "x" * 5000, None)["text"]) == 4096
    with pytest.raises(ValueError):
        telegram_method_reply("111", "", None)


# --- simulator --------------------------------------------------------------------------------


def test_simulated_message_round_trips() -> None:
    simulated = simulate_telegram_message(SECRETS, "9007199254740993", "Ciao, è rotto", name="Anna Bianchi",
                                          language="it", update_id=77, timestamp=1_749_416_383)
    assert simulated.method == "POST" and simulated.path == "/webhooks/telegram/support_bot"
    request = as_webhook_request(simulated)
    verify_telegram_secret_token(request, SECRETS, NOW)
    (event,) = parse_telegram_update(request)
    assert event.event_id == "support_bot#77"
    assert event.text == "Ciao, è rotto"
    assert event.sender is not None
    assert event.sender.identity.address == "9007199254740993"
    assert event.sender.name == "Anna Bianchi"
    assert event.sender.language == "it"
    assert event.occurred_at == "2025-06-08T20:59:43.000Z"


def test_simulator_other_bot_and_event_id() -> None:
    simulated = simulate_telegram_message(SECRETS, "42", "/start", bot="sales_bot", event_id="sales_bot#9")
    (event,) = parse_telegram_update(as_webhook_request(simulated))
    assert event.event_id == "sales_bot#9"
    assert event.metadata["command"] == "start"


def test_simulated_update_ids_differ() -> None:
    first = parse_telegram_update(as_webhook_request(simulate_telegram_message(SECRETS, "42", "a")))[0]
    second = parse_telegram_update(as_webhook_request(simulate_telegram_message(SECRETS, "42", "a")))[0]
    assert first.event_id != second.event_id
