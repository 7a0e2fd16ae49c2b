"""The Graph mention lookup over loopback HTTP against the provider sandbox: the request Graph expects
(GET /{version}/{ig-user-id}?fields=mentioned_comment.comment_id(...){...}, a bearer token), its answer
read back, a 4xx refused for good (None) and a 5xx retried (RetryableError)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chalicelib.adapters.graph_mentions import GraphMentionLookup
from chalicelib.core.errors import RetryableError
from devstack.sandbox.server import SandboxServer, start_sandbox

IG_USER = "17841405822304914"


@pytest.fixture
def sandbox() -> Iterator[tuple[SandboxServer, str]]:
    server, base = start_sandbox()
    yield server, base
    server.shutdown()
    server.server_close()



def test_a_comment_mention_is_read_with_the_documented_request(sandbox: tuple[SandboxServer, str]) -> None:
    server, base = sandbox
    lookup = GraphMentionLookup(base_url=base, access_token=lambda: "EAAtoken")
    found = lookup.lookup(IG_USER, comment_id="17894227972186120", media_id="17918195224117851")
    assert found is not None and found["id"] == IG_USER
    comment = found["mentioned_comment"]
    assert comment["id"] == "17894227972186120" and comment["text"] and comment["from"]["id"]
    [request] = [r for r in server.sandbox.outbox() if r["method"] == "GET"]
    assert request["path"] == f"/v21.0/{IG_USER}"
    assert request["query"]["fields"] == ("mentioned_comment.comment_id(17894227972186120)"
                                          "{id,text,timestamp,username,from,media{id,permalink}}")
    assert request["auth"]


def test_a_caption_mention_reads_the_media(sandbox: tuple[SandboxServer, str]) -> None:
    _, base = sandbox
    found = GraphMentionLookup(base_url=base, access_token=lambda: "EAAtoken").lookup(
        IG_USER, comment_id=None, media_id="17918195224117851")
    assert found is not None and found["mentioned_media"]["caption"] and found["mentioned_media"]["username"]


def test_refusals_and_outages(sandbox: tuple[SandboxServer, str]) -> None:
    server, base = sandbox
    lookup = GraphMentionLookup(base_url=base, access_token=lambda: "EAAtoken")
    server.sandbox.add_failure({"status": 400, "remaining": 1, "provider": "meta",
                                "body": {"error": {"code": 100, "message": "Unsupported get request"}}})
    assert lookup.lookup(IG_USER, comment_id="1", media_id="2") is None
    server.sandbox.add_failure({"status": 503, "remaining": 1, "provider": "meta", "body": {}})
    with pytest.raises(RetryableError):
        lookup.lookup(IG_USER, comment_id="1", media_id="2")
    with pytest.raises(RetryableError):
        GraphMentionLookup(base_url=base, access_token=lambda: None).lookup(IG_USER, comment_id="1", media_id=None)
