"""The crisis store and the send pacer: the same behaviour from the in-memory twins and from
DynamoDB on moto (the table made from resources.TABLE, with its customers index)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib.core.incident import Audience, BroadcastRef, Incident, IncidentStatus, IncidentUpdate, PlanState
from chalicelib.core.model import Channel, Customer, DeliveryStatus, Direction, Identity, Message
from chalicelib.core.ports import CrisisStore, Repositories, SendPacer
from tests.contract.conftest import Backend


@pytest.fixture
def crisis(backend: Backend, repos: Repositories) -> Iterator[tuple[CrisisStore, SendPacer]]:
    if backend.name == "memory":
        from chalicelib.adapters.memory.crisis import MemoryCrisis, MemoryPacer

        yield MemoryCrisis(repos.customers.store), MemoryPacer()  # type: ignore[attr-defined]
        return
    from chalicelib.adapters.dynamo.crisis import DynamoCrisis
    from chalicelib.adapters.dynamo.pacing import DynamoPacer

    table: Any = repos.customers._table  # type: ignore[attr-defined]
    yield DynamoCrisis(table), DynamoPacer(table)


def _incident(number: int = 1) -> Incident:
    return Incident(id=f"inc-2027011{number}T000000000000-abc", title="Outage", status=IncidentStatus.INVESTIGATING,
                    keywords=("rete",), audience=Audience(tiers=("vip",), channels=("sms",)),
                    created_at=f"2027-01-1{number}T00:00:00.000Z", updated_at=f"2027-01-1{number}T00:00:00.000Z")


def test_incidents_are_created_once_listed_newest_first_and_cancelled_once(crisis: Any) -> None:
    store, _ = crisis
    assert store.create_incident(_incident(1)) and not store.create_incident(_incident(1))
    assert store.create_incident(_incident(2))
    assert [i.id for i in store.list_incidents(10)] == [_incident(2).id, _incident(1).id]
    assert store.get_incident(_incident(1).id) == _incident(1)
    assert store.cancel_incident(_incident(1).id, "2027-01-12T00:00:00.000Z")
    assert not store.cancel_incident(_incident(1).id, "2027-01-13T00:00:00.000Z")
    assert store.get_incident(_incident(1).id).cancelled_at == "2027-01-12T00:00:00.000Z"
    store.set_incident_status(_incident(2).id, "identified", "2027-01-13T00:00:00.000Z")
    assert store.get_incident(_incident(2).id).status is IncidentStatus.IDENTIFIED


def test_the_plan_advances_conditionally_and_counters_and_recipients_count_once(crisis: Any) -> None:
    store, _ = crisis
    incident = _incident()
    store.create_incident(incident)
    update = IncidentUpdate(incident.id, "upd-1", IncidentStatus.INVESTIGATING, {"it": "ciao"}, incident.created_at)
    assert store.add_update(update) and not store.add_update(update)
    start = store.plan_state(incident.id, "upd-1")
    assert start == PlanState()
    page = PlanState("audience", "cursor-1")
    assert store.advance_plan(incident.id, "upd-1", start, page, {("planned", "sms"): 2}, {("opted_out", "sms"): 1})
    assert not store.advance_plan(incident.id, "upd-1", start, page, {("planned", "sms"): 2}, {})
    claim = store.claim_recipient(incident.id, "upd-1", "cus1", "bc_1", "2027-01-11T00:00:01.000Z")
    again = store.claim_recipient(incident.id, "upd-1", "cus1", "bc_other", "2027-01-11T00:00:09.000Z")
    assert claim.fresh and not again.fresh and again.outbound_id == "bc_1" and again.state == "claimed"
    assert store.settle_recipient(incident.id, "upd-1", "cus1", "sent", "sms", at="2027-01-11T00:00:02.000Z")
    assert not store.settle_recipient(incident.id, "upd-1", "cus1", "sent", "sms", at="2027-01-11T00:00:03.000Z")
    store.claim_recipient(incident.id, "upd-1", "cus2", "bc_2", "2027-01-11T00:00:01.000Z")
    store.settle_recipient(incident.id, "upd-1", "cus2", "skipped", "sms", "opted_out")
    assert store.advance_plan(incident.id, "upd-1", page, PlanState("done"), {}, {})
    (stored,) = store.updates(incident.id)
    progress = stored.progress.to_api()
    assert progress["planned"] == 2 and progress["sent"] == 1 and progress["skipped"] == 2
    assert progress["per_channel"]["sms"]["skipped_reasons"] == {"opted_out": 2}
    assert progress["last_sent_at"] == "2027-01-11T00:00:02.000Z" and progress["planning_done"]


def test_the_audience_pages_through_every_customer_once_oldest_first(crisis: Any, repos: Repositories) -> None:
    store, _ = crisis
    for number in range(7):
        repos.customers.create(Customer(id=f"c{number}", name=None, language="it", tier="standard",
                                        identities=(Identity(Channel.SMS, f"+3933300000{number:02d}"),),
                                        created_at=f"2027-01-01T00:00:0{number}.000Z"))
    repos.customers.record_last_inbound("c3", Channel.SMS, "2027-01-02T00:00:00.000Z")
    seen, cursor = [], None
    while True:
        page, cursor = store.audience_page(cursor, 3)
        seen += page
        if cursor is None:
            break
    assert [c.id for c in seen] == [f"c{n}" for n in range(7)]
    assert seen[3].last_inbound_channel is Channel.SMS and seen[3].last_inbound_at == "2027-01-02T00:00:00.000Z"
    assert [c.id for c in store.customers_by_id(["c5", "c1", "missing"])] == ["c1", "c5"]


def test_keyword_contacts_are_recorded_once_and_paged(crisis: Any) -> None:
    store, _ = crisis
    for customer_id in ("a", "b", "c", "a"):
        store.record_keyword_contact("inc-1", customer_id, "2027-01-01T00:00:00.000Z")
    first, cursor = store.keyword_contacts_page("inc-1", None, 2)
    second, end = store.keyword_contacts_page("inc-1", cursor, 2)
    assert first + second == ["a", "b", "c"] and end is None


def test_the_token_bucket_starts_full_refills_at_its_rate_and_honours_a_hold(crisis: Any) -> None:
    _, pacer = crisis
    now = 1_800_000_000.0
    assert [pacer.take("sms:+1", 2, 2, now) for _ in range(2)] == [0, 0]
    assert pacer.take("sms:+1", 2, 2, now) == pytest.approx(0.5)
    assert pacer.take("sms:+1", 2, 2, now + 0.5) == 0
    assert pacer.take("sms:+1", 2, 2, now + 0.5, wait=False) == 0  # one-to-one care never waits ...
    assert pacer.take("sms:+1", 2, 2, now + 0.6) == pytest.approx(0.9)  # ... and broadcasts yield to it
    pacer.hold("sms:+1", now + 30)
    assert pacer.take("sms:+1", 2, 2, now + 10) == pytest.approx(20)
    assert pacer.take("sms:+1", 2, 2, now + 31) == 0


def _broadcast_message(number: int, incident_id: str, update_id: str, channel: Channel = Channel.SMS) -> Message:
    return Message(id=f"bc_{number}", conversation_id=f"conv-{number}", direction=Direction.OUTBOUND,
                   channel=channel, created_at=f"2027-01-11T00:00:0{number}.000Z", text="Guasto in corso",
                   status=DeliveryStatus.QUEUED, broadcast=BroadcastRef(incident_id, update_id))


def _delivery(store: CrisisStore, incident_id: str, update_id: str = "upd-1") -> dict[str, Any]:
    update = store.get_update(incident_id, update_id)
    assert update is not None
    progress: dict[str, Any] = update.progress.to_api()
    return progress


def test_delivery_statuses_count_on_the_update_once_per_message_and_status(crisis: Any, repos: Repositories) -> None:
    """Redelivered callbacks, read after delivered, failed after delivered, a permanent send error and a
    callback that overtook the sender's answer: each message counts once, in one of delivered / failed."""
    store, _ = crisis
    incident = _incident()
    store.create_incident(incident)
    store.add_update(IncidentUpdate(incident.id, "upd-1", IncidentStatus.INVESTIGATING, {"it": "x"},
                                    incident.created_at))
    messages = repos.messages
    for number in range(1, 6):
        channel = Channel.WHATSAPP if number == 5 else Channel.SMS
        assert messages.put(_broadcast_message(number, incident.id, "upd-1", channel), kind="broadcast")
    sent = {number: _broadcast_message(number, incident.id, "upd-1") for number in range(1, 5)}
    for number in (1, 2, 3):
        messages.record_outbound_result(sent[number], status=DeliveryStatus.SENT, provider="twilio",
                                        provider_message_id=f"SM{number}")
    for _ in range(3):  # redelivered: counted once
        messages.apply_delivery_status("twilio", "SM1", DeliveryStatus.DELIVERED, None)
    assert not messages.apply_delivery_status("twilio", "SM1", DeliveryStatus.SENT, None)  # late, ignored
    assert messages.apply_delivery_status("twilio", "SM1", DeliveryStatus.READ, None)  # moves, counts nothing
    assert _delivery(store, incident.id)["delivered"] == 1
    assert messages.apply_delivery_status("twilio", "SM2", DeliveryStatus.FAILED, "30003")
    assert not messages.apply_delivery_status("twilio", "SM2", DeliveryStatus.FAILED, "30003")
    assert not messages.apply_delivery_status("twilio", "SM2", DeliveryStatus.DELIVERED, None)  # failed is terminal
    messages.apply_delivery_status("twilio", "SM3", DeliveryStatus.DELIVERED, None)
    messages.apply_delivery_status("twilio", "SM3", DeliveryStatus.FAILED, "30008")  # delivered, then failed
    progress = _delivery(store, incident.id)
    assert (progress["delivered"], progress["failed"]) == (1, 2)
    # The outbound worker's permanent error (record_failed), twice: counted once.
    for _ in range(2):
        messages.record_outbound_result(sent[4], status=DeliveryStatus.FAILED, provider="twilio",
                                        provider_message_id=None, error_code="21610", error_reason="unsubscribed")
    # A delivered callback that overtook the sender's answer is parked, then counted when the id is known.
    assert not messages.apply_delivery_status("meta", "wamid.5", DeliveryStatus.DELIVERED, None)
    messages.record_outbound_result(_broadcast_message(5, incident.id, "upd-1", Channel.WHATSAPP),
                                    status=DeliveryStatus.SENT, provider="meta", provider_message_id="wamid.5")
    messages.apply_delivery_status("meta", "wamid.5", DeliveryStatus.DELIVERED, None)
    progress = _delivery(store, incident.id)
    assert (progress["delivered"], progress["failed"]) == (2, 3)
    assert progress["per_channel"]["sms"]["delivered"] == 1 and progress["per_channel"]["sms"]["failed"] == 3
    assert progress["per_channel"]["whatsapp"]["delivered"] == 1
    # The messages themselves moved as always; a message of no broadcast moves without counting.
    assert messages.find("conv-1", "bc_1").status is DeliveryStatus.READ
    assert messages.find("conv-3", "bc_3").status is DeliveryStatus.FAILED
    plain = Message(id="ack-1", conversation_id="conv-9", direction=Direction.OUTBOUND, channel=Channel.SMS,
                    created_at="2027-01-11T00:00:09.000Z", text="ok", status=DeliveryStatus.QUEUED)
    messages.put(plain, kind="acknowledgment")
    messages.record_outbound_result(plain, status=DeliveryStatus.SENT, provider="twilio", provider_message_id="SM9")
    assert messages.apply_delivery_status("twilio", "SM9", DeliveryStatus.DELIVERED, None)
    assert not messages.apply_delivery_status("twilio", "SM9", DeliveryStatus.DELIVERED, None)
    assert _delivery(store, incident.id)["delivered"] == 2
