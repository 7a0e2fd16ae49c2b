"""Messenger and Instagram social care: DM extras, receipts, thread control and public comments.

Fixtures follow Meta's documented payloads (tests/fixtures/meta/SOURCES.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.core.consent import lifecycle_consent
from chalicelib.core.model import Channel, DeliveryStatus, EventKind, InboundEvent
from chalicelib.providers.base import SignatureError, WebhookRequest
from chalicelib.providers.meta import CHANNEL, parse_meta_event
from chalicelib.providers.meta.signature import sign_meta_payload, verify_meta_signature
from devstack.simulators.meta import simulate_meta_social

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "meta"
APP_SECRET = "a3f5c1e9d7b24f6a8c0e2d4b6f8a1c3e"
SECRETS = {"META_APP_SECRET": APP_SECRET, "META_VERIFY_TOKEN": "meatyhamhock"}
RECEIVED_AT = "2026-06-08T21:00:00.000Z"
NOW = 1_780_000_000.0

PAGE = "106445795700891"
PSID = "6543210987654321"
IGSID = "1254459154682919"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def signed_request(body: bytes, *, secret: str = APP_SECRET, signature: str | None = None) -> WebhookRequest:
    headers = {"content-type": "application/json",
               "x-hub-signature-256": sign_meta_payload(secret, body) if signature is None else signature}
    return WebhookRequest(method="POST", path="/webhooks/meta", headers=headers, body=body, received_at=RECEIVED_AT)


def parse_fixture(name: str) -> list[InboundEvent]:
    request = signed_request(fixture_bytes(name))
    verify_meta_signature(request, SECRETS, NOW)
    return parse_meta_event(request)


def by_id(events: list[InboundEvent]) -> dict[str, InboundEvent]:
    return {event.event_id: event for event in events}


# --- direct messages: quick replies, postbacks, referrals ---------------------------------------------------


def test_quick_reply_payload_and_ad_referral_are_metadata_of_the_message() -> None:
    quick, ad, postback, *_ = parse_fixture("messenger_quick_reply_and_referrals.json")
    assert quick.kind is EventKind.MESSAGE and quick.text == "Track my order"
    assert quick.metadata["quick_reply_payload"] == "TRACK_ORDER"
    assert ad.kind is EventKind.MESSAGE and ad.text == "Is this still available?"
    assert {k: v for k, v in ad.metadata.items() if k.startswith("referral_")} == {
        "referral_ref": "spring_sale", "referral_source": "ADS", "referral_type": "OPEN_THREAD",
        "referral_ad_id": "23851234567890123", "referral_ad_title": "Spring sale: 30% off",
        "referral_ad_post_id": "106445795700891_122103456789012345",
        "referral_ad_photo_url": "https://scontent.xx.fbcdn.net/v/t45.1600-4/ad_n.jpg",
    }
    assert postback.kind is EventKind.MESSAGE and postback.text == "Get Started"
    assert postback.metadata["postback_payload"] == "GET_STARTED"
    assert (postback.metadata["referral_source"], postback.metadata["referral_ref"]) == ("SHORTLINK", "order_12345")


def test_a_referral_into_an_existing_thread_is_a_lifecycle_event_not_a_message() -> None:
    *_, shortlink, ad_return = parse_fixture("messenger_quick_reply_and_referrals.json")
    for event in (shortlink, ad_return):
        assert event.kind is EventKind.LIFECYCLE and event.metadata["lifecycle"] == "referral"
        assert event.sender is not None and event.sender.identity.address == PSID
        assert lifecycle_consent(event.metadata["lifecycle"]) is None  # decides no consent
    assert shortlink.metadata["referral_ref"] == "order_12345"
    assert ad_return.metadata["referral_ad_id"] == "23851234567890999"
    assert shortlink.event_id != ad_return.event_id


# --- reactions, edits, unsends ------------------------------------------------------------------------------


def test_reactions_name_the_message_and_are_never_threaded() -> None:
    react, unreact = parse_fixture("messenger_reactions.json")
    assert react.kind is EventKind.LIFECYCLE and react.metadata["lifecycle"] == "reaction"
    assert react.metadata["reaction_to"] == "m_OUT1dA2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipq"
    assert (react.metadata["reaction"], react.metadata["reaction_emoji"], react.metadata["reaction_action"]) == (
        "love", "\u2764\ufe0f", "react")
    assert unreact.metadata["reaction_action"] == "unreact" and "reaction_emoji" not in unreact.metadata
    assert react.event_id != unreact.event_id
    assert react.event_id == parse_fixture("messenger_reactions.json")[0].event_id


def test_each_edit_names_the_original_mid_and_is_its_own_event() -> None:
    first, second = parse_fixture("messenger_message_edits.json")
    original = "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P"
    for event, count in ((first, "1"), (second, "2")):
        assert event.kind is EventKind.LIFECYCLE and event.metadata["lifecycle"] == "message_edited"
        assert event.metadata["edits_mid"] == original and event.provider_message_id == original
        assert event.event_id == f"{original}#edit#{count}" and event.metadata["num_edit"] == count
    assert second.text == "hello, world! (order 12346)"
    assert original not in {first.event_id, second.event_id}  # never the original message's own inbox key


def test_an_unsent_instagram_message_names_the_original() -> None:
    [event] = parse_fixture("instagram_unsend.json")
    mid = "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1ODIyMzA0OTE0"
    assert event.kind is EventKind.LIFECYCLE and event.channel is Channel.INSTAGRAM
    assert (event.metadata["lifecycle"], event.metadata["deletes_mid"], event.event_id) == (
        "message_deleted", mid, f"{mid}#deleted")
    assert event.sender is not None and event.sender.identity.address == IGSID


# --- Instagram stories --------------------------------------------------------------------------------------


def test_story_mention_is_a_message_carrying_the_story_link() -> None:
    [event] = parse_fixture("instagram_story_mention.json")
    url = "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=17951234567890123&signature=AbCdEf"
    assert event.kind is EventKind.MESSAGE and event.text is None
    assert [(a.kind, a.url) for a in event.attachments] == [("story_mention", url)]
    assert (event.metadata["message_type"], event.metadata["story_url"]) == ("story_mention", url)


def test_story_reply_keeps_the_text_and_the_story() -> None:
    [event] = parse_fixture("instagram_story_reply.json")
    assert event.kind is EventKind.MESSAGE and event.text == "Do you ship these to Italy?"
    assert event.metadata["message_type"] == "story_reply"
    assert event.metadata["story_id"] == "17951234567890456"
    assert event.metadata["story_url"].startswith("https://lookaside.fbsbx.com/ig_messaging_cdn/")


def test_a_story_link_off_meta_hosts_is_dropped() -> None:
    body = fixture_bytes("instagram_story_reply.json").replace(b"https://lookaside.fbsbx.com", b"https://evil.example")
    [event] = parse_meta_event(signed_request(body))
    assert "story_url" not in event.metadata and event.metadata["dropped_media_url"] == "true"


# --- receipts -----------------------------------------------------------------------------------------------


def test_messenger_read_and_delivery_watermarks_cover_every_earlier_message() -> None:
    read, delivered_1, delivered_2, delivery_mark, bare_mark = parse_fixture("messenger_reads_and_deliveries.json")
    assert read.kind is EventKind.LIFECYCLE and read.metadata["lifecycle"] == "read_watermark"
    assert read.status is DeliveryStatus.READ
    assert (read.metadata["watermark"], read.metadata["watermark_ms"]) == ("2025-06-08T20:59:51.500Z",
                                                                          "1749416391500")
    assert read.sender is not None and read.sender.identity.address == PSID
    assert read.event_id == f"read:{PAGE}:{PSID}:1749416391500"
    for event, mid in ((delivered_1, "m_OUT1"), (delivered_2, "m_OUT2")):  # Meta named these: applied today
        assert event.kind is EventKind.DELIVERY_STATUS and event.status is DeliveryStatus.DELIVERED
        assert event.provider_message_id is not None and event.provider_message_id.startswith(mid)
        assert event.event_id == f"{event.provider_message_id}#delivered"
    assert delivery_mark.metadata["lifecycle"] == "delivery_watermark"
    assert delivery_mark.status is DeliveryStatus.DELIVERED
    assert bare_mark.metadata["watermark"] == "2025-06-08T20:59:53.000Z"
    assert len({e.event_id for e in (read, delivered_1, delivered_2, delivery_mark, bare_mark)}) == 5


def test_instagram_seen_names_the_message_read() -> None:
    seen, reaction = parse_fixture("instagram_seen_and_reaction.json")  # the echo is ignored
    mid = "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDA1ODIyMzA0OTAw"
    assert seen.kind is EventKind.DELIVERY_STATUS and seen.status is DeliveryStatus.READ
    assert (seen.provider_message_id, seen.event_id) == (mid, f"{mid}#read")
    assert reaction.metadata["lifecycle"] == "reaction" and reaction.channel is Channel.INSTAGRAM


# --- standby and thread control -----------------------------------------------------------------------------


def test_standby_items_are_parsed_and_marked_as_owned_by_another_app() -> None:
    message, postback, read = parse_fixture("messenger_standby.json")  # the owner app's echo is ignored
    assert message.kind is EventKind.MESSAGE and message.text == "Still waiting for a human"
    assert postback.kind is EventKind.MESSAGE and "postback_payload" not in postback.metadata
    assert read.metadata["lifecycle"] == "read_watermark"
    for event in (message, postback, read):
        assert (event.metadata["mode"], event.metadata["thread_owner"]) == ("standby", "other")


def test_thread_control_events_say_who_owns_the_thread() -> None:
    passed, taken, requested, roles = parse_fixture("messenger_handover.json")
    assert [e.metadata["lifecycle"] for e in (passed, taken, requested, roles)] == [
        "thread_control_passed", "thread_control_taken", "thread_control_requested", "app_roles"]
    assert [e.metadata.get("thread_owner") for e in (passed, taken, requested, roles)] == ["us", "other", "us", None]
    assert (passed.metadata["previous_owner_app_id"], passed.metadata["new_owner_app_id"]) == (
        "263902037430900", "1517776481860111")
    assert passed.metadata["handover_metadata"] == "escalated by bot"
    assert requested.metadata["requested_owner_app_id"] == "263902037430900"
    assert roles.sender is None and json.loads(roles.metadata["app_roles"]) == {
        "1517776481860111": ["primary_receiver"]}
    assert all(e.kind is EventKind.LIFECYCLE and lifecycle_consent(e.metadata["lifecycle"]) is None
               for e in (passed, taken, requested, roles))


# --- public: Page feed comments -----------------------------------------------------------------------------


def test_a_page_feed_comment_is_a_public_message() -> None:
    [event] = parse_fixture("page_feed_comment_add.json")
    comment_id = "122103456789012345_1029384756102938"
    assert event.kind is EventKind.MESSAGE and event.channel is Channel.MESSENGER
    assert event.text == "Third week without my refund. Really?"
    assert (event.event_id, event.provider_message_id) == (f"comment:{comment_id}", comment_id)
    assert event.sender is not None and event.sender.identity.address == "7418529630147258"
    assert event.sender.name == "Giulia Bianchi"
    assert event.occurred_at == "2025-06-08T21:00:08.000Z"
    post = f"{PAGE}_122103456789012345"
    assert {k: event.metadata[k] for k in ("public", "public_source", "post_id", "comment_id", "parent_id",
                                           "permalink", "verb")} == {
        "public": "true", "public_source": "page_feed", "post_id": post, "comment_id": comment_id,
        "parent_id": post, "permalink": "https://www.facebook.com/acmecare/posts/pfbid02Xyz123", "verb": "add"}


def test_a_reply_to_a_comment_names_its_parent() -> None:
    [event] = parse_fixture("page_feed_comment_reply.json")
    assert event.metadata["parent_id"] == "122103456789012345_1029384756102938"


def test_a_comment_edit_and_removal_name_the_comment_and_are_separate_events() -> None:
    [added] = parse_fixture("page_feed_comment_add.json")
    [edited] = parse_fixture("page_feed_comment_edited.json")
    [removed] = parse_fixture("page_feed_comment_remove.json")
    comment_id = "122103456789012345_1029384756102938"
    assert edited.kind is EventKind.LIFECYCLE and edited.metadata["lifecycle"] == "message_edited"
    assert edited.metadata["edits_mid"] == comment_id and edited.text.endswith("(order 12345). Really?")
    assert removed.metadata["lifecycle"] == "message_deleted" and removed.metadata["deletes_mid"] == comment_id
    assert removed.event_id == f"comment:{comment_id}#removed"
    assert len({added.event_id, edited.event_id, removed.event_id}) == 3
    assert edited.event_id == parse_fixture("page_feed_comment_edited.json")[0].event_id


def test_the_pages_own_comments_are_ignored_and_other_feed_items_kept_raw() -> None:
    assert parse_fixture("page_feed_own_comment.json") == []
    [reaction] = parse_fixture("page_feed_reaction.json")
    assert reaction.kind is EventKind.UNKNOWN and reaction.metadata["type"] == "feed"


# --- public: Instagram comments and mentions ----------------------------------------------------------------


def test_an_instagram_comment_is_a_public_message() -> None:
    [event] = parse_fixture("instagram_comment.json")
    assert event.kind is EventKind.MESSAGE and event.channel is Channel.INSTAGRAM
    assert (event.event_id, event.provider_message_id) == ("comment:17865799348089039", "17865799348089039")
    assert event.text == "@acmecare my parcel never arrived"
    assert event.sender is not None and event.sender.name == "giulia.b"
    assert event.metadata["public"] == "true" and event.metadata["public_source"] == "instagram_comments"
    assert (event.metadata["post_id"], event.metadata["media_product_type"]) == ("17887498072083520", "FEED")
    assert "parent_id" not in event.metadata
    [reply] = parse_fixture("instagram_comment_reply.json")
    assert reply.metadata["parent_id"] == "17865799348089039"


def test_the_accounts_own_instagram_comments_are_ignored() -> None:
    assert parse_fixture("instagram_own_comment.json") == []


def test_an_instagram_mention_is_kept_with_its_ids_for_a_lookup() -> None:
    [event] = parse_fixture("instagram_mention.json")
    assert event.kind is EventKind.UNKNOWN and event.metadata["type"] == "mention"
    assert event.event_id == "mention:17894227972186120"
    assert {k: event.metadata[k] for k in ("public", "public_source", "post_id", "comment_id", "needs_lookup",
                                           "mentioned_in")} == {
        "public": "true", "public_source": "instagram_mentions", "post_id": "17918195224117851",
        "comment_id": "17894227972186120", "needs_lookup": "true", "mentioned_in": "comment"}


# --- duplicates, forgeries, robustness ----------------------------------------------------------------------


@pytest.mark.parametrize("fixture", ["page_feed_comment_add.json", "instagram_comment.json",
                                     "instagram_story_reply.json", "messenger_reads_and_deliveries.json",
                                     "messenger_handover.json", "instagram_mention.json"])
def test_the_same_delivery_twice_yields_the_same_event_ids(fixture: str) -> None:
    assert [e.event_id for e in parse_fixture(fixture)] == [e.event_id for e in parse_fixture(fixture)]


def test_the_same_comment_in_two_batches_is_one_inbox_key() -> None:
    one = json.loads(fixture_bytes("page_feed_comment_add.json"))
    two = json.loads(fixture_bytes("page_feed_comment_add.json"))
    two["entry"][0]["time"] = 1749416999  # Meta retried later: another envelope, the same comment
    first = by_id(parse_meta_event(signed_request(json.dumps(one).encode())))
    second = by_id(parse_meta_event(signed_request(json.dumps(two).encode())))
    assert set(first) == set(second) == {"comment:122103456789012345_1029384756102938"}


@pytest.mark.parametrize("fixture", ["page_feed_comment_add.json", "messenger_handover.json", "instagram_comment.json"])
def test_forged_social_webhooks_are_refused_before_parsing(fixture: str) -> None:
    body = fixture_bytes(fixture)
    with pytest.raises(SignatureError):
        verify_meta_signature(signed_request(body, secret="not-the-app-secret"), SECRETS, NOW)
    with pytest.raises(SignatureError):
        verify_meta_signature(signed_request(body.replace(b"1749416", b"1749417")
                                             if b"1749416" in body else body + b" ",
                                             signature=signed_request(body).headers["x-hub-signature-256"]),
                              SECRETS, NOW)
    assert CHANNEL.forged_status == 401


@pytest.mark.parametrize("mutation", [
    lambda v: v.update(comment_id="c" * 600),  # an id no key may hold
    lambda v: v.update(**{"from": "nobody"}),
    lambda v: v.pop("message"),
])
def test_a_malformed_comment_never_sinks_the_batch(mutation: object) -> None:
    data = json.loads(fixture_bytes("page_feed_comment_add.json"))
    bad = json.loads(json.dumps(data["entry"][0]["changes"][0]))
    mutation(bad["value"])  # type: ignore[operator]
    data["entry"][0]["changes"].insert(0, bad)
    events = parse_meta_event(signed_request(json.dumps(data).encode()))
    assert len(events) == 2 and events[-1].kind is EventKind.MESSAGE
    assert events[0].kind is EventKind.UNKNOWN and events[0].event_id != events[-1].event_id


def test_a_comment_time_that_is_no_date_falls_back_to_reception() -> None:
    body = fixture_bytes("page_feed_comment_add.json").replace(b'"created_time": 1749416408', b'"created_time": "soon"')
    [event] = parse_meta_event(signed_request(body))
    assert event.kind is EventKind.MESSAGE and event.occurred_at == RECEIVED_AT


# --- simulator ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("channel", "kind", "expected"), [
    ("messenger", "dm", EventKind.MESSAGE), ("messenger", "comment", EventKind.MESSAGE),
    ("instagram", "dm", EventKind.MESSAGE), ("instagram", "comment", EventKind.MESSAGE),
    ("instagram", "mention", EventKind.UNKNOWN),
])
def test_simulated_social_requests_verify_and_parse(channel: str, kind: str, expected: EventKind) -> None:
    simulated = simulate_meta_social(SECRETS, "7418529630147258", "my parcel is late", channel=channel, kind=kind,
                                     name="Giulia")
    request = WebhookRequest(method=simulated.method, path=simulated.path, body=simulated.body, received_at=RECEIVED_AT,
                             headers={k.lower(): v for k, v in simulated.headers.items()})
    verify_meta_signature(request, SECRETS, NOW)
    [event] = parse_meta_event(request)
    assert event.kind is expected and event.channel is Channel(channel)
    assert (event.metadata.get("public") == "true") is (kind != "dm")
    if expected is EventKind.MESSAGE:
        assert event.text == "my parcel is late"
        assert event.sender is not None and event.sender.identity.address == "7418529630147258"


def test_the_simulator_refuses_a_kind_the_channel_has_not() -> None:
    with pytest.raises(ValueError, match="not 'mention'"):
        simulate_meta_social(SECRETS, "7418529630147258", "hi", channel="messenger", kind="mention")
