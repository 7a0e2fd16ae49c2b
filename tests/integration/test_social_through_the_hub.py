"""Social care through the app, moto and the provider sandbox: comments and mentions become public
conversations, replies reach the Graph API and the X API exactly as they expect, and what must be
refused is refused (forgeries, duplicates, a thread another app owns, a closed window).

Payloads are Meta's and X's documented ones (tests/fixtures/meta, tests/fixtures/x), re-dated where a
window depends on it, and signed with the test secrets as the providers sign them.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.providers.meta.signature import sign_meta_payload
from chalicelib.providers.x import SIGNATURE_HEADER, sign_x_payload
from devstack.sandbox import sandbox_environment, start_sandbox
from tests.conftest import TEST_SECRETS, Hub

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SUPPORT = {"x-api-key": "support-key", "Content-Type": "application/json"}
PAGE = "106445795700891"
FB_COMMENT = "122103456789012345_1029384756102938"
FB_AUTHOR = "7418529630147258"
IG_COMMENT = "17865799348089039"
TWEET = "1931780000000000001"
X_AUTHOR = "1497230178432225283"


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server, url = start_sandbox(0)
    for key, value in sandbox_environment(url).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("META_ACCESS_TOKEN", "test-meta-access")
    monkeypatch.setenv("X_BEARER_TOKEN", "test-x-user-token")
    yield url
    server.shutdown()


@pytest.fixture
def wired(hub: Hub, sandbox: str) -> Hub:
    from chalicelib.adapters import runtime

    runtime.reset()
    hub.app_module._outbound_ports.cache_clear()
    return hub


def outbox(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/_sandbox/outbox", timeout=10) as response:
        return list(json.loads(response.read()))


def fixture(provider: str, name: str, *, recent: bool = False) -> bytes:
    text = (FIXTURES / provider / name).read_text()
    if recent:  # the comment was written a minute ago (Meta's private replies close 7 days after it)
        now = int(time.time()) - 60
        text = text.replace("1749416408000", str(now * 1000)).replace("1749416408", str(now))
        text = text.replace("1749416410", str(now))
        text = text.replace("1749416383001", str(now * 1000))
    return text.encode()


def post_meta(hub: Hub, body: bytes, secret: str = TEST_SECRETS["META_APP_SECRET"]) -> Any:
    return hub.client.http.post("/webhooks/meta", body=body, headers={
        "Content-Type": "application/json", "X-Hub-Signature-256": sign_meta_payload(secret, body)})


def post_x(hub: Hub, body: bytes, secret: str = TEST_SECRETS["X_CONSUMER_SECRET"]) -> Any:
    return hub.client.http.post("/webhooks/x", body=body, headers={
        "Content-Type": "application/json", SIGNATURE_HEADER: sign_x_payload(secret, body)})


def conversations_of(hub: Hub, channel: str, address: str) -> list[dict[str, Any]]:
    found = hub.client.http.get(f"/customers/lookup?channel={channel}&address={address}", headers=SUPPORT)
    assert found.status_code == 200, found.body
    return [json.loads(hub.client.http.get(f"/conversations/{cid}", headers=SUPPORT).body)
            for cid in json.loads(found.body)["conversation_ids"]]


def reply(hub: Hub, conversation_id: str, body: dict[str, Any], key: str | None = None) -> Any:
    headers = {**SUPPORT, **({"Idempotency-Key": key} if key else {})}
    return hub.client.http.post(f"/conversations/{conversation_id}/messages", body=json.dumps(body), headers=headers)


def sent_to(sandbox: str, provider: str) -> list[dict[str, Any]]:
    return [record for record in outbox(sandbox) if record["provider"] == provider]


# --- public conversations -----------------------------------------------------------------------------------
def test_a_page_comment_is_a_public_conversation_shown_with_its_post(wired: Hub, sandbox: str) -> None:
    body = fixture("meta", "page_feed_comment_add.json")
    for _ in range(2):  # Meta redelivers: one comment id, one message
        assert post_meta(wired, body).status_code == 200
    wired.pump.drain()
    [conversation] = conversations_of(wired, "messenger", FB_AUTHOR)
    assert conversation["public"] is True
    assert conversation["post_id"] == f"{PAGE}_122103456789012345"
    assert conversation["permalink"] == "https://www.facebook.com/acmecare/posts/pfbid02Xyz123"
    assert [m["text"] for m in conversation["messages"]] == ["Third week without my refund. Really?"]
    assert sent_to(sandbox, "meta") == []  # no automatic public acknowledgment by default


def test_a_forged_comment_is_refused_and_nothing_is_stored(wired: Hub) -> None:
    response = post_meta(wired, fixture("meta", "page_feed_comment_add.json"), secret="not-the-app-secret")
    assert response.status_code in (401, 403)
    forged_mention = post_x(wired, fixture("x", "tweet_mention.json"), secret="not-the-consumer-secret")
    assert forged_mention.status_code in (401, 403)
    assert wired.table_items() == []


def test_a_public_reply_answers_the_comment_with_exactly_the_graph_request(wired: Hub, sandbox: str) -> None:
    post_meta(wired, fixture("meta", "page_feed_comment_add.json"))
    wired.pump.drain()
    [conversation] = conversations_of(wired, "messenger", FB_AUTHOR)
    accepted = reply(wired, conversation["id"], {"text": "Sorry Giulia, we're checking your refund."}, "r1")
    assert accepted.status_code == 202, accepted.body
    wired.pump.drain()
    [record] = sent_to(sandbox, "meta")
    assert (record["method"], record["path"]) == ("POST", f"/v21.0/{FB_COMMENT}/comments")
    assert record["body"] == {"message": "Sorry Giulia, we're checking your refund."}
    [conversation] = conversations_of(wired, "messenger", FB_AUTHOR)
    [answer] = [m for m in conversation["messages"] if m["direction"] == "outbound"]
    assert answer["status"] == "sent" and answer["provider_message_id"] == record["response"]["body"]["id"]


def test_a_private_reply_to_a_comment_is_a_message_to_the_comment(wired: Hub, sandbox: str) -> None:
    post_meta(wired, fixture("meta", "page_feed_comment_add.json", recent=True))
    wired.pump.drain()
    [conversation] = conversations_of(wired, "messenger", FB_AUTHOR)
    accepted = reply(wired, conversation["id"], {"text": "We've written to you in private.", "private": True})
    assert accepted.status_code == 202, accepted.body
    wired.pump.drain()
    [record] = sent_to(sandbox, "meta")
    assert (record["method"], record["path"]) == ("POST", f"/v21.0/{PAGE}/messages")
    assert record["body"] == {"recipient": {"comment_id": FB_COMMENT},
                              "message": {"text": "We've written to you in private."}}


def test_a_private_reply_a_week_after_the_comment_is_refused_with_the_reason(wired: Hub, sandbox: str) -> None:
    post_meta(wired, fixture("meta", "page_feed_comment_add.json"))  # written in June 2025
    wired.pump.drain()
    [conversation] = conversations_of(wired, "messenger", FB_AUTHOR)
    refused = reply(wired, conversation["id"], {"text": "Hello", "private": True})
    assert refused.status_code == 409
    assert "7 days" in json.loads(refused.body)["reason"]
    wired.pump.drain()
    assert sent_to(sandbox, "meta") == []


def test_an_instagram_comment_is_answered_under_it(wired: Hub, sandbox: str) -> None:
    post_meta(wired, fixture("meta", "instagram_comment.json"))
    wired.pump.drain()
    [conversation] = conversations_of(wired, "instagram", "232323232")
    assert conversation["public"] is True and conversation["post_id"] == "17887498072083520"
    assert reply(wired, conversation["id"], {"text": "We're on it!"}).status_code == 202
    wired.pump.drain()
    [record] = sent_to(sandbox, "meta")
    assert (record["path"], record["body"]) == (f"/v21.0/{IG_COMMENT}/replies", {"message": "We're on it!"})


def test_an_instagram_private_reply_leaves_from_the_tokens_page(wired: Hub, sandbox: str) -> None:
    post_meta(wired, fixture("meta", "instagram_comment.json", recent=True))
    wired.pump.drain()
    [conversation] = conversations_of(wired, "instagram", "232323232")
    assert reply(wired, conversation["id"], {"text": "Check your inbox", "private": True}).status_code == 202
    wired.pump.drain()
    [record] = sent_to(sandbox, "meta")
    assert (record["path"], record["body"]) == (
        "/v21.0/me/messages", {"recipient": {"comment_id": IG_COMMENT}, "message": {"text": "Check your inbox"}})


# --- X --------------------------------------------------------------------------------------------------------
def test_an_x_mention_is_answered_with_a_reply_post_or_a_dm(wired: Hub, sandbox: str) -> None:
    body = fixture("x", "tweet_mention.json")
    assert post_x(wired, body).status_code == 200
    assert post_x(wired, body).status_code == 200  # the same tweet id again
    wired.pump.drain()
    [conversation] = conversations_of(wired, "x", X_AUTHOR)
    assert conversation["public"] is True and len(conversation["messages"]) == 1
    assert conversation["permalink"] == f"https://x.com/giulia_b/status/{TWEET}"
    assert reply(wired, conversation["id"], {"text": "@giulia_b sorry, checking now"}).status_code == 202
    assert reply(wired, conversation["id"], {"text": "Your refund is on its way", "private": True}).status_code == 202
    wired.pump.drain()
    by_path = {record["path"]: record for record in sent_to(sandbox, "x")}
    assert set(by_path) == {"/2/tweets", f"/2/dm_conversations/with/{X_AUTHOR}/messages"}
    public, private = by_path["/2/tweets"], by_path[f"/2/dm_conversations/with/{X_AUTHOR}/messages"]
    assert public["body"] == {"text": "@giulia_b sorry, checking now", "reply": {"in_reply_to_tweet_id": TWEET}}
    assert private["body"] == {"text": "Your refund is on its way"}


# --- direct messages: windows and thread ownership ------------------------------------------------------------
def test_a_thread_another_app_took_refuses_replies_until_it_comes_back(wired: Hub, sandbox: str) -> None:
    post_meta(wired, fixture("meta", "messenger_message.json", recent=True))
    wired.pump.drain()
    [conversation] = conversations_of(wired, "messenger", "6543210987654321")
    handover = json.loads(fixture("meta", "messenger_handover.json"))
    now_ms = int(time.time() * 1000)
    passed, taken = handover["entry"][0]["messaging"][:2]
    taken["timestamp"], passed["timestamp"] = now_ms - 1000, now_ms
    post_meta(wired, json.dumps({"object": "page", "entry": [{**handover["entry"][0], "messaging": [taken]}]}).encode())
    wired.pump.drain()
    refused = reply(wired, conversation["id"], {"text": "Hello"})
    assert refused.status_code == 409 and "Handover" in json.loads(refused.body)["reason"]
    entry = handover["entry"][0]
    post_meta(wired, json.dumps({"object": "page", "entry": [{**entry, "messaging": [passed]}]}).encode())
    wired.pump.drain()
    assert reply(wired, conversation["id"], {"text": "Hello again"}).status_code == 202
