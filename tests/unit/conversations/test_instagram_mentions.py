"""Instagram mentions in the worker: looked up through Graph (the in-memory twin), then a message of the
customer's public conversation about the post; a failed lookup retries, a refused one stays unknown.

The webhook is Meta's documented ``mentions`` payload (tests/fixtures/meta/instagram_mention.json).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.adapters.memory import MemoryBus, MemoryStore, memory_repositories
from chalicelib.adapters.memory.mentions import InMemoryMentionLookup
from chalicelib.conversations.inbound import WorkerPorts, handle_inbound_event
from chalicelib.core.errors import RetryableError
from chalicelib.core.model import Channel, Identity, InboundEvent
from chalicelib.core.ports import Repositories
from chalicelib.providers.base import WebhookRequest
from chalicelib.providers.meta import parse_meta_event
from chalicelib.providers.meta.mentions import MentionQuery
from tests.unit.conftest import test_id_key

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "meta" / "instagram_mention.json"
IG_USER = "17841405822304914"
MEDIA = "17918195224117851"
COMMENT = "17894227972186120"
COMMENTER = "1234567890123456"


def mention(*, caption: bool = False) -> InboundEvent:
    data = json.loads(FIXTURE.read_text())
    if caption:
        del data["entry"][0]["changes"][0]["value"]["comment_id"]
    request = WebhookRequest(method="POST", path="/webhooks/meta", headers={}, body=json.dumps(data).encode(),
                             received_at="2025-06-08T21:00:10.000Z")
    [event] = parse_meta_event(request)
    return event


@pytest.fixture
def repos() -> Repositories:
    return memory_repositories(MemoryStore())


@pytest.fixture
def graph() -> InMemoryMentionLookup:
    return InMemoryMentionLookup(
        comments={COMMENT: {"id": COMMENT, "text": "@brand my order never arrived",
                            "timestamp": "2025-06-08T20:59:00+0000",
                            "username": "jane.doe", "from": {"id": COMMENTER, "username": "jane.doe"},
                            "media": {"id": MEDIA, "permalink": "https://www.instagram.com/p/DKq1/"}}},
        media={MEDIA: {"id": MEDIA, "caption": "Unboxing my @brand parcel", "username": "mark.r",
                       "permalink": "https://www.instagram.com/p/DKq2/", "timestamp": "2025-06-08T20:58:00+0000"}})


@pytest.fixture
def ports(repos: Repositories, graph: InMemoryMentionLookup) -> WorkerPorts:
    return WorkerPorts(repos=repos, bus=MemoryBus(), id_key=test_id_key, mentions=graph)  # type: ignore[arg-type]


def handled(repos: Repositories, ports: WorkerPorts, event: InboundEvent) -> str:
    repos.inbox.put(event, endpoint="meta", received_at="2025-06-08T21:00:10.000Z", raw_body=b"{}",
                    content_type="application/json")
    return handle_inbound_event(event.inbox_key, ports)


def messages_of(repos: Repositories, event: InboundEvent) -> tuple[str, list[str]]:
    record = repos.inbox.get(event.inbox_key)
    assert record is not None and record.thread is not None
    found = repos.conversations.get_with_messages(record.thread.conversation_id)
    assert found is not None
    conversation, messages = found
    assert conversation.public and conversation.post_id == MEDIA
    return conversation.id, [m.text or "" for m in messages]


def test_the_query_asks_for_the_mentioned_comment_or_media() -> None:
    assert MentionQuery(IG_USER, COMMENT, MEDIA).fields() == (
        f"mentioned_comment.comment_id({COMMENT}){{id,text,timestamp,username,from,media{{id,permalink}}}}")
    assert MentionQuery(IG_USER, None, MEDIA).fields() == (
        f"mentioned_media.media_id({MEDIA}){{id,caption,permalink,username,timestamp}}")


def test_a_comment_mention_becomes_a_message_of_the_commenters_public_conversation(
        repos: Repositories, ports: WorkerPorts, graph: InMemoryMentionLookup) -> None:
    event = mention()
    assert handled(repos, ports, event).startswith("routed")
    assert graph.calls == [(IG_USER, COMMENT, MEDIA)]
    _, texts = messages_of(repos, event)
    assert texts == ["@brand my order never arrived"]
    assert repos.customers.identity_owner(Identity(Channel.INSTAGRAM, COMMENTER))


def test_a_caption_mention_is_the_posts_author_by_username(repos: Repositories, ports: WorkerPorts) -> None:
    event = mention(caption=True)
    assert handled(repos, ports, event).startswith("routed")
    _, texts = messages_of(repos, event)
    assert texts == ["Unboxing my @brand parcel"]
    assert repos.customers.identity_owner(Identity(Channel.INSTAGRAM, "@mark.r"))


def test_a_duplicate_mention_is_one_message(repos: Repositories, ports: WorkerPorts) -> None:
    event = mention()
    handled(repos, ports, event)
    handle_inbound_event(event.inbox_key, ports)  # the queue redelivers
    assert handled(repos, ports, mention()).startswith("routed")  # Meta redelivers the webhook
    _, texts = messages_of(repos, event)
    assert texts == ["@brand my order never arrived"]


def test_a_failed_lookup_retries_then_threads(repos: Repositories, ports: WorkerPorts,
                                             graph: InMemoryMentionLookup) -> None:
    event = mention()
    graph.fail_next = 1
    with pytest.raises(RetryableError):
        handled(repos, ports, event)
    record = repos.inbox.get(event.inbox_key)
    assert record is not None and record.thread is None
    assert handle_inbound_event(event.inbox_key, ports).startswith("routed")
    assert messages_of(repos, event)[1] == ["@brand my order never arrived"]


def test_a_refused_lookup_stays_unknown(repos: Repositories, ports: WorkerPorts,
                                       graph: InMemoryMentionLookup) -> None:
    graph.comments.clear()
    event = mention()
    assert handled(repos, ports, event) == "mention_unresolved"
    record = repos.inbox.get(event.inbox_key)
    assert record is not None and record.thread is None and record.event.metadata["needs_lookup"] == "true"


def test_without_a_lookup_port_mentions_stay_unknown(repos: Repositories) -> None:
    ports = WorkerPorts(repos=repos, bus=MemoryBus(), id_key=test_id_key)  # type: ignore[arg-type]
    assert handled(repos, ports, mention()) == "ignored"
