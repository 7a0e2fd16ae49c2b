"""Public comments, mentions and reply posts in the conversation worker: one public conversation per
customer and post, never the customer's direct conversation; the account's own posts never reach it.

Events come from the providers' documented payloads (tests/fixtures/meta, tests/fixtures/x) through the
real parsers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.adapters.memory import MemoryBus, MemoryStore, memory_repositories
from chalicelib.conversations.inbound import WorkerPorts, handle_inbound_event
from chalicelib.conversations.public import public_thread_key
from chalicelib.core.model import ConversationStatus, EventKind, InboundEvent
from chalicelib.core.ports import Repositories
from chalicelib.core.timestamps import utc_now
from chalicelib.providers.base import WebhookRequest
from chalicelib.providers.meta import parse_meta_event
from chalicelib.providers.x import parse_x_event
from tests.unit.conftest import test_id_key

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
RECEIVED_AT = "2025-06-08T21:00:10.000Z"
FB_POST = "106445795700891_122103456789012345"


def parsed(provider: str, name: str, body: bytes | None = None) -> list[InboundEvent]:
    raw = body if body is not None else (FIXTURES / provider / name).read_bytes()
    request = WebhookRequest(method="POST", path=f"/webhooks/{provider}", headers={}, body=raw,
                             received_at=RECEIVED_AT)
    return parse_meta_event(request) if provider == "meta" else parse_x_event(request)


@pytest.fixture
def repos() -> Repositories:
    return memory_repositories(MemoryStore())


@pytest.fixture
def ports(repos: Repositories) -> WorkerPorts:
    return WorkerPorts(repos=repos, bus=MemoryBus(), id_key=test_id_key)  # type: ignore[arg-type]


def handled(repos: Repositories, ports: WorkerPorts, event: InboundEvent, received_at: str = RECEIVED_AT) -> str:
    repos.inbox.put(event, endpoint=event.provider, received_at=received_at, raw_body=b"{}",
                    content_type="application/json")
    return handle_inbound_event(event.inbox_key, ports)


def conversation_of(repos: Repositories, event: InboundEvent) -> str:
    record = repos.inbox.get(event.inbox_key)
    assert record is not None and record.thread is not None
    return record.thread.conversation_id


def test_a_page_comment_opens_a_public_conversation_with_its_post(repos: Repositories, ports: WorkerPorts) -> None:
    [comment] = parsed("meta", "page_feed_comment_add.json")
    assert handled(repos, ports, comment).startswith("routed+")
    found = repos.conversations.get_with_messages(conversation_of(repos, comment))
    assert found is not None
    conversation, messages = found
    api = conversation.to_api(messages)
    assert api["public"] is True and api["channel"] == "messenger"
    assert api["post_id"] == FB_POST
    assert api["permalink"] == "https://www.facebook.com/acmecare/posts/pfbid02Xyz123"
    assert [m["text"] for m in api["messages"]] == ["Third week without my refund. Really?"]
    assert api["messages"][0]["provider_message_id"] == "122103456789012345_1029384756102938"
    customer = repos.customers.get(conversation.customer_id)
    assert customer is not None and customer.open_conversation_id is None  # the direct pointer is untouched


def test_a_second_comment_on_the_same_post_joins_and_a_redelivery_is_one_message(
    repos: Repositories, ports: WorkerPorts
) -> None:
    [first] = parsed("meta", "page_feed_comment_add.json")
    [second] = parsed("meta", "page_feed_comment_reply.json")
    handled(repos, ports, first)
    handled(repos, ports, second, "2025-06-08T21:02:00.000Z")
    handled(repos, ports, second, "2025-06-08T21:02:00.000Z")  # the queue redelivers
    assert conversation_of(repos, first) == conversation_of(repos, second)
    found = repos.conversations.get_with_messages(conversation_of(repos, first))
    assert found is not None and [m.text for m in found[1]] == [
        "Third week without my refund. Really?", "Still nothing, DM'd you"]


def test_a_direct_message_and_a_public_comment_of_one_customer_stay_apart(
    repos: Repositories, ports: WorkerPorts
) -> None:
    [comment] = parsed("meta", "page_feed_comment_add.json")
    direct = InboundEvent(provider="meta", event_id="m_direct_1", kind=EventKind.MESSAGE, channel=comment.channel,
                          occurred_at=comment.occurred_at, sender=comment.sender, text="Hello in private",
                          provider_message_id="m_direct_1", metadata={"page_id": "106445795700891"})
    handled(repos, ports, direct)
    handled(repos, ports, comment)
    public_id, direct_id = conversation_of(repos, comment), conversation_of(repos, direct)
    assert public_id != direct_id
    public, private = repos.conversations.get(public_id), repos.conversations.get(direct_id)
    assert public is not None and public.public and private is not None and not private.public
    customer = repos.customers.get(public.customer_id)
    assert customer is not None and customer.open_conversation_id == direct_id
    assert public.customer_id == private.customer_id


def test_a_comment_after_the_public_conversation_was_resolved_opens_the_next_one(
    repos: Repositories, ports: WorkerPorts
) -> None:
    [first] = parsed("meta", "page_feed_comment_add.json")
    [second] = parsed("meta", "page_feed_comment_reply.json")
    handled(repos, ports, first)
    repos.conversations.set_status(conversation_of(repos, first), ConversationStatus.RESOLVED, utc_now())
    handled(repos, ports, second)
    assert conversation_of(repos, second) != conversation_of(repos, first)
    reopened = repos.conversations.get(conversation_of(repos, second))
    assert reopened is not None and reopened.public and reopened.status is ConversationStatus.OPEN
    assert reopened.post_id == FB_POST


def test_instagram_comment_is_a_public_conversation_about_its_media(repos: Repositories, ports: WorkerPorts) -> None:
    [comment] = parsed("meta", "instagram_comment.json")
    handled(repos, ports, comment)
    conversation = repos.conversations.get(conversation_of(repos, comment))
    assert conversation is not None and conversation.public and conversation.channel.value == "instagram"
    assert conversation.post_id == "17887498072083520"


def test_an_x_mention_is_a_public_conversation_with_the_posts_permalink(
    repos: Repositories, ports: WorkerPorts
) -> None:
    [mention] = parsed("x", "tweet_mention.json")
    handled(repos, ports, mention)
    handled(repos, ports, mention)
    conversation = repos.conversations.get(conversation_of(repos, mention))
    assert conversation is not None and conversation.public and conversation.channel.value == "x"
    assert conversation.post_id == "1931780000000000001"
    assert conversation.permalink == "https://x.com/giulia_b/status/1931780000000000001"
    found = repos.conversations.get_with_messages(conversation.id)
    assert found is not None and len(found[1]) == 1


def test_an_x_reply_threads_on_the_post_it_answers() -> None:
    [reply] = parsed("x", "tweet_reply.json")
    assert reply.metadata["in_reply_to"] and public_thread_key(reply) == f"x#{reply.metadata['in_reply_to']}"


@pytest.mark.parametrize(("provider", "name"), [
    ("meta", "page_feed_own_comment.json"), ("meta", "instagram_own_comment.json"),
    ("x", "tweet_own_and_retweet.json"),
])
def test_the_accounts_own_comments_and_posts_never_reach_the_worker(provider: str, name: str) -> None:
    assert [e for e in parsed(provider, name) if e.kind is EventKind.MESSAGE] == []


# --- acknowledgments ---------------------------------------------------------------------------------------
def _jobs(repos: Repositories, conversation_id: str) -> list[dict[str, object]]:
    store = repos.messages.store  # type: ignore[attr-defined]  # the memory twin
    return [entry.job for key, entry in store.messages.items() if key[0] == conversation_id and entry.job]


def test_a_public_conversation_is_not_acknowledged_by_default(repos: Repositories) -> None:
    from chalicelib.acknowledgments import load_policy

    policy = load_policy()
    assert policy.acknowledge_public is False  # the documented default of acknowledgments.v1.json
    ports = WorkerPorts(repos=repos, bus=MemoryBus(), ack_policy=policy, id_key=test_id_key)  # type: ignore[arg-type]
    [comment] = parsed("meta", "page_feed_comment_add.json")
    comment = _recent(comment)
    assert handled(repos, ports, comment, comment.occurred_at) == "routed+not_acknowledged:public_conversation"
    assert _jobs(repos, conversation_of(repos, comment)) == []


def test_when_configured_a_public_acknowledgment_is_a_comment_reply(repos: Repositories) -> None:
    from dataclasses import replace

    from chalicelib.acknowledgments import load_policy

    policy = replace(load_policy(), acknowledge_public=True)
    ports = WorkerPorts(repos=repos, bus=MemoryBus(), ack_policy=policy, id_key=test_id_key)  # type: ignore[arg-type]
    [comment] = parsed("meta", "page_feed_comment_add.json")
    comment = _recent(comment)
    assert handled(repos, ports, comment, comment.occurred_at) == "routed+acknowledgment_queued"
    [job] = _jobs(repos, conversation_of(repos, comment))
    assert job["reply_to"] == {"kind": "public", "id": "122103456789012345_1029384756102938",
                               "created_at": comment.occurred_at}
    assert job["sender_hints"] == {"page_id": "106445795700891"}


def _recent(event: InboundEvent) -> InboundEvent:
    """The fixture's event as if written a second ago (an old one is never acknowledged)."""
    from dataclasses import replace

    return replace(event, occurred_at=utc_now())


def test_acknowledge_public_must_be_a_boolean() -> None:
    import json

    from chalicelib.acknowledgments import AckConfigError, parse_policy
    from chalicelib.acknowledgments.config import DEFAULT_CONFIG_PATH

    data = json.loads(DEFAULT_CONFIG_PATH.read_text())
    assert parse_policy({**data, "acknowledge_public": True}).acknowledge_public is True
    with pytest.raises(AckConfigError, match="acknowledge_public"):
        parse_policy({**data, "acknowledge_public": "yes"})


def test_the_stored_message_shows_what_the_agent_acts_on(repos: Repositories, ports: WorkerPorts) -> None:
    quick, ad, *_ = parsed("meta", "messenger_quick_reply_and_referrals.json")
    [story_reply] = parsed("meta", "instagram_story_reply.json")
    [comment] = parsed("meta", "page_feed_comment_add.json")
    shown = {}
    for event in (quick, ad, story_reply, comment):
        handled(repos, ports, event)
        found = repos.conversations.get_with_messages(conversation_of(repos, event))
        assert found is not None
        shown[event.event_id] = next(m for m in found[1] if m.provider_message_id == event.provider_message_id)
    assert shown[quick.event_id].to_api()["metadata"]["quick_reply_payload"] == "TRACK_ORDER"
    assert shown[ad.event_id].metadata["referral_source"] == "ADS"
    assert shown[story_reply.event_id].metadata["message_type"] == "story_reply"
    assert shown[story_reply.event_id].metadata["story_url"].startswith("https://")
    public = shown[comment.event_id].metadata
    assert (public["public"], public["comment_id"], public["post_id"]) == (
        "true", "122103456789012345_1029384756102938", FB_POST)
    assert "verb" not in public and "field" not in public  # only the listed facts
