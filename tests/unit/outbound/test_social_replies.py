"""Replies to comments and posts: the job's ``reply_to``, Meta's windows for it, and the exact requests.

The requests go to the provider sandbox (devstack/sandbox/) on loopback, which answers like the
Graph API and the X API v2 and records what it received.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from chalicelib.core.errors import ModelError
from chalicelib.core.model import Channel, DeliveryStatus
from chalicelib.core.timestamps import parse_timestamp
from chalicelib.outbound.errors import WindowClosed
from chalicelib.outbound.job import OutboundJob, OutboundKind, ReplyKind, ReplyTarget
from chalicelib.outbound.rules import HUMAN_AGENT_TAG, check_channel_rules
from chalicelib.outbound.senders.meta import MetaSender
from chalicelib.outbound.senders.x import XSender
from devstack.sandbox import start_sandbox

SCHEMA = json.loads((Path(__file__).resolve().parents[3] / "schemas" / "omnihub.outbound.v1.json").read_text())
COMMENT_WRITTEN = "2026-11-20T10:00:00.000Z"
FB_COMMENT = "122103456789012345_1029384756102938"
IG_COMMENT = "17865799348089039"
POST = "1931780000000000001"


def reply(kind: ReplyKind, target: str = FB_COMMENT, created_at: str | None = COMMENT_WRITTEN) -> ReplyTarget:
    return ReplyTarget(kind=kind, id=target, created_at=created_at)


def at(timestamp: str, **delta: float) -> datetime:
    return parse_timestamp(timestamp) + timedelta(**delta)


# --- the job ------------------------------------------------------------------------------------------------


def test_reply_to_round_trips_and_validates(make_job: Any) -> None:
    job = make_job(channel=Channel.INSTAGRAM, provider="meta", to="1254459154682919", kind=OutboundKind.AGENT_REPLY,
                   reply_to=reply(ReplyKind.PRIVATE, IG_COMMENT))
    document = job.to_dict()
    jsonschema.Draft202012Validator(SCHEMA).validate(document)
    assert document["reply_to"] == {"kind": "private", "id": IG_COMMENT, "created_at": COMMENT_WRITTEN}
    assert OutboundJob.from_dict(json.loads(json.dumps(document))) == job


def test_a_job_without_reply_to_serializes_as_before(make_job: Any) -> None:
    document = make_job().to_dict()
    assert "reply_to" not in document
    assert OutboundJob.from_dict(document).reply_to is None


@pytest.mark.parametrize("bad", [{"kind": "loud", "id": "1"}, {"kind": "public", "id": ""},
                                 {"kind": "public", "id": "1" * 201}, {"kind": "public", "id": "1", "created_at": "x"}])
def test_bad_reply_targets_are_refused_by_model_and_schema(make_job: Any, bad: dict[str, str]) -> None:
    document = {**make_job().to_dict(), "reply_to": bad}
    with pytest.raises(ModelError):
        OutboundJob.from_dict(document)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(document)


# --- Meta's windows ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("channel", [Channel.MESSENGER, Channel.INSTAGRAM])
def test_a_public_comment_reply_has_no_messaging_window(make_job: Any, channel: Channel) -> None:
    job = make_job(channel=channel, provider="meta", to="7418529630147258", kind=OutboundKind.AGENT_REPLY,
                   customer_last_inbound_at=COMMENT_WRITTEN, reply_to=reply(ReplyKind.PUBLIC))
    checked = check_channel_rules(job, at(COMMENT_WRITTEN, days=30))
    assert checked.messaging_tag is None and checked.reply_to == job.reply_to


@pytest.mark.parametrize("channel", [Channel.MESSENGER, Channel.INSTAGRAM])
def test_a_private_reply_is_allowed_for_7_days_after_the_comment(make_job: Any, channel: Channel) -> None:
    job = make_job(channel=channel, provider="meta", to="7418529630147258", kind=OutboundKind.AGENT_REPLY,
                   customer_last_inbound_at=COMMENT_WRITTEN, reply_to=reply(ReplyKind.PRIVATE))
    assert check_channel_rules(job, at(COMMENT_WRITTEN, days=6, hours=23)).messaging_tag is None
    with pytest.raises(WindowClosed) as refused:
        check_channel_rules(job, at(COMMENT_WRITTEN, days=7))
    assert "7 days of the comment" in str(refused.value)


def test_the_private_reply_window_counts_from_the_comment_not_the_last_message(make_job: Any) -> None:
    job = make_job(channel=Channel.MESSENGER, provider="meta", to="7418529630147258", kind=OutboundKind.AGENT_REPLY,
                   customer_last_inbound_at="2026-11-29T10:00:00.000Z", reply_to=reply(ReplyKind.PRIVATE))
    with pytest.raises(WindowClosed):
        check_channel_rules(job, at(COMMENT_WRITTEN, days=8))


def test_direct_messages_keep_the_24_hour_and_human_agent_windows(make_job: Any) -> None:
    job = make_job(channel=Channel.MESSENGER, provider="meta", to="6543210987654321", kind=OutboundKind.AGENT_REPLY)
    last = job.customer_last_inbound_at
    assert check_channel_rules(job, at(last, hours=23)).messaging_tag is None
    assert check_channel_rules(job, at(last, days=3)).messaging_tag == HUMAN_AGENT_TAG
    with pytest.raises(WindowClosed):
        check_channel_rules(job, at(last, days=7, seconds=1))


# --- the requests, against the sandbox ---------------------------------------------------------------------------


class Sandbox:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def last(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.base_url + "/_sandbox/outbox", timeout=5) as response:
            records = json.loads(response.read())
        assert records, "the sandbox received nothing"
        return records[-1]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    server, base_url = start_sandbox(port=0)
    try:
        yield Sandbox(base_url)
    finally:
        server.shutdown()
        server.server_close()


def test_a_public_reply_to_a_page_comment(sandbox: Sandbox, make_job: Any) -> None:
    job = make_job(channel=Channel.MESSENGER, provider="meta", to="7418529630147258", kind=OutboundKind.AGENT_REPLY,
                   text="Sorry Giulia, we've sent you a message.", reply_to=reply(ReplyKind.PUBLIC))
    result = MetaSender(access_token="meta-token", base_url=sandbox.base_url).send(job)
    record = sandbox.last()
    assert (record["provider"], record["method"], record["path"]) == ("meta", "POST", f"/v21.0/{FB_COMMENT}/comments")
    assert record["body"] == {"message": "Sorry Giulia, we've sent you a message."}
    assert record["auth"]["scheme"] == "bearer"
    assert result.status is DeliveryStatus.SENT
    assert result.provider_message_id == record["response"]["body"]["id"]


def test_a_public_reply_to_an_instagram_comment(sandbox: Sandbox, make_job: Any) -> None:
    job = make_job(channel=Channel.INSTAGRAM, provider="meta", to="232323232", kind=OutboundKind.AGENT_REPLY,
                   text="We're on it!", reply_to=reply(ReplyKind.PUBLIC, IG_COMMENT))
    result = MetaSender(access_token="meta-token", base_url=sandbox.base_url).send(job)
    record = sandbox.last()
    assert record["path"] == f"/v21.0/{IG_COMMENT}/replies"
    assert record["body"] == {"message": "We're on it!"}
    assert result.provider_message_id == record["response"]["body"]["id"]


@pytest.mark.parametrize(("channel", "comment", "hints", "node"), [
    (Channel.MESSENGER, FB_COMMENT, {"page_id": "106445795700891"}, "106445795700891"),
    (Channel.INSTAGRAM, IG_COMMENT, {}, "me"),
    # The Instagram account id the webhook names is not a Page: the token's Page sends.
    (Channel.INSTAGRAM, IG_COMMENT, {"page_id": "17841405822304914"}, "me"),
])
def test_a_private_reply_to_a_comment(sandbox: Sandbox, make_job: Any, channel: Channel, comment: str,
                                      hints: dict[str, str], node: str) -> None:
    job = make_job(channel=channel, provider="meta", to="7418529630147258", kind=OutboundKind.AGENT_REPLY,
                   text="Hi, could you send us your order number?", sender_hints=hints,
                   reply_to=reply(ReplyKind.PRIVATE, comment))
    result = MetaSender(access_token="meta-token", base_url=sandbox.base_url).send(job)
    record = sandbox.last()
    assert record["path"] == f"/v21.0/{node}/messages"
    assert record["body"] == {"recipient": {"comment_id": comment},
                              "message": {"text": "Hi, could you send us your order number?"}}
    assert "messaging_type" not in record["body"] and "tag" not in record["body"]
    assert result.provider_message_id == record["response"]["body"]["message_id"]


def test_an_x_public_reply_is_a_reply_post(sandbox: Sandbox, make_job: Any) -> None:
    job = make_job(channel=Channel.X, provider="x", to="1497230178432225283", kind=OutboundKind.AGENT_REPLY,
                   text="@giulia_b sorry about this, please check your DMs",
                   reply_to=reply(ReplyKind.PUBLIC, POST, created_at=None))
    result = XSender(bearer_token="x-user-token", base_url=sandbox.base_url).send(job)
    record = sandbox.last()
    assert (record["provider"], record["path"]) == ("x", "/2/tweets")
    assert record["body"] == {"text": "@giulia_b sorry about this, please check your DMs",
                              "reply": {"in_reply_to_tweet_id": POST}}
    assert result.provider_message_id == record["response"]["body"]["data"]["id"]
    assert result.details == {"tweet_id": result.provider_message_id}


def test_an_x_private_reply_is_a_dm_to_the_author(sandbox: Sandbox, make_job: Any) -> None:
    job = make_job(channel=Channel.X, provider="x", to="1497230178432225283", kind=OutboundKind.AGENT_REPLY,
                   text="Hi Giulia, your order number please?", reply_to=reply(ReplyKind.PRIVATE, POST))
    result = XSender(bearer_token="x-user-token", base_url=sandbox.base_url).send(job)
    record = sandbox.last()
    assert record["path"] == "/2/dm_conversations/with/1497230178432225283/messages"
    assert record["body"] == {"text": "Hi Giulia, your order number please?"}
    assert result.provider_message_id == record["response"]["body"]["data"]["dm_event_id"]
