"""A private reply to a public conversation lands in the customer's direct conversation (the open one,
else one opened for it); the public conversation keeps a note naming it; Idempotency-Key retries return
the same message; a refused private reply opens nothing."""

from __future__ import annotations

import pytest

from chalicelib.adapters.memory import MemoryBus, MemoryStore, memory_repositories
from chalicelib.api.lifecycle import resolve_conversation
from chalicelib.api.replies import reply_to_conversation
from chalicelib.core.errors import Conflict
from chalicelib.core.ports import Repositories
from tests.unit.test_social_reply_rules import job_of, threaded


@pytest.fixture
def repos() -> Repositories:
    return memory_repositories(MemoryStore())


def messages(repos: Repositories, conversation_id: str) -> list[tuple[str, str, dict[str, str]]]:
    found = repos.conversations.get_with_messages(conversation_id)
    assert found is not None
    return [(m.id, m.text or "", m.metadata) for m in found[1]]


def test_a_private_reply_joins_the_customers_open_direct_conversation(repos: Repositories) -> None:
    direct = threaded(repos, days=0.2)
    public = threaded(repos, days=0.1, public=True)
    accepted = reply_to_conversation(repos, public, {"text": "Check your inbox", "private": True}, environ={},
                                     idempotency_key="k-1")
    assert accepted["conversation_id"] == direct
    assert [m[0] for m in messages(repos, direct) if m[1] == "Check your inbox"] == [accepted["id"]]
    target = job_of(repos, accepted["id"])["reply_to"]
    assert isinstance(target, dict) and target["kind"] == "private"
    [note] = [m for m in messages(repos, public) if m[2].get("private_reply_message_id")]
    assert note[2] == {"private_reply_conversation_id": direct, "private_reply_message_id": accepted["id"]}
    again = reply_to_conversation(repos, public, {"text": "Check your inbox", "private": True}, environ={},
                                  idempotency_key="k-1")
    assert again == accepted
    assert len([m for m in messages(repos, public) if m[2].get("private_reply_message_id")]) == 1
    assert len([m for m in messages(repos, direct) if m[1] == "Check your inbox"]) == 1


def test_without_an_open_direct_conversation_one_is_opened_and_becomes_the_open_one(repos: Repositories) -> None:
    public = threaded(repos, days=0.1, public=True)
    accepted = reply_to_conversation(repos, public, {"text": "Psst", "private": True}, environ={},
                                     idempotency_key="k-2")
    opened = repos.conversations.get(accepted["conversation_id"])
    assert opened is not None and not opened.public and opened.id != public
    public_conversation = repos.conversations.get(public)
    assert public_conversation is not None and opened.customer_id == public_conversation.customer_id
    customer = repos.customers.get(opened.customer_id)
    assert customer is not None and customer.open_conversation_id == opened.id
    again = reply_to_conversation(repos, public, {"text": "Psst", "private": True}, environ={}, idempotency_key="k-2")
    assert again == accepted


def test_a_resolved_direct_conversation_is_not_joined(repos: Repositories) -> None:
    direct = threaded(repos, days=0.2)
    resolve_conversation(repos, direct, bus=MemoryBus())  # type: ignore[arg-type]
    public = threaded(repos, days=0.1, public=True)
    accepted = reply_to_conversation(repos, public, {"text": "Psst", "private": True}, environ={})
    assert accepted["conversation_id"] not in (direct, public)


def test_a_public_reply_stays_in_the_public_conversation(repos: Repositories) -> None:
    threaded(repos, days=0.2)
    public = threaded(repos, days=0.1, public=True)
    assert reply_to_conversation(repos, public, {"text": "Sorry!"}, environ={})["conversation_id"] == public


def test_a_refused_private_reply_opens_nothing(repos: Repositories) -> None:
    public = threaded(repos, days=10, public=True)
    before = set(repos.messages.store.conversations)  # type: ignore[attr-defined]  # the memory twin
    with pytest.raises(Conflict, match="7 days"):
        reply_to_conversation(repos, public, {"text": "Psst", "private": True}, environ={})
    assert set(repos.messages.store.conversations) == before  # type: ignore[attr-defined]
