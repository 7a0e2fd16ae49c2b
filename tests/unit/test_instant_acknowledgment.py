"""instant_acknowledgment: which conversation (and reference) the webhook's acknowledgment names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.acknowledgments import load_policy
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


class FakeReader:
    def __init__(self, conversation: Conversation | None) -> None:
        self.conversation = conversation
        self.reserved: list[tuple[str, str]] = []

    def identity_owner(self, identity: Identity) -> str | None:
        return "cus_1"

    def identity_owners(self, identities: list[Identity]) -> dict[Identity, str]:
        return dict.fromkeys(identities, "cus_1")

    def get(self, customer_id: str, *, consistent: bool = False) -> Customer | None:
        return Customer(
            id=customer_id, name="Maria", language="en", tier="standard", identities=(IDENTITY,),
            created_at="2026-11-01T00:00:00Z",
            open_conversation_id=self.conversation.id if self.conversation else None,
        )

    def reserve(self, reference: str, conversation_id: str) -> bool:
        self.reserved.append((reference, conversation_id))
        return True

    def repositories(self) -> Any:
        """Only the reads the webhook path may make: a customer, a conversation, a reservation."""
        conversations = type("Conversations", (), {"get": lambda _, cid, consistent=False: self.conversation})()
        return Repositories(
            inbox=None, customers=self, references=self, conversations=conversations,  # type: ignore[arg-type]
            messages=None, deliveries=None, idempotency=None,  # type: ignore[arg-type]
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
    reader = FakeReader(open_one)
    instant_acknowledgment(reader.repositories(), event(), load_policy(), NOW)
    [seen] = contexts
    assert reader.reserved == []
    assert seen["reference"] == "OH-OPEN1" and seen["opens"] is False
    assert seen["conversation"] is open_one and seen["previous_inbound_at"] == "2026-11-10T00:00:00Z"


@pytest.mark.parametrize("existing", [None, ConversationStatus.RESOLVED])
def test_no_or_a_resolved_conversation_opens_one_with_a_reserved_reference(
    contexts: list[dict[str, Any]], existing: ConversationStatus | None
) -> None:
    reader = FakeReader(conversation(existing) if existing else None)
    carried = instant_acknowledgment(reader.repositories(), event(), load_policy(), NOW)
    [seen] = contexts
    [(reference, conversation_id)] = reader.reserved
    assert conversation_id == conversation_id_for(event().inbox_key)
    assert seen["reference"] == reference and seen["opens"] is True
    assert seen["conversation"] is None and seen["previous_inbound_at"] is None
    assert carried is not None and carried.reference == reference and carried.conversation_id == conversation_id
