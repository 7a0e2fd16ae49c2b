"""The privacy store and its in-memory twin behave alike: the same history read back the same way,
erased the same way, and what stays (the dedupe record, the delivery claim) stays in both."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from chalicelib.core.model import (
    Attachment,
    Channel,
    Conversation,
    ConversationStatus,
    Customer,
    DeliveryStatus,
    Direction,
    EventKind,
    Identity,
    InboundEvent,
    Message,
    Priority,
    Sender,
)
from chalicelib.core.ordering import message_ordering_key
from chalicelib.core.ports import Repositories
from chalicelib.privacy.ports import ErasureRecord, PrivacyStore
from tests.contract.conftest import CURSOR_KEY, create_table

PHONE = Identity(Channel.SMS, "+393331234567")
AT = "2026-11-18T09:00:00.000Z"
_TABLES = itertools.count()


@dataclass
class Side:
    repos: Repositories
    privacy: PrivacyStore


@pytest.fixture(params=["memory", "dynamo"])
def side(request: pytest.FixtureRequest) -> Iterator[Side]:
    if request.param == "memory":
        from chalicelib.adapters.memory import MemoryStore, memory_repositories
        from chalicelib.adapters.memory.privacy import MemoryPrivacyStore

        store = MemoryStore()
        yield Side(memory_repositories(store), MemoryPrivacyStore(store))
        return
    from chalicelib.adapters.dynamo import Table, dynamo_repositories
    from chalicelib.adapters.dynamo.privacy import DynamoPrivacyStore

    dynamodb, _ = request.getfixturevalue("moto_clients")
    name = f"omnihub-privacy-{next(_TABLES)}"
    create_table(dynamodb, name)
    repos = dynamo_repositories(dynamodb, name, cursor_key=lambda: CURSOR_KEY)
    yield Side(repos, DynamoPrivacyStore(Table(dynamodb, name)))


def _history(repos: Repositories) -> tuple[str, Message, Message]:
    customer = Customer(id="cus_1", name="Maria Rossi", language="it", tier="standard", identities=(PHONE,),
                        created_at=AT)
    assert repos.customers.create(customer)
    assert repos.customers.claim_identity(PHONE, "cus_1") == "cus_1"
    conversation = Conversation(id="cnv_1", reference="OH-ABCDE", status=ConversationStatus.OPEN,
                                priority=Priority.NORMAL, route="default", customer_id="cus_1", channel=Channel.SMS,
                                created_at=AT, updated_at=AT)
    assert repos.conversations.create(conversation)
    event = InboundEvent(provider="twilio", event_id="SM1", kind=EventKind.MESSAGE, channel=Channel.SMS,
                         occurred_at=AT, sender=Sender(PHONE, name="Maria Rossi"), text="where is my parcel?")
    assert repos.inbox.put(event, endpoint="twilio_messaging", received_at=AT, raw_body=b"Body=where+is+my+parcel",
                           content_type="application/x-www-form-urlencoded")
    inbound = Message(id="msg_in", conversation_id="cnv_1", direction=Direction.INBOUND, channel=Channel.SMS,
                      created_at=AT, text="where is my parcel?", provider="twilio", provider_message_id="SM1",
                      inbox_key=event.inbox_key)
    outbound = Message(id="msg_out", conversation_id="cnv_1", direction=Direction.OUTBOUND, channel=Channel.SMS,
                       created_at="2026-11-18T09:01:00.000Z", text="Dear Maria Rossi, tomorrow",
                       attachments=(Attachment("document", url="s3://b/attachments/email/x/y", name="a.pdf"),))
    assert repos.messages.put(inbound) and repos.messages.put(outbound)
    assert repos.deliveries.claim("msg_out", 30)
    repos.deliveries.finish("msg_out", "failed", {"reason": "+393331234567 unreachable"})
    return event.inbox_key, inbound, outbound


def test_both_read_the_same_history(side: Side) -> None:
    inbox_key, _, outbound = _history(side.repos)
    privacy = side.privacy
    customer = privacy.customer("cus_1")
    assert customer is not None and customer.name == "Maria Rossi" and customer.identities == (PHONE,)
    assert list(privacy.conversation_ids("cus_1")) == ["cnv_1"]
    assert [m.id for m in privacy.messages("cnv_1")] == ["msg_in", "msg_out"]
    assert [m.attachments for m in privacy.messages("cnv_1")][1] == outbound.attachments
    copy = privacy.inbox_copy(inbox_key)
    assert copy is not None and not copy.erased and copy.raw == b"Body=where+is+my+parcel"
    assert copy.event is not None and copy.event["text"] == "where is my parcel?" and copy.provider == "twilio"
    assert privacy.inbox_copy("twilio#nothing") is None and privacy.feedback("cnv_1") is None
    # What no message names is found by its ordering key: the sender's lifecycle event, the message's status.
    edit = InboundEvent(provider="twilio", event_id="OPTOUT1", kind=EventKind.LIFECYCLE, channel=Channel.SMS,
                        occurred_at=AT, sender=Sender(PHONE), metadata={"lifecycle": "unsubscribed"})
    status = InboundEvent(provider="twilio", event_id="ST1", kind=EventKind.DELIVERY_STATUS, channel=Channel.SMS,
                          occurred_at=AT, provider_message_id="SM1", status=DeliveryStatus.DELIVERED)
    for later in (edit, status):
        assert side.repos.inbox.put(later, endpoint="twilio_status", received_at="2026-11-18T10:00:00.000Z",
                                    raw_body=b"To=%2B393331234567", content_type=None)
    assert list(privacy.inbox_keys_of(PHONE.key)) == [inbox_key, edit.inbox_key]
    assert list(privacy.inbox_keys_of(message_ordering_key("twilio", "SM1"))) == [status.inbox_key]
    assert list(privacy.inbox_keys_of("twilio#msg#nothing")) == []
    assert privacy.customer("cus_2") is None and list(privacy.conversation_ids("cus_2")) == []


def test_both_erase_the_same_way_and_keep_the_same_guards(side: Side) -> None:
    inbox_key, inbound, outbound = _history(side.repos)
    privacy = side.privacy
    assert privacy.erase_inbox_copy(inbox_key, AT) is True
    assert privacy.erase_inbox_copy(inbox_key, AT) is False  # nothing personal left the second time
    copy = privacy.inbox_copy(inbox_key)
    assert copy is not None and copy.erased and copy.raw is None and copy.event is None
    assert side.repos.inbox.get(inbox_key) is None and side.repos.inbox.raw_payload(inbox_key) is None
    event = InboundEvent(provider="twilio", event_id="SM1", kind=EventKind.MESSAGE, channel=Channel.SMS,
                         occurred_at=AT, sender=Sender(PHONE), text="where is my parcel?")
    assert side.repos.inbox.put(event, endpoint="twilio_messaging", received_at=AT, raw_body=b"again",
                                content_type=None) is False  # the redelivery is a duplicate
    for message in (inbound, outbound):
        privacy.erase_message(message)
    conversation = privacy.conversation("cnv_1")
    privacy.erase_conversation("cus_1", conversation, "cnv_1")
    privacy.erase_identity(PHONE.key)
    privacy.erase_customer("cus_1")
    assert privacy.customer("cus_1") is None and list(privacy.conversation_ids("cus_1")) == []
    assert privacy.conversation("cnv_1") is None and list(privacy.messages("cnv_1")) == []
    assert side.repos.customers.identity_owner(PHONE) is None
    assert side.repos.deliveries.claim("msg_out", 30) is False  # the claim stays: sent at most once


def test_both_keep_one_audit_record_per_customer(side: Side) -> None:
    first = side.privacy.start_erasure(ErasureRecord("cus_1", "ops", AT))
    again = side.privacy.start_erasure(ErasureRecord("cus_1", "someone", "2026-11-19T00:00:00.000Z"))
    assert first == again and again.requested_by == "ops" and not again.finished
    done = ErasureRecord("cus_1", "ops", AT, finished_at=AT, counts={"messages": 2}, conversation_ids=("cnv_1",))
    side.privacy.finish_erasure(done)
    side.privacy.finish_erasure(ErasureRecord("cus_1", "ops", AT, finished_at="2026-11-20T00:00:00.000Z"))
    assert side.privacy.erasure("cus_1") == done and side.privacy.erasure("cus_2") is None
