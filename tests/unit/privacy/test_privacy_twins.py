"""A customer's export and erasure on the in-memory twins: the worker builds the conversations, the use
cases export and erase them, and a scan of the whole store shows what is left."""

from __future__ import annotations

import json

import jsonschema
import pytest

from chalicelib.adapters.memory import MemoryBus, MemoryStore, memory_repositories
from chalicelib.adapters.memory.privacy import MemoryNotices, MemoryObjects, MemoryPrivacyStore
from chalicelib.conversations.inbound import WorkerPorts, handle_inbound_event
from chalicelib.core.errors import NotFound, RetryableError
from chalicelib.core.feedback_record import FeedbackRecord
from chalicelib.core.ids import acknowledgment_claim_key
from chalicelib.core.model import (
    Attachment,
    Channel,
    Direction,
    EventKind,
    Identity,
    InboundEvent,
    Message,
    Sender,
)
from chalicelib.core.ports import Repositories
from chalicelib.privacy import erase_customer, export_customer
from chalicelib.privacy.ports import ErasureRecord
from tests.conftest import load_schema
from tests.unit.conftest import test_id_key

PHONE = Identity(Channel.WHATSAPP, "+393331234567")
OTHER = Identity(Channel.WHATSAPP, "+393339999999")
NOW = "2026-11-20T10:00:00.000Z"
SECRET_TEXT = "my card number ends in 4242"
ATTACHMENT = "s3://payloads/attachments/email/abc/def"
RAW_OBJECT = "s3://payloads/raw/meta/2026-11-18/big"


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def repos(store: MemoryStore) -> Repositories:
    return memory_repositories(store)


def _message(event_id: str, identity: Identity, name: str, text: str) -> InboundEvent:
    return InboundEvent(provider="meta", event_id=event_id, kind=EventKind.MESSAGE, channel=Channel.WHATSAPP,
                        occurred_at="2026-11-18T08:59:58.000Z", sender=Sender(identity, name=name), text=text)


def _deliver(repos: Repositories, event: InboundEvent, *, raw_pointer: str | None = None) -> bool:
    raw = f'{{"from":"{event.sender.identity.address if event.sender else ""}","text":"{event.text}"}}'.encode()
    fresh = repos.inbox.put(event, endpoint="meta", received_at="2026-11-18T09:00:00.000Z", raw_body=raw,
                            content_type="application/json", raw_pointer=raw_pointer)
    if fresh:
        handle_inbound_event(event.inbox_key, WorkerPorts(repos=repos, bus=MemoryBus(), id_key=test_id_key))  # type: ignore[arg-type]
    return fresh


@pytest.fixture
def maria(repos: Repositories, store: MemoryStore) -> str:
    """Maria wrote twice (once with a payload too large for the item), got a reply with an attachment,
    answered a survey; Paolo wrote once (he must be left alone)."""
    _deliver(repos, _message("wamid.1", PHONE, "Maria Rossi", SECRET_TEXT))
    _deliver(repos, _message("wamid.2", PHONE, "Maria Rossi", "and the parcel?"), raw_pointer=RAW_OBJECT)
    _deliver(repos, _message("wamid.3", OTHER, "Paolo Bianchi", "hello from Paolo"))
    customer_id = repos.customers.identity_owner(PHONE)
    assert customer_id is not None
    [conversation_id] = repos.conversations.customer_conversation_ids(customer_id)
    repos.messages.put(Message(id="msg_out1", conversation_id=conversation_id, direction=Direction.OUTBOUND,
                               channel=Channel.WHATSAPP, created_at="2026-11-18T09:05:00.000Z",
                               text="Dear Maria Rossi, here is your invoice",
                               attachments=(Attachment("document", url=ATTACHMENT, name="invoice.pdf"),)))
    repos.feedback.create(FeedbackRecord(conversation_id, customer_id, "csat", "whatsapp", "default",
                                         "2026-11-19T09:00:00.000Z", score=2, comment="Maria Rossi is unhappy",
                                         answered_at="2026-11-19T10:00:00.000Z"), due=False)
    store.expiring_claims[acknowledgment_claim_key(PHONE.key)] = ("wamid.1", 2_000_000_000)
    return customer_id


def _ports(store: MemoryStore) -> tuple[MemoryPrivacyStore, MemoryObjects, MemoryNotices]:
    objects = MemoryObjects({ATTACHMENT: b"%PDF invoice of Maria Rossi", RAW_OBJECT: SECRET_TEXT.encode()})
    return MemoryPrivacyStore(store), objects, MemoryNotices()


def test_the_export_holds_every_kind_of_record(store: MemoryStore, maria: str) -> None:
    privacy, objects, _ = _ports(store)
    document = export_customer(privacy, objects, maria, now=NOW)
    assert document["complete"] is True and document["omitted"] == {}
    assert document["customer"]["name"] == "Maria Rossi"
    assert document["identities"] == [PHONE.to_dict()]
    [conversation] = document["conversations"]
    texts = sorted(m["text"] for m in conversation["messages"])
    assert texts == ["Dear Maria Rossi, here is your invoice", "and the parcel?", SECRET_TEXT]
    [attachment] = [a for m in conversation["messages"] for a in m["attachments"]]
    assert attachment["url"] == f"{ATTACHMENT}?expires_in=3600"
    assert attachment["url_expires_at"] == "2026-11-20T11:00:00.000Z"
    inline, linked = sorted(document["raw_payloads"], key=lambda shown: "raw_url" in shown)
    assert SECRET_TEXT in inline["raw_text"] and inline["event"]["text"] == SECRET_TEXT
    assert "raw_text" not in linked and linked["raw_url"] == f"{RAW_OBJECT}?expires_in=3600"
    assert document["feedback"][0]["comment"] == "Maria Rossi is unhappy"
    assert document["counts"] == {"conversations": 1, "messages": 3, "outbound_messages": 1, "attachments": 1,
                                  "raw_payloads": 2, "feedback": 1, "crisis": 0}
    assert "Paolo" not in str(document)


def test_an_export_past_its_byte_budget_is_cut_and_says_so(store: MemoryStore, maria: str) -> None:
    privacy, objects, _ = _ports(store)
    document = export_customer(privacy, objects, maria, now=NOW, max_bytes=2_000)
    assert document["complete"] is False
    assert sum(document["omitted"].values()) > 0
    assert len(str(document)) < 4_000


def test_an_unknown_customer_is_not_found(store: MemoryStore) -> None:
    privacy, objects, notices = _ports(store)
    with pytest.raises(NotFound):
        export_customer(privacy, objects, "cus_nobody", now=NOW)
    with pytest.raises(NotFound):
        erase_customer(privacy, objects, notices, "cus_nobody", requested_by="ops", now=NOW)
    assert store.erasures == {} and notices.published == []


def test_erasure_leaves_no_personal_data_and_only_dedupe_records(store: MemoryStore, repos: Repositories,
                                                                 maria: str) -> None:
    privacy, objects, notices = _ports(store)
    answer, status = erase_customer(privacy, objects, notices, maria, requested_by="dev-admin", now=NOW)
    assert status == 200
    assert answer["counts"] == {"conversations": 1, "messages": 3, "outbound_messages": 1, "attachments": 1,
                                "raw_payloads": 2, "raw_objects": 1, "feedback": 1, "identities": 1,
                                "crisis_contacts": 0}
    left = repr(store.scan())
    for personal in ("393331234567", "Maria", SECRET_TEXT, "parcel", "invoice"):
        assert personal not in left
    assert "Paolo Bianchi" in left and "hello from Paolo" in left  # nobody else was touched
    assert objects.objects == {}
    assert store.inbox["meta#wamid.1"].erased_at == NOW and store.erasures[maria].finished
    # A redelivery of an erased message is a duplicate: nothing stored, nothing for the relay.
    changes = len(store.changes)
    assert _deliver(repos, _message("wamid.1", PHONE, "Maria Rossi", SECRET_TEXT)) is False
    assert len(store.changes) == changes and repos.customers.identity_owner(PHONE) is None
    [(body, group, dedupe)] = notices.published
    jsonschema.validate(body, load_schema("omnihub.event.v1"))
    assert (body["type"], body["customer"]["id"], body["customer"]["name"]) == ("customer_erased", maria, None)
    assert group == maria and dedupe == body["event_id"] and body["detail"]["counts"] == answer["counts"]


def test_a_second_erasure_answers_the_same_and_does_nothing_new(store: MemoryStore, maria: str) -> None:
    privacy, objects, notices = _ports(store)
    first = erase_customer(privacy, objects, notices, maria, requested_by="dev-admin", now=NOW)
    again = erase_customer(privacy, objects, notices, maria, requested_by="someone-else",
                           now="2026-11-21T10:00:00.000Z")
    assert again == first and len(notices.published) == 1
    assert first[0]["requested_by"] == "dev-admin"


def test_an_erasure_interrupted_by_an_outage_is_finished_by_the_next_request(store: MemoryStore, maria: str) -> None:
    privacy, objects, notices = _ports(store)
    objects.failing = True
    with pytest.raises(RetryableError):
        erase_customer(privacy, objects, notices, maria, requested_by="dev-admin", now=NOW)
    record = store.erasures[maria]
    assert isinstance(record, ErasureRecord) and not record.finished and notices.published == []
    objects.failing, notices.failing = False, True
    with pytest.raises(RetryableError):  # everything erased, the event refused: not finished yet
        erase_customer(privacy, objects, notices, maria, requested_by="dev-admin", now=NOW)
    assert not store.erasures[maria].finished and privacy.customer(maria) is None
    notices.failing = False
    answer, _ = erase_customer(privacy, objects, notices, maria, requested_by="dev-admin", now=NOW)
    assert answer["status"] == "erased" and answer["requested_at"] == NOW and len(notices.published) == 1
    assert "Maria" not in repr(store.scan()) and objects.objects == {}


def test_crisis_records_are_exported_contacts_erased_and_recipient_guards_kept(store: MemoryStore, repos: Repositories,
                                                                            maria: str) -> None:
    from chalicelib.adapters.memory.crisis import MemoryCrisis

    crisis = MemoryCrisis(store)
    crisis.record_keyword_contact("inc_1", maria, "2026-11-18T09:00:00.000Z")
    crisis.claim_recipient("inc_1", "upd_1", maria, "out_1", "2026-11-18T10:00:00.000Z")
    crisis.recipients[("inc_1", "upd_1", maria)].update(state="sent", channel="whatsapp")  # as settled
    privacy, objects, notices = MemoryPrivacyStore(store, crisis), *_ports(store)[1:]
    records = export_customer(privacy, objects, maria, now=NOW)["crisis"]
    assert [r["record"] for r in records] == ["keyword_contact", "broadcast_recipient"]
    assert records[1]["state"] == "sent" and records[1]["channel"] == "whatsapp"
    answer, _ = erase_customer(privacy, objects, notices, maria, requested_by="dev-admin", now=NOW)
    assert answer["counts"]["crisis_contacts"] == 1 and crisis.contacts == {"inc_1": {}}
    # The exactly-once guard of the broadcast stays (no personal data): the update is not sent again.
    assert crisis.claim_recipient("inc_1", "upd_1", maria, "out_2", NOW).fresh is False


def test_an_outbound_messages_delivery_claim_stays_without_its_detail(store: MemoryStore, repos: Repositories,
                                                                      maria: str) -> None:
    assert repos.deliveries.claim("msg_out1", 30)
    repos.deliveries.finish("msg_out1", "failed", {"code": "21211", "reason": "'To' +393331234567 is not valid"})
    privacy, objects, notices = _ports(store)
    erase_customer(privacy, objects, notices, maria, requested_by="dev-admin", now=NOW)
    assert store.claims["msg_out1"].state == "failed" and store.claims["msg_out1"].detail is None
    assert repos.deliveries.claim("msg_out1", 30) is False  # still sent (or failed) at most once


def test_a_long_history_exports_within_the_budget(store: MemoryStore, repos: Repositories, maria: str) -> None:
    """3,000 messages of 4 KB (12 MB of text) against a 1 MiB budget: the document stays under it, says
    what it left out, and keeps the oldest messages (an export is read oldest first)."""
    [conversation_id] = repos.conversations.customer_conversation_ids(maria)
    for number in range(3_000):
        repos.messages.put(Message(id=f"msg_{number:05d}", conversation_id=conversation_id,
                                   direction=Direction.INBOUND, channel=Channel.WHATSAPP,
                                   created_at=f"2026-11-19T{number // 3600:02d}:{number // 60 % 60:02d}:"
                                              f"{number % 60:02d}.000Z", text="è" * 4_000))
    privacy, objects, _ = _ports(store)
    document = export_customer(privacy, objects, maria, now=NOW, max_bytes=1024 * 1024)
    size = len(json.dumps(document))
    assert size <= 1024 * 1024 + 4_096  # the budget, plus the counts and limits added at the end
    assert document["complete"] is False and document["omitted"]["messages"] > 2_000
    shown = document["conversations"][0]["messages"]
    assert 10 < len(shown) < 1_000 and SECRET_TEXT in {shown[0]["text"], shown[1]["text"]}


def test_a_resumed_erasure_still_names_every_conversation_it_erased(store: MemoryStore, maria: str) -> None:
    privacy, objects, notices = _ports(store)
    [conversation_id] = [c for owner, _, c in sorted(store.customer_conversations) if owner == maria]
    notices.failing = True  # everything erased, then the event refused
    with pytest.raises(RetryableError):
        erase_customer(privacy, objects, notices, maria, requested_by="dev-admin", now=NOW)
    notices.failing = False
    answer, _ = erase_customer(privacy, objects, notices, maria, requested_by="dev-admin", now=NOW)
    assert answer["conversation_ids"] == [conversation_id]
    assert notices.published[0][0]["detail"]["conversation_ids"] == [conversation_id]
