"""X Account Activity webhook: CRC, signature, and every event kind from real-shaped payloads.

Fixtures: tests/fixtures/x/SOURCES.md. The CRC and signature vectors come from another project's
test suite (dbgeek/twitter-bot1, Go), computed independently of this code.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl

import pytest

from chalicelib.core.consent import ConsentState, lifecycle_consent
from chalicelib.core.errors import PermanentError
from chalicelib.core.model import Channel, DeliveryStatus, EventKind, InboundEvent
from chalicelib.providers.base import PayloadError, SignatureError, WebhookRequest
from chalicelib.providers.x import CHANNEL, answer_x_crc, parse_x_event, sign_x_payload, verify_x_signature
from devstack.simulators.base import SimulatedRequest
from devstack.simulators.x import simulate_x_crc, simulate_x_message

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "x"
SECRET = "z3ZX4v7mAAUGykl3EcmkqbartmuW8VFOOzCloLx9Q45P0hLrFu"  # the sample secret of X's CRC examples
SECRETS = {"X_CONSUMER_SECRET": SECRET}
RECEIVED_AT = "2026-06-08T21:00:00.000Z"
NOW = 1_780_000_000.0
ACCOUNT = "4337869213"
CUSTOMER = "1497230178432225283"


def signed(body: bytes, *, secret: str = SECRET, signature: str | None = None) -> WebhookRequest:
    headers = {"content-type": "application/json",
               "x-twitter-webhooks-signature": sign_x_payload(secret, body) if signature is None else signature}
    return WebhookRequest(method="POST", path="/webhooks/x", headers=headers, body=body, received_at=RECEIVED_AT)


def parse_fixture(name: str) -> list[InboundEvent]:
    request = signed((FIXTURES / name).read_bytes())
    verify_x_signature(request, SECRETS, NOW)
    return parse_x_event(request)


def as_request(simulated: SimulatedRequest) -> WebhookRequest:
    path, _, query = simulated.path.partition("?")
    return WebhookRequest(method=simulated.method, path=path, body=simulated.body, query=dict(parse_qsl(query)),
                          headers={k.lower(): v for k, v in simulated.headers.items()}, received_at=RECEIVED_AT)


# --- CRC and signature --------------------------------------------------------------------------------------


def test_crc_and_signature_match_independent_vectors() -> None:
    assert sign_x_payload("ss", b"helloWorld") == "sha256=YFpPr1o5UmzuIUDQn+BqYQ14kFOjWiWYc7oNiVymMgg="
    assert sign_x_payload("bbbbbb", b"html body") == "sha256=P/M6xYi2AxkjB8C36xD3AfjT5XuOx3dWgw9EVXCYA2U="
    request = WebhookRequest(method="GET", path="/webhooks/x", headers={}, body=b"", query={"crc_token": "helloWorld"})
    response = answer_x_crc(request, {"X_CONSUMER_SECRET": "ss"}, NOW)
    assert response is not None and response.status == 200 and response.content_type == "application/json"
    assert json.loads(response.body) == {"response_token": "sha256=YFpPr1o5UmzuIUDQn+BqYQ14kFOjWiWYc7oNiVymMgg="}
    verify_x_signature(WebhookRequest(method="POST", path="/webhooks/x", body=b"html body", headers={
        "x-twitter-webhooks-signature": "sha256=P/M6xYi2AxkjB8C36xD3AfjT5XuOx3dWgw9EVXCYA2U="}),
        {"X_CONSUMER_SECRET": "bbbbbb"}, NOW)


@pytest.mark.parametrize("query", [{}, {"crc_token": ""}, {"crc_token": "t" * 513}])
def test_a_get_without_a_usable_crc_token_is_a_400(query: dict[str, str]) -> None:
    response = answer_x_crc(WebhookRequest(method="GET", path="/webhooks/x", headers={}, body=b"", query=query),
                            SECRETS, NOW)
    assert response is not None and response.status == 400


def test_posts_are_not_handshakes_and_the_crc_needs_the_secret() -> None:
    assert answer_x_crc(signed(b"{}"), SECRETS, NOW) is None
    with pytest.raises(PermanentError):
        answer_x_crc(as_request(simulate_x_crc(SECRETS)), {}, NOW)


@pytest.mark.parametrize("headers", [
    {},
    {"x-twitter-webhooks-signature": ""},
    {"x-twitter-webhooks-signature": "sha256=" + "A" * 44},
    {"x-twitter-webhooks-signature": sign_x_payload("another-secret", (FIXTURES / "dm.json").read_bytes())},
])
def test_forged_posts_are_refused_before_the_body_is_read(headers: dict[str, str]) -> None:
    body = (FIXTURES / "dm.json").read_bytes()
    request = WebhookRequest(method="POST", path="/webhooks/x", headers=headers, body=body)
    with pytest.raises(SignatureError):
        verify_x_signature(request, SECRETS, NOW)
    assert CHANNEL.forged_status == 401


def test_a_body_changed_after_signing_is_refused() -> None:
    body = (FIXTURES / "dm.json").read_bytes()
    with pytest.raises(SignatureError):
        tampered = signed(body.replace(b"never arrived", b"arrived!!!!!"), signature=sign_x_payload(SECRET, body))
        verify_x_signature(tampered, SECRETS, NOW)


# --- direct messages ----------------------------------------------------------------------------------------


def test_a_direct_message_names_its_sender_from_users() -> None:
    [event] = parse_fixture("dm.json")
    assert event.kind is EventKind.MESSAGE and event.channel is Channel.X and event.provider == "x"
    assert (event.event_id, event.provider_message_id) == ("1931773950137434117", "1931773950137434117")
    assert event.text == "My order 12345 never arrived"
    assert event.sender is not None and event.sender.identity.address == CUSTOMER  # > 2^53, every digit kept
    assert event.sender.name == "Giulia Bianchi" and event.metadata["screen_name"] == "giulia_b"
    assert event.metadata["quick_reply_payload"] == "order_issue"
    assert event.occurred_at == "2025-06-08T21:00:08.557Z"
    assert "public" not in event.metadata


def test_the_accounts_own_direct_messages_are_ignored() -> None:
    assert parse_fixture("dm_own.json") == []


def test_dm_media_is_kept_as_an_attachment_on_x_hosts_only() -> None:
    [event] = parse_fixture("dm_media.json")
    [attachment] = event.attachments
    assert (attachment.kind, attachment.media_id) == ("image", "1931773940000000000")
    assert attachment.url is not None and attachment.url.startswith("https://ton.twitter.com/")
    body = (FIXTURES / "dm_media.json").read_bytes().replace(b"https://ton.twitter.com", b"https://evil.example")
    [event] = parse_x_event(signed(body))
    assert event.attachments[0].url is None


# --- posts --------------------------------------------------------------------------------------------------


def test_a_mention_is_a_public_message() -> None:
    [event] = parse_fixture("tweet_mention.json")
    assert event.kind is EventKind.MESSAGE and event.event_id == "1931780000000000001"
    assert event.text == "@acmecare third week waiting for a refund, seriously?"
    assert event.sender is not None and event.sender.identity.address == CUSTOMER
    assert {k: event.metadata[k] for k in ("public", "tweet_id", "relation", "permalink")} == {
        "public": "true", "tweet_id": "1931780000000000001", "relation": "mention",
        "permalink": "https://x.com/giulia_b/status/1931780000000000001"}
    assert "in_reply_to" not in event.metadata


def test_a_reply_to_the_account_names_the_post_it_answers() -> None:
    [event] = parse_fixture("tweet_reply.json")
    assert (event.metadata["relation"], event.metadata["in_reply_to"]) == ("reply", "1931770000000000000")


def test_the_accounts_own_posts_and_retweets_are_ignored() -> None:
    assert parse_fixture("tweet_own_and_retweet.json") == []


def test_a_long_post_keeps_its_full_text() -> None:
    data = json.loads((FIXTURES / "tweet_mention.json").read_bytes())
    post = data["tweet_create_events"][0]
    post.update(truncated=True, text="@acmecare third week…", extended_tweet={"full_text": "@acmecare " + "x" * 270})
    [event] = parse_x_event(signed(json.dumps(data).encode()))
    assert event.text == "@acmecare " + "x" * 270


# --- other activity -----------------------------------------------------------------------------------------


def test_a_block_by_the_account_withdraws_consent_and_an_unblock_grants_it() -> None:
    [blocked] = parse_fixture("block.json")
    [unblocked] = parse_fixture("unblock.json")
    for event, lifecycle in ((blocked, "blocked"), (unblocked, "unblocked")):
        assert event.kind is EventKind.LIFECYCLE and event.metadata["lifecycle"] == lifecycle
        assert event.sender is not None and event.sender.identity.address == CUSTOMER
        assert event.metadata["blocked_by"] == "us"
    assert lifecycle_consent(blocked.metadata["lifecycle"]) is ConsentState.WITHDRAWN
    assert lifecycle_consent(unblocked.metadata["lifecycle"]) is ConsentState.GRANTED
    assert blocked.event_id != unblocked.event_id


def test_the_customer_reading_our_dms_is_a_read_status_typing_and_our_reads_are_raw() -> None:
    events = parse_fixture("typing_and_read.json")
    typing = next(e for e in events if e.metadata.get("type") == "direct_message_indicate_typing")
    read = next(e for e in events if e.kind is EventKind.DELIVERY_STATUS)
    ours = [e for e in events if e.metadata.get("type") == "direct_message_mark_read"]
    assert len(events) == 3 and typing.kind is EventKind.UNKNOWN and len(ours) == 1
    assert (read.status, read.provider_message_id, read.event_id) == (
        DeliveryStatus.READ, "1931773950137434999", "1931773950137434999#read")
    assert read.metadata["covers_earlier"] == "true"


@pytest.mark.parametrize(("fixture", "event_type"), [("favorite.json", "favorite"), ("follow.json", "follow")])
def test_favorites_and_follows_are_stored_raw(fixture: str, event_type: str) -> None:
    [event] = parse_fixture(fixture)
    assert event.kind is EventKind.UNKNOWN and event.metadata["type"] == event_type
    assert event.metadata["for_user_id"] == ACCOUNT
    assert lifecycle_consent(event.metadata.get("lifecycle")) is None  # a follow grants nothing


# --- duplicates and hostile bodies --------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["dm.json", "tweet_mention.json", "tweet_reply.json", "block.json",
                                     "favorite.json", "follow.json", "typing_and_read.json"])
def test_the_same_delivery_twice_yields_the_same_event_ids(fixture: str) -> None:
    assert [e.event_id for e in parse_fixture(fixture)] == [e.event_id for e in parse_fixture(fixture)]


def test_numeric_ids_beyond_2_53_keep_every_digit() -> None:
    body = (FIXTURES / "dm.json").read_bytes().replace(b'"id": "1931773950137434117"', b'"id": 1931773950137434117')
    [event] = parse_x_event(signed(body))
    assert event.event_id == "1931773950137434117"


@pytest.mark.parametrize("body", [b"not json", b"[]", b"{}", b'{"for_user_id": 1.5}', b"\xff"])
def test_malformed_bodies_are_payload_errors(body: bytes) -> None:
    with pytest.raises(PayloadError):
        parse_x_event(signed(body))


def test_one_unreadable_item_never_sinks_the_batch() -> None:
    data = json.loads((FIXTURES / "dm.json").read_bytes())
    good = data["direct_message_events"][0]
    bad = json.loads(json.dumps(good))
    bad["id"] = "9" * 600
    data["direct_message_events"] = ["junk", bad, good]
    events = parse_x_event(signed(json.dumps(data).encode()))
    assert [e.kind for e in events] == [EventKind.UNKNOWN, EventKind.UNKNOWN, EventKind.MESSAGE]
    assert events[1].metadata["reason"] == "invalid_event"


# --- simulator ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["dm", "mention", "reply"])
def test_simulated_requests_verify_and_parse(kind: str) -> None:
    request = as_request(simulate_x_message(SECRETS, CUSTOMER, "where is my parcel?", name="Giulia", kind=kind,
                                            event_id="1931799999999999999"))
    verify_x_signature(request, SECRETS, NOW)
    [event] = parse_x_event(request)
    assert event.kind is EventKind.MESSAGE and event.event_id == "1931799999999999999"
    assert event.sender is not None and event.sender.identity.address == CUSTOMER
    assert ("public" in event.metadata) is (kind != "dm")
    if kind != "dm":
        assert event.metadata["relation"] == kind


def test_simulated_crc_is_answered() -> None:
    response = answer_x_crc(as_request(simulate_x_crc(SECRETS, "abc")), SECRETS, NOW)
    assert response is not None and json.loads(response.body)["response_token"] == sign_x_payload(SECRET, b"abc")
