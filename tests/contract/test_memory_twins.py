"""What only the twins offer (a view of every record, the relay's feed) and what moto cannot show."""

from __future__ import annotations

import pytest

from chalicelib.adapters.memory import (
    InboxWritten,
    JobWritten,
    MemoryBus,
    MemoryPayloadArchive,
    MemorySecrets,
    MemoryStore,
    memory_repositories,
)
from chalicelib.adapters.resources import ROUTE_DEFAULT_QUEUE
from chalicelib.adapters.sqs import Outgoing, PublishFailed
from chalicelib.core.errors import StoreUnavailable
from chalicelib.core.model import Identity
from tests.contract.test_repositories import PHONE, T0, conversation, customer, event, message, put


def test_a_scan_shows_every_record_and_a_retry_changes_none() -> None:
    store = MemoryStore()
    repos = memory_repositories(store)
    put(repos, event())
    repos.customers.create(customer())
    repos.customers.claim_identity(PHONE, "cus_1")
    repos.conversations.create(conversation())
    repos.references.reserve("OH-7K3Q9", "cnv_1")
    repos.messages.put(message(provider="twilio", provider_message_id="SM1"))
    repos.deliveries.claim("msg_1", 360, now=T0)
    repos.idempotency.remember("cnv_1", "key-1", "2026-11-18T09:00:00.000Z", "body-a")
    before = store.scan()
    assert sorted({stored.aggregate for stored in before}) == [
        "claims", "conversations", "customer_conversations", "customers", "idempotency", "identities", "inbox",
        "messages", "provider_messages", "references"]
    assert [stored.key for stored in before if stored.aggregate == "identities"] == [(PHONE.key,)]
    put(repos, event())
    repos.customers.create(customer(name="Other"))
    repos.conversations.create(conversation())
    repos.messages.put(message(provider="twilio", provider_message_id="SM1"))
    assert store.scan() == before


def test_the_feed_is_what_the_stream_relay_would_queue() -> None:
    store = MemoryStore()
    repos = memory_repositories(store, retention_days=1)
    put(repos, event(), now=T0)
    put(repos, event(), now=T0 + 5)  # a duplicate: no stream record
    put(repos, event(), now=T0 + 86_401)  # expired and overwritten: relayed again
    job = {"outbound_id": "msg_1", "conversation_id": "cnv_1", "text": "città"}
    repos.messages.put(message(), job=job)
    repos.messages.put(message(), job=job)
    repos.messages.put(message("msg_2"))  # stored without a job: nothing to send
    inbox_change = InboxWritten(event().inbox_key, "message", PHONE.key)
    assert store.changes[:2] == [inbox_change, inbox_change]
    assert len(store.changes) == 3 and isinstance(store.changes[2], JobWritten) and store.jobs() == [job]
    [entry] = [record for record in store.records("messages") if record.message.id == "msg_1"]
    assert entry.job == job


def test_a_finished_claim_keeps_its_outcome() -> None:
    store = MemoryStore()
    repos = memory_repositories(store)
    repos.deliveries.claim("out_1", 360, now=T0)
    [claim] = store.records("claims")
    assert (claim.state, claim.lease_until) == ("sending", T0 + 360)
    repos.deliveries.finish("out_1", "sent", {"provider_message_id": "SM1"})
    [claim] = store.records("claims")
    assert (claim.state, claim.lease_until, claim.detail) == ("sent", None, {"provider_message_id": "SM1"})


def test_a_deduplication_id_is_remembered_for_five_minutes_even_once_consumed() -> None:
    now = [1000.0]
    bus = MemoryBus(clock=lambda: now[0])
    bus.publish(ROUTE_DEFAULT_QUEUE, Outgoing({"n": 1}, group_id="g", dedupe_id="d"))
    assert [q.body for q in bus.take(ROUTE_DEFAULT_QUEUE)] == [{"n": 1}]
    now[0] += 299
    bus.publish(ROUTE_DEFAULT_QUEUE, Outgoing({"n": 2}, group_id="g", dedupe_id="d"))
    assert bus.messages(ROUTE_DEFAULT_QUEUE) == []
    now[0] += 1
    bus.publish(ROUTE_DEFAULT_QUEUE, Outgoing({"n": 3}, group_id="g", dedupe_id="d"))
    assert bus.bodies(ROUTE_DEFAULT_QUEUE) == [{"n": 3}]


def test_a_refusing_queue_reports_what_it_refused() -> None:
    bus = MemoryBus()
    bus.refusing.add("d2")
    batch = [Outgoing({"n": n}, group_id="g", dedupe_id=f"d{n}") for n in (1, 2, 3)]
    assert bus.publish_batch(ROUTE_DEFAULT_QUEUE, batch) == ["d2"]
    assert bus.bodies(ROUTE_DEFAULT_QUEUE) == [{"n": 1}, {"n": 3}]
    with pytest.raises(PublishFailed):
        bus.publish(ROUTE_DEFAULT_QUEUE, batch[1])


def test_an_archive_pointer_it_never_gave_is_unavailable() -> None:
    archive = MemoryPayloadArchive()
    pointer = archive.put("raw/a", b"body")
    with pytest.raises(StoreUnavailable):
        archive.get(pointer + "x")
    with pytest.raises(StoreUnavailable):
        archive.get("s3://payloads/raw/a")


def test_the_secret_reader_lists_what_was_read() -> None:
    secrets = MemorySecrets({"TELEGRAM_BOT_TOKEN": "t"})
    secrets.get_many(["TELEGRAM_BOT_TOKEN", "LINE_CHANNEL_ACCESS_TOKEN"])
    assert secrets.reads == ["TELEGRAM_BOT_TOKEN", "LINE_CHANNEL_ACCESS_TOKEN"]


def test_identity_keys_are_read_back_as_identities() -> None:
    repos = memory_repositories()
    repos.customers.create(customer(identities=(PHONE, Identity("email", "Maria@Example.com"))))
    found = repos.customers.get("cus_1")
    assert found is not None and found.identities == (PHONE, Identity("email", "maria@example.com"))
