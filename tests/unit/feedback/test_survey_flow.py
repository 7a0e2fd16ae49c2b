"""The survey on the twins: asked on resolve (once, with buttons), answered, commented, and never to an
opted-out customer, on a public conversation, twice, or more often than the configured limit."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from chalicelib.adapters.memory import MemoryBus, MemoryStore, memory_repositories
from chalicelib.adapters.resources import CONVERSATION_EVENTS_QUEUE
from chalicelib.api.lifecycle import reopen_conversation, resolve_conversation
from chalicelib.api.queries import conversation_detail
from chalicelib.api.replies import reply_to_conversation
from chalicelib.conversations.inbound import WorkerPorts, handle_inbound_event
from chalicelib.core.model import Channel, ConversationStatus, EventKind, Identity, InboundEvent, Sender
from chalicelib.core.ports import Repositories
from chalicelib.core.timestamps import format_timestamp, parse_timestamp, utc_now
from chalicelib.feedback.asking import ask_on_resolve, send_due_surveys
from chalicelib.feedback.config import DEFAULT_FEEDBACK_PATH, FeedbackConfig, parse_feedback_config
from chalicelib.reports.kpis import kpi_report
from tests.conftest import load_schema
from tests.unit.conftest import test_id_key

CHAT = Identity(Channel.TELEGRAM, "7012345678")


def config(**changes: Any) -> FeedbackConfig:
    data = json.loads(Path(DEFAULT_FEEDBACK_PATH).read_text(encoding="utf-8"))
    data.update(changes)
    return parse_feedback_config(data)


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def repos(store: MemoryStore) -> Repositories:
    return memory_repositories(store)


@pytest.fixture
def ports(repos: Repositories) -> WorkerPorts:
    return WorkerPorts(repos=repos, bus=MemoryBus(), id_key=test_id_key)  # type: ignore[arg-type]


def write(repos: Repositories, ports: WorkerPorts, event_id: str, text: str, *, at: str | None = None,
          metadata: dict[str, str] | None = None) -> str:
    event = InboundEvent(provider="telegram", event_id=event_id, kind=EventKind.MESSAGE, channel=Channel.TELEGRAM,
                         occurred_at=at or utc_now(), sender=Sender(CHAT, name="Giulia", language="it"), text=text,
                         metadata=metadata or {"bot": "omnihub_bot"})
    repos.inbox.put(event, endpoint="telegram", received_at=at or utc_now(), raw_body=b"{}",
                    content_type="application/json")
    return handle_inbound_event(event.inbox_key, ports)


def open_case(repos: Repositories, ports: WorkerPorts, event_id: str = "1") -> str:
    assert write(repos, ports, event_id, "Il mio ordine non è arrivato").startswith("routed")
    customer_id = repos.customers.identity_owner(CHAT)
    assert customer_id is not None
    customer = repos.customers.get(customer_id)
    assert customer is not None and customer.open_conversation_id is not None
    return customer.open_conversation_id


def surveys(store: MemoryStore) -> list[dict[str, Any]]:
    return [job for job in store.jobs() if job["kind"] == "survey"]


def test_resolve_asks_once_in_the_customers_language_with_buttons(repos: Repositories, ports: WorkerPorts,
                                                                   store: MemoryStore) -> None:
    conversation_id = open_case(repos, ports)
    reply_to_conversation(repos, conversation_id, {"text": "Spedito oggi"}, environ={})
    resolved = resolve_conversation(repos, conversation_id, environ={}, bus=MemoryBus())
    assert resolved["status"] == "resolved" and resolved["survey"] == "asked"
    assert resolved["feedback"]["kind"] == "csat" and resolved["feedback"]["score"] is None
    [job] = surveys(store)
    assert job["channel"] == "telegram" and job["to"] == CHAT.address and job["language"] == "it"
    assert "Quanto sei soddisfatto" in job["text"]
    assert [c["payload"] for c in job["choices"]] == [f"omnihub-feedback:csat:{s}" for s in range(1, 6)]
    again = resolve_conversation(repos, conversation_id, environ={}, bus=MemoryBus())
    assert again["survey"] == "already_asked" and len(surveys(store)) == 1
    detail = conversation_detail(repos, conversation_id)
    assert detail["feedback"] == {"kind": "csat", "score": None, "comment": None,
                                  "asked_at": resolved["feedback"]["asked_at"], "answered_at": None}


def test_a_case_reopened_and_resolved_again_is_not_asked_twice(repos: Repositories, ports: WorkerPorts,
                                                               store: MemoryStore) -> None:
    conversation_id = open_case(repos, ports)
    assert resolve_conversation(repos, conversation_id, environ={}, bus=MemoryBus())["survey"] == "asked"
    for _ in range(2):
        reopen_conversation(repos, conversation_id, bus=MemoryBus())
        again = resolve_conversation(repos, conversation_id, environ={}, bus=MemoryBus())
        assert again["status"] == "resolved" and again["survey"] == "already_asked"
    assert len(surveys(store)) == 1


def test_an_answer_is_stored_once_without_reopening_and_a_follow_up_is_its_comment(
    repos: Repositories, ports: WorkerPorts, store: MemoryStore
) -> None:
    conversation_id = open_case(repos, ports)
    resolve_conversation(repos, conversation_id, environ={}, bus=MemoryBus())
    assert write(repos, ports, "2", "cinque") == "feedback_answer"
    assert write(repos, ports, "2", "cinque") == "feedback_answer"  # the same update redelivered
    [thanks] = [job for job in store.jobs() if job["outbound_id"].startswith("out_thx_")]  # once
    assert thanks["text"].startswith("Grazie per la tua valutazione") and "choices" not in thanks
    assert write(repos, ports, "3", "Molto gentili, grazie") == "feedback_comment"
    detail = conversation_detail(repos, conversation_id)
    assert detail["status"] == "resolved"
    assert detail["feedback"]["score"] == 5 and detail["feedback"]["comment"] == "Molto gentili, grazie"
    assert [m["text"] for m in detail["messages"] if m["direction"] == "inbound"][-2:] == [
        "cinque", "Molto gentili, grazie"]
    customer = repos.customers.get(detail["customer_id"])
    assert customer is not None and customer.open_conversation_id is None
    assert write(repos, ports, "4", "Ho un altro problema").startswith("routed")  # a new case, as usual
    customer = repos.customers.get(detail["customer_id"])
    assert customer is not None and customer.open_conversation_id not in (None, conversation_id)
    events = [body for body in ports.bus.bodies(CONVERSATION_EVENTS_QUEUE) if body["type"] == "feedback"]
    validator = jsonschema.Draft202012Validator(load_schema("omnihub.event.v1"))
    for event in events:
        validator.validate(event)
    # the redelivered answer republished the same event id (dropped as a duplicate); the comment is another
    assert [(e["detail"]["feedback"]["score"], e["detail"]["feedback"]["comment"]) for e in events] == [
        (5, None), (5, "Molto gentili, grazie")]
    assert len({e["event_id"] for e in events}) == 2
    day = utc_now()[:10]
    report = kpi_report(repos, {"from": day, "to": day})
    assert report["csat"]["responses"] == 1 and report["csat"]["distribution"]["5"] == 1


def test_a_tapped_button_is_an_answer_and_a_non_answer_opens_a_new_case(repos: Repositories,
                                                                          ports: WorkerPorts) -> None:
    conversation_id = open_case(repos, ports)
    resolve_conversation(repos, conversation_id, environ={}, bus=MemoryBus())
    assert write(repos, ports, "2", "Grazie, ma avrei un'altra domanda").startswith("routed")
    assert conversation_detail(repos, conversation_id)["feedback"]["score"] is None
    other = open_case(repos, ports, "3")
    resolve_conversation(repos, other, environ={}, bus=MemoryBus())
    assert write(repos, ports, "4", "omnihub-feedback:csat:4",
                 metadata={"message_type": "callback_query"}) == "feedback_answer"
    assert conversation_detail(repos, other)["feedback"]["score"] == 4


def test_never_to_an_opted_out_customer(repos: Repositories, ports: WorkerPorts, store: MemoryStore) -> None:
    conversation_id = open_case(repos, ports)
    customer_id = repos.customers.identity_owner(CHAT)
    assert customer_id is not None
    repos.customers.set_consent(customer_id, Channel.TELEGRAM, "withdrawn", utc_now())
    assert resolve_conversation(repos, conversation_id, environ={}, bus=MemoryBus())["survey"] == "opted_out"
    assert surveys(store) == []
    assert conversation_detail(repos, conversation_id)["feedback"] is None


def test_never_on_a_public_conversation(repos: Repositories, ports: WorkerPorts, store: MemoryStore) -> None:
    conversation_id = open_case(repos, ports)
    conversation = repos.conversations.get(conversation_id)
    assert conversation is not None
    public = dataclasses.replace(conversation, public=True)
    assert ask_on_resolve(repos, public, environ={}, config=config(), now=utc_now()) == "public"
    assert surveys(store) == []


def test_off_on_a_channel_and_at_most_once_per_customer_per_n_days(repos: Repositories, ports: WorkerPorts,
                                                                    store: MemoryStore) -> None:
    limited = config(once_per_customer_days=30)
    first = open_case(repos, ports, "1")
    resolved = repos.conversations.set_status(first, ConversationStatus.RESOLVED, utc_now())
    assert ask_on_resolve(repos, resolved, environ={}, config=limited, now=utc_now()) == "asked"
    repos.customers.release_open_conversation(resolved.customer_id, first)
    second = open_case(repos, ports, "2")
    resolved = repos.conversations.set_status(second, ConversationStatus.RESOLVED, utc_now())
    assert ask_on_resolve(repos, resolved, environ={}, config=limited, now=utc_now()) == "rate_limited"
    later = format_timestamp(parse_timestamp(utc_now()) + timedelta(days=31))
    assert ask_on_resolve(repos, resolved, environ={}, config=limited, now=later) == "asked"
    off = config(channels={"telegram": {"enabled": False}})
    assert ask_on_resolve(repos, resolved, environ={}, config=off, now=utc_now()) == "channel_off"
    assert len(surveys(store)) == 2


def test_a_delayed_survey_goes_when_the_schedule_finds_it_due(repos: Repositories, ports: WorkerPorts,
                                                              store: MemoryStore) -> None:
    delayed = config(delay_minutes=10)
    conversation_id = open_case(repos, ports)
    now = utc_now()
    resolved = repos.conversations.set_status(conversation_id, ConversationStatus.RESOLVED, now)
    assert ask_on_resolve(repos, resolved, environ={}, config=delayed, now=now) == "scheduled"
    soon = format_timestamp(parse_timestamp(now) + timedelta(minutes=5))
    assert send_due_surveys(repos, environ={}, config=delayed, now=soon) == {}
    assert surveys(store) == []
    due = format_timestamp(parse_timestamp(now) + timedelta(minutes=10, seconds=1))
    assert send_due_surveys(repos, environ={}, config=delayed, now=due) == {"asked": 1}
    assert send_due_surveys(repos, environ={}, config=delayed, now=due) == {}
    [job] = surveys(store)
    assert job["created_at"] == format_timestamp(parse_timestamp(now) + timedelta(minutes=10))


def test_never_when_the_customers_message_there_was_public(repos: Repositories, ports: WorkerPorts,
                                                           store: MemoryStore) -> None:
    assert write(repos, ports, "1", "Your service is slow", metadata={"bot": "omnihub_bot", "public": "true"}
                 ).startswith("routed")
    [public_id] = repos.conversations.customer_conversation_ids(repos.customers.identity_owner(CHAT) or "")
    resolved = resolve_conversation(repos, public_id, environ={}, bus=MemoryBus())
    assert resolved["survey"] == "public" and resolved["feedback"] is None
    assert surveys(store) == []
