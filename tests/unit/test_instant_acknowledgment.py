"""instant_acknowledgment: which conversation (and reference) the webhook's acknowledgment names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.acknowledgments import load_policy
from chalicelib.adapters.memory import MemoryStore, memory_repositories
from chalicelib.core.ids import conversation_id_for
from chalicelib.core.model import (
    Channel,
    Conversation,
    ConversationStatus,
    Customer,
    EventKind,
    Identity,
    InboundEvent,
    Priority,
    Sender,
)
from chalicelib.core.ports import Repositories
from chalicelib.ingest import instant_ack
from chalicelib.ingest.instant_ack import instant_acknowledgment

NOW = datetime(2026, 11, 18, 9, 0, tzinfo=UTC)  # a Wednesday, 10:00 in Rome
IDENTITY = Identity(Channel.WHATSAPP, "+393331234567")


class Twins:
    """Maria on WhatsApp, known to the in-memory twins, with ``conversation`` behind her open pointer."""

    def __init__(self, conversation: Conversation | None) -> None:
        self.store = MemoryStore()
        self.repos = memory_repositories(self.store)
        self.repos.customers.create(Customer(
            id="cus_1", name="Maria", language="en", tier="standard", identities=(IDENTITY,),
            created_at="2026-11-01T00:00:00Z",
        ))
        self.repos.customers.claim_identity(IDENTITY, "cus_1")
        if conversation is not None:
            self.repos.conversations.create(conversation)
            self.repos.references.reserve(conversation.reference, conversation.id)
            assert self.repos.customers.claim_open_conversation("cus_1", conversation.id, None)
        self.set_up = self.store.scan()

    @property
    def reserved(self) -> list[tuple[str, str]]:
        """(reference, conversation) reserved since the set-up: the webhook path's only write."""
        before = {stored.key[0] for stored in self.set_up if stored.aggregate == "references"}
        return [(r, c) for r, c in self.store.references.items() if r not in before]

    def repositories(self) -> Repositories:
        """Only what the webhook path may use: customers, conversations, references (reads, one reservation)."""
        return Repositories(
            inbox=None, customers=self.repos.customers, references=self.repos.references,  # type: ignore[arg-type]
            conversations=self.repos.conversations, messages=None, deliveries=None, idempotency=None,  # type: ignore[arg-type]
        )


def conversation(status: ConversationStatus) -> Conversation:
    return Conversation(
        id="cnv_open", reference="OH-OPEN1", status=status, priority=Priority.HIGH, route="default",
        customer_id="cus_1", channel=Channel.WHATSAPP, created_at="2026-11-10T00:00:00Z",
        updated_at="2026-11-10T00:00:00Z", last_inbound_at="2026-11-10T00:00:00Z",
    )


def event() -> InboundEvent:
    return InboundEvent(
        provider="meta", event_id="wamid.1", kind=EventKind.MESSAGE, channel=Channel.WHATSAPP,
        occurred_at="2026-11-18T08:59:58Z", sender=Sender(IDENTITY, name="Maria"), text="Where is my order?",
    )


@pytest.fixture
def contexts(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    real = instant_ack.acknowledgment_context

    def recording(event: InboundEvent, **kwargs: Any) -> Any:
        seen.append(kwargs)
        return real(event, **kwargs)

    monkeypatch.setattr(instant_ack, "acknowledgment_context", recording)
    return seen


def test_an_open_conversation_keeps_its_reference_and_reserves_none(contexts: list[dict[str, Any]]) -> None:
    open_one = conversation(ConversationStatus.OPEN)
    reader = Twins(open_one)
    instant_acknowledgment(reader.repositories(), event(), load_policy(), NOW)
    [seen] = contexts
    assert reader.reserved == []
    assert reader.store.scan() == reader.set_up  # nothing written at all
    assert seen["reference"] == "OH-OPEN1" and seen["opens"] is False
    assert seen["conversation"] is open_one and seen["previous_inbound_at"] == "2026-11-10T00:00:00Z"


@pytest.mark.parametrize("existing", [None, ConversationStatus.RESOLVED])
def test_no_or_a_resolved_conversation_opens_one_with_a_reserved_reference(
    contexts: list[dict[str, Any]], existing: ConversationStatus | None
) -> None:
    reader = Twins(conversation(existing) if existing else None)
    carried = instant_acknowledgment(reader.repositories(), event(), load_policy(), NOW)
    [seen] = contexts
    [(reference, conversation_id)] = reader.reserved
    assert conversation_id == conversation_id_for(event().inbox_key)
    assert seen["reference"] == reference and seen["opens"] is True
    assert seen["conversation"] is None and seen["previous_inbound_at"] is None
    assert carried is not None and carried.reference == reference and carried.conversation_id == conversation_id
