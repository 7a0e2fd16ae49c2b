"""The repository contract: every test runs on the in-memory twins and on the DynamoDB repositories
(moto), so a use case tested on the twins behaves the same on the table."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.core.errors import BadRequest, NotFound, PayloadTooLarge, StoreUnavailable
from chalicelib.core.item_limits import event_json_size
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
from chalicelib.core.ports import Repositories
from chalicelib.core.records import CarriedAcknowledgment, IdempotencyRecord, LastInbound, ThreadDecision
from tests.contract.conftest import Backend

T0 = 1_795_000_000  # 2026-11-18, as Unix seconds
PHONE = Identity(Channel.WHATSAPP, "+393331234567")


def event(event_id: str = "wamid.1", *, text: str = "Where is my order?", **changes: Any) -> InboundEvent:
    values: dict[str, Any] = {
        "provider": "meta", "event_id": event_id, "kind": EventKind.MESSAGE, "channel": Channel.WHATSAPP,
        "occurred_at": "2026-11-18T08:59:58.000Z", "sender": Sender(PHONE, name="Maria", language="it"),
        "text": text, "metadata": {"phone_number_id": "1065"},
    }
    values.update(changes)
    return InboundEvent(**values)


def put(repos: Repositories, inbound: InboundEvent, *, now: float = T0, received_at: str = "2026-11-18T09:00:00.000Z",
        **options: Any) -> bool:
    values: dict[str, Any] = {"endpoint": "meta", "received_at": received_at, "raw_body": b'{"entry":[]}',
                              "content_type": "application/json", "now": now}
    values.update(options)
    return repos.inbox.put(inbound, **values)


def customer(customer_id: str = "cus_1", **changes: Any) -> Customer:
    values: dict[str, Any] = {"id": customer_id, "name": None, "language": None, "tier": "standard",
                              "identities": (PHONE,), "created_at": "2026-11-01T00:00:00.000Z"}
    values.update(changes)
    return Customer(**values)


def conversation(conversation_id: str = "cnv_1", *, at: str = "2026-11-18T09:00:00.000Z", **changes: Any
                 ) -> Conversation:
    values: dict[str, Any] = {
        "id": conversation_id, "reference": f"OH-{conversation_id[-5:].upper()}", "status": ConversationStatus.OPEN,
        "priority": Priority.NORMAL, "route": "default", "customer_id": "cus_1", "channel": Channel.WHATSAPP,
        "created_at": at, "updated_at": at, "last_inbound_at": at,
    }
    values.update(changes)
    return Conversation(**values)


def message(message_id: str = "msg_1", *, at: str = "2026-11-18T09:00:00.000Z", **changes: Any) -> Message:
    values: dict[str, Any] = {"id": message_id, "conversation_id": "cnv_1", "direction": Direction.OUTBOUND,
                              "channel": Channel.WHATSAPP, "created_at": at, "text": "On its way",
                              "status": DeliveryStatus.QUEUED}
    values.update(changes)
    return Message(**values)


def race(workers: int, attempt: Callable[[int], Any]) -> list[Any]:
    """Run ``attempt(i)`` on ``workers`` threads released together; their results in thread order."""
    barrier = threading.Barrier(workers)
    results: list[Any] = [None] * workers

    def run(index: int) -> None:
        barrier.wait()
        results[index] = attempt(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


# ====================================================================== inbox
def test_an_event_is_stored_once_and_read_back_whole(repos: Repositories) -> None:
    inbound = event(text="Dov'è il mio ordine? 📦", attachments=(Attachment("image", media_id="77", size=12),),
                    reply_token="rt-1")
    assert put(repos, inbound) is True
    assert put(repos, inbound, received_at="2026-11-18T09:00:05.000Z") is False
    record = repos.inbox.get(inbound.inbox_key)
    assert record is not None
    assert (record.inbox_key, record.event, record.endpoint) == (inbound.inbox_key, inbound, "meta")
    assert record.received_at == "2026-11-18T09:00:00.000Z"  # the duplicate changed nothing
    assert (record.thread, record.acknowledgment) == (None, None)
    assert repos.inbox.get("meta#unknown") is None


def test_a_duplicate_counts_until_its_retention_runs_out_at_now(backend: Backend) -> None:
    repos = backend.repositories(retention_days=1)
    inbound = event()
    assert put(repos, inbound, now=T0) is True
    repos.inbox.record_thread_decision(inbound.inbox_key, ThreadDecision("cus_1", "cnv_1", opens=True))
    assert put(repos, inbound, now=T0 + 86_400) is False  # expires at T0 + 1 day: not yet past it
    assert put(repos, inbound, now=T0 + 86_401, received_at="2026-11-19T09:00:01.000Z") is True
    record = repos.inbox.get(inbound.inbox_key)
    assert record is not None and record.received_at == "2026-11-19T09:00:01.000Z"
    assert record.thread is None  # a new delivery, decided afresh
    assert put(repos, inbound, now=T0 + 86_402) is False


def test_the_carried_acknowledgment_is_read_back_typed(repos: Repositories) -> None:
    carried = CarriedAcknowledgment(text="Ciao Maria, riferimento OH-7K3Q9.", language="it",
                                    reason="new_conversation", reference="OH-7K3Q9",
                                    expected_at="2026-11-18T11:00:00.000Z", conversation_id="cnv_1")
    put(repos, event(), acknowledgment=carried)
    record = repos.inbox.get(event().inbox_key)
    assert record is not None and record.acknowledgment == carried


def test_the_thread_decision_is_recorded_once(repos: Repositories) -> None:
    put(repos, event())
    first = ThreadDecision("cus_1", "cnv_1", opens=False, previous_inbound_at="2026-11-17T10:00:00.000Z")
    assert repos.inbox.record_thread_decision(event().inbox_key, first) == first
    assert repos.inbox.record_thread_decision(event().inbox_key, ThreadDecision("cus_2", "cnv_2", True)) == first
    record = repos.inbox.get(event().inbox_key)
    assert record is not None and record.thread == first
    with pytest.raises(StoreUnavailable):
        repos.inbox.record_thread_decision("meta#unknown", first)


def test_a_subscription_confirmation_is_recorded_once(repos: Repositories) -> None:
    put(repos, event())
    assert repos.inbox.get(event().inbox_key).confirmed_at is None  # type: ignore[union-attr]
    assert repos.inbox.record_confirmation(event().inbox_key, "2026-11-18T10:00:00.000Z") == "2026-11-18T10:00:00.000Z"
    assert repos.inbox.record_confirmation(event().inbox_key, "2026-11-18T11:00:00.000Z") == "2026-11-18T10:00:00.000Z"
    record = repos.inbox.get(event().inbox_key)
    assert record is not None and record.confirmed_at == "2026-11-18T10:00:00.000Z"
    with pytest.raises(StoreUnavailable):
        repos.inbox.record_confirmation("meta#unknown", "2026-11-18T10:00:00.000Z")


def test_the_raw_payload_inline_or_archived(backend: Backend) -> None:
    repos = backend.repositories()
    inline, archived = event("inline"), event("archived")
    put(repos, inline, raw_body=b"\x00\xffraw")
    body = b"x" * 5000
    pointer = repos.inbox.archive_payload("meta", "2026-11-18T09:00:00.000Z", body)
    assert backend.payloads.get(pointer) == body
    put(repos, archived, raw_body=body, raw_pointer=pointer)
    assert repos.inbox.raw_payload(inline.inbox_key) == b"\x00\xffraw"
    assert repos.inbox.raw_payload(archived.inbox_key) == body
    assert repos.inbox.raw_payload("meta#unknown") is None


def test_an_item_the_table_cannot_hold_is_refused(repos: Repositories) -> None:
    with pytest.raises(PayloadTooLarge):
        put(repos, event("big"), raw_body=b"x" * 410_000)
    assert repos.inbox.get(event("big").inbox_key) is None
    assert put(repos, event("fits"), raw_body=b"x" * 300_000) is True
    with pytest.raises(PayloadTooLarge):
        repos.messages.put(message(text="y" * 410_000))
    assert repos.messages.find("cnv_1", "msg_1") is None


def test_archiving_without_an_archive_is_unavailable(backend: Backend) -> None:
    repos = backend.build()
    with pytest.raises(StoreUnavailable):
        repos.inbox.archive_payload("meta", "2026-11-18T09:00:00.000Z", b"big")


def test_a_payload_needs_a_pointer_when_it_and_its_events_exceed_the_limit(backend: Backend) -> None:
    repos = backend.repositories(inline_payload_limit=1000)
    events = [event("a"), event("b", text="y" * 300)]
    largest = event_json_size(events[1])  # the item's event JSON, as the inbox stores it
    assert repos.inbox.needs_payload_pointer(b"x" * (1000 - largest), events) is False
    assert repos.inbox.needs_payload_pointer(b"x" * (1001 - largest), events) is True
    assert repos.inbox.needs_payload_pointer(b"x" * 1001, []) is True


# ====================================================================== customers and identities
def test_an_identity_is_claimed_once(repos: Repositories) -> None:
    assert repos.customers.identity_owner(PHONE) is None
    assert repos.customers.claim_identity(PHONE, "cus_1") == "cus_1"
    assert repos.customers.claim_identity(PHONE, "cus_2") == "cus_1"
    assert repos.customers.identity_owner(PHONE) == "cus_1"


def test_the_owners_of_several_identities_in_one_read(repos: Repositories) -> None:
    sms, voice = Identity(Channel.SMS, PHONE.address), Identity(Channel.VOICE, PHONE.address)
    repos.customers.claim_identity(sms, "cus_9")
    assert repos.customers.identity_owners([PHONE, sms, voice]) == {sms: "cus_9"}


def test_racing_identity_claims_agree_on_one_owner(repos: Repositories) -> None:
    owners = race(8, lambda i: repos.customers.claim_identity(PHONE, f"cus_{i}"))
    assert len(set(owners)) == 1 and repos.customers.identity_owner(PHONE) == owners[0]


def test_a_customer_is_created_once_with_only_a_new_profile(repos: Repositories) -> None:
    assert repos.customers.create(customer(name="Maria", open_conversation_id="cnv_x", consent={"sms": "granted"}))
    assert repos.customers.create(customer(name="Someone else")) is False
    assert repos.customers.get("cus_1", consistent=True) == customer(name="Maria")
    assert repos.customers.get("cus_unknown") is None


def test_identities_added_later_follow_those_of_the_creation(repos: Repositories) -> None:
    telegram, email = Identity(Channel.TELEGRAM, "42"), Identity(Channel.EMAIL, "maria@example.com")
    repos.customers.create(customer())
    for identity in (telegram, email, telegram, PHONE):
        repos.customers.add_identity("cus_1", identity)
    found = repos.customers.get("cus_1")
    assert found is not None and found.identities == (PHONE, email, telegram)
    repos.customers.add_identity("cus_unknown", telegram)  # e.g. a customer erased meanwhile
    assert repos.customers.get("cus_unknown") is None


def test_the_profile_is_filled_only_where_unset(repos: Repositories) -> None:
    repos.customers.create(customer(language="it"))
    repos.customers.fill_profile("cus_1", name="Maria", language="en")
    repos.customers.fill_profile("cus_1", name="Provider display name", language=None)
    found = repos.customers.get("cus_1")
    assert found is not None and (found.name, found.language) == ("Maria", "it")
    repos.customers.fill_profile("cus_unknown", name="Ghost", language="en")
    assert repos.customers.get("cus_unknown") is None


def test_consent_is_never_overridden_by_an_older_event(repos: Repositories) -> None:
    repos.customers.create(customer())
    repos.customers.set_consent("cus_1", Channel.SMS, "withdrawn", "2026-11-18T10:00:00.000Z")
    repos.customers.set_consent("cus_1", Channel.SMS, "granted", "2026-11-18T09:00:00.000Z")  # older
    repos.customers.set_consent("cus_1", Channel.SMS, "granted", "2026-11-18T10:00:00.000Z")  # same instant
    repos.customers.set_consent("cus_1", Channel.WHATSAPP, "granted", "2026-11-18T08:00:00.000Z")
    found = repos.customers.get("cus_1")
    assert found is not None and found.consent == {"sms": "withdrawn", "whatsapp": "granted"}
    repos.customers.set_consent("cus_1", Channel.SMS, "granted", "2026-11-18T11:00:00.000Z")
    found = repos.customers.get("cus_1")
    assert found is not None and found.consent["sms"] == "granted"
    repos.customers.set_consent("cus_unknown", Channel.SMS, "granted", "2026-11-18T11:00:00.000Z")
    assert repos.customers.get("cus_unknown") is None


def test_the_open_conversation_pointer_is_claimed_against_what_was_read(repos: Repositories) -> None:
    assert repos.customers.claim_open_conversation("cus_unknown", "cnv_1", None) is False
    repos.customers.create(customer())
    assert repos.customers.claim_open_conversation("cus_1", "cnv_1", "cnv_0") is False  # it points nowhere
    assert repos.customers.claim_open_conversation("cus_1", "cnv_1", None) is True
    assert repos.customers.claim_open_conversation("cus_1", "cnv_1", None) is True  # our own claim again
    assert repos.customers.claim_open_conversation("cus_1", "cnv_2", None) is False
    assert repos.customers.claim_open_conversation("cus_1", "cnv_2", "cnv_9") is False
    found = repos.customers.get("cus_1", consistent=True)
    assert found is not None and found.open_conversation_id == "cnv_1" and found.open_claimed_at
    assert repos.customers.claim_open_conversation("cus_1", "cnv_2", "cnv_1") is True
    found = repos.customers.get("cus_1", consistent=True)
    assert found is not None and found.open_conversation_id == "cnv_2"


def test_the_pointer_is_released_only_by_its_conversation(repos: Repositories) -> None:
    repos.customers.create(customer())
    repos.customers.claim_open_conversation("cus_1", "cnv_1", None)
    repos.customers.release_open_conversation("cus_1", "cnv_0")
    found = repos.customers.get("cus_1")
    assert found is not None and found.open_conversation_id == "cnv_1"
    repos.customers.release_open_conversation("cus_1", "cnv_1")
    released = repos.customers.get("cus_1")
    assert released is not None and released.open_conversation_id is None
    assert released.open_claimed_at == found.open_claimed_at  # when it was last claimed stays known
    repos.customers.release_open_conversation("cus_unknown", "cnv_1")
    assert repos.customers.get("cus_unknown") is None


def test_racing_pointer_claims_have_one_winner(repos: Repositories) -> None:
    repos.customers.create(customer())
    won = race(8, lambda i: repos.customers.claim_open_conversation("cus_1", f"cnv_{i}", None))
    found = repos.customers.get("cus_1", consistent=True)
    assert won.count(True) == 1
    assert found is not None and found.open_conversation_id == f"cnv_{won.index(True)}"


# ====================================================================== references
def test_a_reference_is_reserved_for_one_conversation(repos: Repositories) -> None:
    assert repos.references.reserve("OH-7K3Q9", "cnv_1") is True
    assert repos.references.reserve("OH-7K3Q9", "cnv_1") is True  # a retry finds its own
    assert repos.references.reserve("OH-7K3Q9", "cnv_2") is False
    assert repos.references.conversation_for("OH-7K3Q9") == "cnv_1"
    assert repos.references.conversation_for("oh-7k3q9") == "cnv_1"  # typed by a person
    assert repos.references.conversation_for("OH-00000") is None


def test_racing_reservations_have_one_winner(repos: Repositories) -> None:
    won = race(8, lambda i: repos.references.reserve("OH-RACE1", f"cnv_{i}"))
    assert won.count(True) == 1 and repos.references.conversation_for("OH-RACE1") == f"cnv_{won.index(True)}"


def test_a_reference_moves_only_from_the_conversation_it_names(repos: Repositories) -> None:
    repos.references.reserve("OH-7K3Q9", "cnv_announced")
    repos.references.move("OH-7K3Q9", "cnv_other", "cnv_joined")
    assert repos.references.conversation_for("OH-7K3Q9") == "cnv_announced"
    repos.references.move("OH-7K3Q9", "cnv_announced", "cnv_joined")
    assert repos.references.conversation_for("OH-7K3Q9") == "cnv_joined"
    repos.references.move("OH-NONE1", "cnv_announced", "cnv_joined")
    assert repos.references.conversation_for("OH-NONE1") is None


# ====================================================================== conversations
def test_a_conversation_is_created_once_and_read_back_whole(repos: Repositories) -> None:
    created = conversation(tags=("vip", "billing"), priority=Priority.HIGH, route="default")
    assert repos.conversations.create(created) is True
    assert repos.conversations.create(replace(created, reference="OH-OTHER")) is False
    assert repos.conversations.get("cnv_1", consistent=True) == created
    assert repos.conversations.get("cnv_unknown") is None
    assert repos.conversations.customer_conversation_ids("cus_1") == ["cnv_1"]


def test_a_customers_conversations_are_listed_oldest_first(repos: Repositories) -> None:
    for conversation_id, at in (("cnv_b", "2026-11-18T09:00:00.000Z"), ("cnv_a", "2026-11-18T09:00:00.000Z"),
                                ("cnv_c", "2026-11-01T09:00:00.000Z"), ("cnv_d", "2026-11-20T09:00:00.000Z")):
        repos.conversations.create(conversation(conversation_id, at=at))
    repos.conversations.create(conversation("cnv_other", customer_id="cus_2"))
    assert repos.conversations.customer_conversation_ids("cus_1") == ["cnv_c", "cnv_a", "cnv_b", "cnv_d"]
    assert repos.conversations.customer_conversation_ids("cus_nobody") == []


def test_a_conversation_with_its_messages_in_order(repos: Repositories) -> None:
    assert repos.conversations.get_with_messages("cnv_1") is None
    repos.conversations.create(conversation())
    later = message("msg_b", at="2026-11-18T09:05:00.000Z")
    first, second = message("msg_z", at="2026-11-18T09:00:00.000Z"), message("msg_a", at="2026-11-18T09:05:00.000Z")
    for stored in (later, first, second, message("msg_elsewhere", conversation_id="cnv_2")):
        repos.messages.put(stored)
    found = repos.conversations.get_with_messages("cnv_1")
    assert found is not None
    assert found[0] == conversation() and found[1] == [first, second, later]


def test_inbound_activity_only_moves_forward(repos: Repositories) -> None:
    repos.conversations.create(conversation(at="2026-11-18T09:00:00.000Z"))
    repos.conversations.record_inbound_activity("cnv_1", "2026-11-18T10:00:00.000Z")
    repos.conversations.record_inbound_activity("cnv_1", "2026-11-18T09:30:00.000Z")  # a late retry
    found = repos.conversations.get("cnv_1")
    assert found is not None and (found.last_inbound_at, found.updated_at) == ("2026-11-18T10:00:00.000Z",) * 2
    repos.conversations.record_inbound_activity("cnv_unknown", "2026-11-18T10:00:00.000Z")
    assert repos.conversations.get("cnv_unknown") is None
    repos.conversations.create(conversation("cnv_2", last_inbound_at=None))  # opened by us, not by the customer
    repos.conversations.record_inbound_activity("cnv_2", "2026-11-18T09:10:00.000Z")
    found = repos.conversations.get("cnv_2")
    assert found is not None and found.last_inbound_at == "2026-11-18T09:10:00.000Z"


def test_status_changes_and_resolution_time(repos: Repositories) -> None:
    repos.conversations.create(conversation())
    resolved = repos.conversations.set_status("cnv_1", ConversationStatus.RESOLVED, "2026-11-18T12:00:00.000Z")
    assert (resolved.status, resolved.resolved_at, resolved.updated_at) == (
        ConversationStatus.RESOLVED, "2026-11-18T12:00:00.000Z", "2026-11-18T12:00:00.000Z")
    assert repos.conversations.get("cnv_1") == resolved
    reopened = repos.conversations.set_status("cnv_1", ConversationStatus.PENDING, "2026-11-18T13:00:00.000Z")
    assert (reopened.status, reopened.resolved_at) == (ConversationStatus.PENDING, None)
    assert repos.conversations.get("cnv_1") == reopened
    with pytest.raises(NotFound):
        repos.conversations.set_status("cnv_unknown", ConversationStatus.RESOLVED, "2026-11-18T12:00:00.000Z")


def every_page(repos: Repositories, **query: Any) -> list[list[str]]:
    """The ids on every page of a listing, following the cursors to the end."""
    pages, cursor = [], None
    while True:
        page = repos.conversations.list(cursor=cursor, **{"status": None, "route": None, "customer_id": None,
                                                          "limit": 50, **query})
        pages.append([item["id"] for item in page.items])
        assert len(pages) < 50, "the cursors never end"
        if page.next_cursor is None:
            return pages
        cursor = page.next_cursor


def flat(pages: list[list[str]]) -> list[str]:
    return [item for page in pages for item in page]


def seed_listing(repos: Repositories) -> None:
    """Seven open (one on another route), two pending and two resolved conversations."""
    for n in range(7):
        route = "vip" if n == 3 else "default"
        repos.conversations.create(conversation(f"cnv_o{n}", at=f"2026-11-18T09:0{n}:00.000Z", route=route,
                                                customer_id=f"cus_{n % 2}"))
    for n, status in enumerate([ConversationStatus.PENDING] * 2 + [ConversationStatus.RESOLVED] * 2):
        repos.conversations.create(conversation(f"cnv_s{n}", at=f"2026-11-17T09:0{n}:00.000Z",
                                                customer_id=f"cus_{n % 2}"))
        repos.conversations.set_status(f"cnv_s{n}", status, f"2026-11-18T1{n}:00:00.000Z")


def test_a_status_listing_is_newest_first_over_several_pages(repos: Repositories) -> None:
    seed_listing(repos)
    newest_first = [f"cnv_o{n}" for n in range(6, -1, -1)]
    assert every_page(repos, status=ConversationStatus.OPEN, limit=3) == [
        newest_first[:3], newest_first[3:6], newest_first[6:]]
    assert every_page(repos, status=ConversationStatus.OPEN, limit=7) == [newest_first]
    assert every_page(repos, status=ConversationStatus.RESOLVED) == [["cnv_s3", "cnv_s2"]]


def test_activity_moves_a_conversation_up_and_a_status_change_moves_it_across(repos: Repositories) -> None:
    seed_listing(repos)
    repos.conversations.record_inbound_activity("cnv_o0", "2026-11-18T11:00:00.000Z")
    repos.conversations.set_status("cnv_o6", ConversationStatus.PENDING, "2026-11-18T12:00:00.000Z")
    [open_ids] = every_page(repos, status=ConversationStatus.OPEN)
    [pending_ids] = every_page(repos, status=ConversationStatus.PENDING)
    assert open_ids == ["cnv_o0", "cnv_o5", "cnv_o4", "cnv_o3", "cnv_o2", "cnv_o1"]
    assert pending_ids == ["cnv_o6", "cnv_s1", "cnv_s0"]


def test_listing_every_status_goes_open_then_pending_then_resolved(repos: Repositories) -> None:
    seed_listing(repos)
    pages = every_page(repos, limit=4)
    assert [len(page) for page in pages] == [4, 4, 3]
    assert flat(pages) == [f"cnv_o{n}" for n in range(6, -1, -1)] + ["cnv_s1", "cnv_s0", "cnv_s3", "cnv_s2"]


def test_a_route_filter_keeps_the_order_and_may_shorten_pages(repos: Repositories) -> None:
    seed_listing(repos)
    assert flat(every_page(repos, status=ConversationStatus.OPEN, route="vip", limit=2)) == ["cnv_o3"]
    defaults = every_page(repos, status=ConversationStatus.OPEN, route="default", limit=2)
    assert flat(defaults) == ["cnv_o6", "cnv_o5", "cnv_o4", "cnv_o2", "cnv_o1", "cnv_o0"]
    assert all(len(page) <= 2 for page in defaults)


def test_a_customers_listing_is_oldest_first_with_filters_and_cursors(repos: Repositories) -> None:
    seed_listing(repos)
    assert every_page(repos, customer_id="cus_0", limit=2) == [["cnv_s0", "cnv_s2"], ["cnv_o0", "cnv_o2"],
                                                               ["cnv_o4", "cnv_o6"]]
    assert every_page(repos, customer_id="cus_1", status=ConversationStatus.OPEN, limit=2) == [
        ["cnv_o1", "cnv_o3"], ["cnv_o5"]]
    assert every_page(repos, customer_id="cus_1", route="vip") == [["cnv_o3"]]
    assert every_page(repos, customer_id="cus_nobody") == [[]]


def test_a_listing_returns_the_api_view(repos: Repositories) -> None:
    repos.conversations.create(conversation(tags=("vip",)))
    page = repos.conversations.list(status=None, route=None, customer_id=None, limit=10, cursor=None)
    assert page.items == [conversation(tags=("vip",)).to_api()] and page.next_cursor is None


def test_the_page_size_is_kept_between_one_and_two_hundred(repos: Repositories) -> None:
    seed_listing(repos)
    assert len(repos.conversations.list(status=None, route=None, customer_id=None, limit=0, cursor=None).items) == 1
    everything = repos.conversations.list(status=None, route=None, customer_id=None, limit=10_000, cursor=None)
    assert len(everything.items) == 11 and everything.next_cursor is None


def _forged(state: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode()


UNREADABLE = ["not a cursor", "%%%", _forged([1, 2]), _forged("s")]


@pytest.mark.parametrize(
    ("customer_id", "cursor"),
    [(None, c) for c in [*UNREADABLE, _forged({"s": "x"}), _forged({"s": 0, "k": 5}),
                         _forged({"s": 0, "k": {"pk": {"S": "x"}}})]]
    + [("cus_0", c) for c in [*UNREADABLE, _forged({"offset": "x"}), _forged({"offset": [1]})]],
)
def test_a_cursor_the_api_did_not_return_is_a_bad_request(
    repos: Repositories, customer_id: str | None, cursor: str
) -> None:
    seed_listing(repos)
    with pytest.raises(BadRequest):
        repos.conversations.list(status=None, route=None, customer_id=customer_id, limit=2, cursor=cursor)


# ====================================================================== messages and delivery statuses
def test_a_message_is_stored_once_and_found(repos: Repositories) -> None:
    stored = message(attachments=(Attachment("document", url="https://x.example/a.pdf", name="a.pdf"),),
                     provider="twilio", provider_message_id="SM1", error_code=None)
    assert repos.messages.put(stored, kind="agent_reply", job={"outbound_id": "msg_1"}) is True
    assert repos.messages.put(replace(stored, text="changed")) is False
    assert repos.messages.find("cnv_1", "msg_1") == stored
    assert repos.messages.find("cnv_1", "msg_unknown") is None
    assert repos.messages.find("cnv_2", "msg_1") is None


def test_a_message_is_one_per_conversation_time_and_id(repos: Repositories) -> None:
    # A retried agent reply lands on the same item because its Idempotency-Key gives back the first time.
    assert repos.messages.put(message(at="2026-11-18T09:00:00.000Z")) is True
    assert repos.messages.put(message(at="2026-11-18T09:00:01.000Z")) is True
    assert repos.messages.find("cnv_1", "msg_1") == message(at="2026-11-18T09:00:00.000Z")


def test_the_last_inbound_message_on_a_channel(repos: Repositories) -> None:
    assert repos.messages.last_inbound_on_channel("cnv_1", Channel.WHATSAPP) is None
    inbound = {"direction": Direction.INBOUND, "status": DeliveryStatus.RECEIVED}
    repos.messages.put(message("in_1", at="2026-11-18T09:00:00.000Z", provider="meta", inbox_key="meta#w1",
                               **inbound))
    repos.messages.put(message("in_2", at="2026-11-18T09:10:00.000Z", provider="twilio", inbox_key="twilio#w2",
                               **inbound))
    repos.messages.put(message("in_sms", at="2026-11-18T09:20:00.000Z", channel=Channel.SMS, **inbound))
    repos.messages.put(message("out_1", at="2026-11-18T09:30:00.000Z"))
    assert repos.messages.last_inbound_on_channel("cnv_1", Channel.WHATSAPP) == LastInbound(
        "2026-11-18T09:10:00.000Z", "twilio", "twilio#w2")
    assert repos.messages.last_inbound_on_channel("cnv_1", Channel.SMS) == LastInbound(
        "2026-11-18T09:20:00.000Z", None, None)
    assert repos.messages.last_inbound_on_channel("cnv_1", Channel.TELEGRAM) is None


def status_of(repos: Repositories, message_id: str = "msg_1") -> tuple[DeliveryStatus, str | None]:
    found = repos.messages.find("cnv_1", message_id)
    assert found is not None
    return found.status, found.error_code


def test_delivery_statuses_only_move_forward(repos: Repositories) -> None:
    repos.messages.put(message(provider="twilio", provider_message_id="SM1"))
    apply = repos.messages.apply_delivery_status
    assert apply("twilio", "SM1", DeliveryStatus.SENT, None) is True
    assert apply("twilio", "SM1", DeliveryStatus.DELIVERED, None) is True
    assert apply("twilio", "SM1", DeliveryStatus.DELIVERED, None) is False
    assert apply("twilio", "SM1", DeliveryStatus.SENT, None) is False
    assert apply("twilio", "SM1", DeliveryStatus.READ, None) is True
    assert apply("twilio", "SM1", DeliveryStatus.FAILED, "30008") is False  # read: it reached them
    assert status_of(repos) == (DeliveryStatus.READ, None)


def test_failed_is_terminal_and_keeps_its_code(repos: Repositories) -> None:
    repos.messages.put(message(provider="twilio", provider_message_id="SM1"))
    assert repos.messages.apply_delivery_status("twilio", "SM1", DeliveryStatus.FAILED, "30008") is True
    assert repos.messages.apply_delivery_status("twilio", "SM1", DeliveryStatus.DELIVERED, None) is False
    assert status_of(repos) == (DeliveryStatus.FAILED, "30008")


def test_a_status_before_the_senders_answer_is_parked_then_applied(repos: Repositories) -> None:
    repos.messages.put(message())
    assert repos.messages.apply_delivery_status("twilio", "SM1", DeliveryStatus.DELIVERED, None) is False
    assert status_of(repos) == (DeliveryStatus.QUEUED, None)
    repos.messages.record_outbound_result(message(), status=DeliveryStatus.SENT, provider="twilio",
                                          provider_message_id="SM1")
    assert status_of(repos) == (DeliveryStatus.DELIVERED, None)  # the sender's "sent" came too late to count
    found = repos.messages.find("cnv_1", "msg_1")
    assert found is not None and (found.provider, found.provider_message_id) == ("twilio", "SM1")
    assert repos.messages.apply_delivery_status("twilio", "SM1", DeliveryStatus.READ, None) is True


def test_the_best_parked_status_wins_with_its_error_code(repos: Repositories) -> None:
    repos.messages.put(message("msg_1"))
    repos.messages.put(message("msg_2"))
    for status in (DeliveryStatus.SENT, DeliveryStatus.READ, DeliveryStatus.DELIVERED):
        assert repos.messages.apply_delivery_status("twilio", "SM1", status, None) is False
    repos.messages.apply_delivery_status("twilio", "SM2", DeliveryStatus.FAILED, "30006")
    repos.messages.apply_delivery_status("twilio", "SM2", DeliveryStatus.DELIVERED, None)
    for message_id, provider_id in (("msg_1", "SM1"), ("msg_2", "SM2")):
        repos.messages.record_outbound_result(message(message_id), status=DeliveryStatus.SENT, provider="twilio",
                                              provider_message_id=provider_id)
    assert status_of(repos, "msg_1") == (DeliveryStatus.READ, None)
    assert status_of(repos, "msg_2") == (DeliveryStatus.FAILED, "30006")


def test_a_result_is_recorded_only_on_a_stored_message(repos: Repositories) -> None:
    repos.messages.record_outbound_result(message(), status=DeliveryStatus.SENT, provider="twilio",
                                          provider_message_id="SM1")
    assert repos.messages.find("cnv_1", "msg_1") is None
    assert repos.messages.apply_delivery_status("twilio", "SM1", DeliveryStatus.DELIVERED, None) is False


def test_a_failure_and_later_ids_are_recorded_but_never_undo_it(repos: Repositories) -> None:
    repos.messages.put(message())
    repos.messages.record_outbound_result(message(), status=DeliveryStatus.FAILED, provider="twilio",
                                          provider_message_id=None, error_code="21211", error_reason="invalid To")
    assert status_of(repos) == (DeliveryStatus.FAILED, "21211")
    repos.messages.record_outbound_result(message(), status=DeliveryStatus.SENT, provider="twilio",
                                          provider_message_id="SM1")
    found = repos.messages.find("cnv_1", "msg_1")
    assert found is not None and (found.status, found.provider_message_id) == (DeliveryStatus.FAILED, "SM1")


def test_a_provider_message_id_stays_with_the_first_message_named(repos: Repositories) -> None:
    repos.messages.put(message("msg_1", provider="twilio", provider_message_id="SM1"))
    repos.messages.put(message("msg_2", provider="twilio", provider_message_id="SM1"))
    assert repos.messages.apply_delivery_status("twilio", "SM1", DeliveryStatus.DELIVERED, None) is True
    assert status_of(repos, "msg_1")[0] is DeliveryStatus.DELIVERED
    assert status_of(repos, "msg_2")[0] is DeliveryStatus.QUEUED
    assert repos.messages.apply_delivery_status("meta", "SM1", DeliveryStatus.DELIVERED, None) is False


# ====================================================================== delivery claims and idempotency keys
def test_a_delivery_claim_is_leased(repos: Repositories) -> None:
    claims = repos.deliveries
    assert claims.claim("out_1", 360, now=T0) is True
    assert claims.claim("out_1", 360, now=T0 + 360) is False  # the lease runs to its last second
    assert claims.claim("out_1", 360, now=T0 + 361) is True  # a crashed attempt is taken over
    assert claims.claim("out_2", 360, now=T0) is True


def test_a_finished_delivery_is_never_claimed_again(repos: Repositories) -> None:
    repos.deliveries.claim("out_1", 360, now=T0)
    repos.deliveries.finish("out_1", "sent", {"provider_message_id": "SM1"})
    repos.deliveries.release("out_1")  # too late: it is no longer sending
    assert repos.deliveries.claim("out_1", 360, now=T0 + 10_000) is False
    repos.deliveries.finish("out_9", "failed", {"code": "21211"})  # recorded even without a claim
    assert repos.deliveries.claim("out_9", 360, now=T0) is False


def test_a_released_claim_can_be_taken_again(repos: Repositories) -> None:
    repos.deliveries.claim("out_1", 360, now=T0)
    repos.deliveries.release("out_1")
    repos.deliveries.release("out_unknown")
    assert repos.deliveries.claim("out_1", 360, now=T0 + 1) is True


def test_racing_delivery_claims_have_one_winner(repos: Repositories) -> None:
    won = race(8, lambda _: repos.deliveries.claim("out_1", 360, now=T0))
    assert won.count(True) == 1


def test_an_idempotency_key_remembers_its_first_time_and_body(repos: Repositories) -> None:
    keys = repos.idempotency
    first = IdempotencyRecord("2026-11-18T09:00:00.000Z", "body-a")
    assert keys.remember("cnv_1", "key-1", "2026-11-18T09:00:00.000Z", "body-a") == first
    assert keys.remember("cnv_1", "key-1", "2026-11-18T09:00:07.000Z", "body-b") == first
    assert keys.remember("cnv_2", "key-1", "2026-11-18T09:00:07.000Z", "body-b") == IdempotencyRecord(
        "2026-11-18T09:00:07.000Z", "body-b"
    )
    records = race(6, lambda i: keys.remember("cnv_3", "key-1", f"2026-11-18T09:00:0{i}.000Z", f"body-{i}"))
    assert len(set(records)) == 1


# ====================================================================== the payload archive
def test_the_payload_archive_keeps_bytes_under_a_pointer(backend: Backend) -> None:
    archive = backend.payloads
    first = archive.put("raw/meta/2026-11-18/a", b"\x00\x01binary\xff")
    second = archive.put("raw/meta/2026-11-18/b", b"other")
    assert first != second
    assert archive.get(first) == b"\x00\x01binary\xff" and archive.get(second) == b"other"
    assert archive.put("raw/meta/2026-11-18/a", b"again") == first and archive.get(first) == b"again"


def test_a_mail_message_id_names_one_conversation_for_good(repos: Repositories) -> None:
    threads = repos.mail_threads
    assert threads is not None
    assert threads.remember("CAH7yN8s@mail.gmail.com", "cnv_1", now=T0)
    assert threads.remember("CAH7yN8s@mail.gmail.com", "cnv_1", now=T0 + 5)  # a retry: still ours
    assert not threads.remember("CAH7yN8s@mail.gmail.com", "cnv_2", now=T0)  # the first conversation keeps it
    assert threads.remember("0102-sent-1@eu-west-1.amazonses.com", "cnv_2", now=T0)
    found = threads.conversations_for(["unknown@x.example", "CAH7yN8s@mail.gmail.com",
                                       "0102-sent-1@eu-west-1.amazonses.com", "CAH7yN8s@mail.gmail.com"])
    assert found == {"CAH7yN8s@mail.gmail.com": "cnv_1", "0102-sent-1@eu-west-1.amazonses.com": "cnv_2"}
    assert threads.conversations_for([]) == {}


def test_kept_media_is_read_only_through_a_link_that_names_the_file(repos: Repositories, backend: Backend) -> None:
    from urllib.parse import parse_qs, urlsplit

    media = repos.media
    assert media is not None
    pointer = media.put("attachments/email/abc/0123", b"%PDF-1.4 ...", content_type="application/pdf")
    assert pointer == media.put("attachments/email/abc/0123", b"%PDF-1.4 ...", content_type="application/pdf")
    assert pointer.endswith("/attachments/email/abc/0123")
    link = media.link(pointer, filename="invoice 2024.pdf", content_type="application/pdf", expires_in=300)
    assert link is not None and "attachments/email/abc/0123" in link
    if backend.name == "dynamo":  # a real presigned GET: signed, expiring, naming the file
        query = parse_qs(urlsplit(link).query)
        assert query["X-Amz-Expires"] == ["300"] and "X-Amz-Signature" in query
        assert query["response-content-type"] == ["application/pdf"]
        assert 'filename="invoice 2024.pdf"' in query["response-content-disposition"][0]
        assert backend.payloads.get(pointer) == b"%PDF-1.4 ..."
    assert media.link("s3://someone-elses-bucket/x", filename=None, content_type=None, expires_in=300) is None


def test_an_expiring_claim_has_one_holder_until_it_expires(repos: Repositories) -> None:
    claims = repos.claims
    assert claims is not None
    assert claims.claim("mailgun#token#abc", "body-1", T0 + 600, now=T0)
    assert claims.claim("mailgun#token#abc", "body-1", T0 + 600, now=T0 + 5)  # the same holder: a retry
    assert not claims.claim("mailgun#token#abc", "body-2", T0 + 900, now=T0 + 10)  # another: refused
    assert claims.claim("mailgun#token#other", "body-2", T0 + 600, now=T0 + 10)  # keys are independent
    assert claims.claim("mailgun#token#abc", "body-2", T0 + 1500, now=T0 + 601)  # expired: free again
    assert not claims.claim("mailgun#token#abc", "body-1", T0 + 2000, now=T0 + 602)
