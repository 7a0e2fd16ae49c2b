"""The conversation worker's use case on the twins: route once, apply statuses, record consent."""

from __future__ import annotations

import jsonschema
import pytest

from chalicelib.acknowledgments import load_policy
from chalicelib.adapters.memory import MemoryBus, MemoryStore, memory_repositories
from chalicelib.adapters.resources import ROUTE_DEFAULT_QUEUE
from chalicelib.conversations.inbound import WorkerPorts, handle_inbound_event
from chalicelib.core.errors import PermanentError
from chalicelib.core.ids import message_id_for
from chalicelib.core.model import (
    Channel,
    DeliveryStatus,
    Direction,
    EventKind,
    Identity,
    InboundEvent,
    Message,
    Sender,
)
from chalicelib.core.ports import Repositories
from chalicelib.core.timestamps import utc_now
from tests.conftest import load_schema
from tests.unit.conftest import test_id_key

PHONE = Identity(Channel.WHATSAPP, "+393331234567")
LINE_USER = Identity(Channel.LINE, "U4af4980629")


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def repos(store: MemoryStore) -> Repositories:
    return memory_repositories(store)


@pytest.fixture
def bus() -> MemoryBus:
    return MemoryBus()


@pytest.fixture
def ports(repos: Repositories, bus: MemoryBus) -> WorkerPorts:
    return WorkerPorts(repos=repos, bus=bus, id_key=test_id_key)  # type: ignore[arg-type]  # MemoryBus: SqsBus in memory


def stored(repos: Repositories, event: InboundEvent, received_at: str = "2026-11-18T09:00:00.000Z") -> str:
    repos.inbox.put(event, endpoint=event.provider, received_at=received_at, raw_body=b"{}",
                    content_type="application/json")
    return event.inbox_key


def message(event_id: str, text: str = "Where is my order?") -> InboundEvent:
    return InboundEvent(provider="meta", event_id=event_id, kind=EventKind.MESSAGE, channel=Channel.WHATSAPP,
                        occurred_at="2026-11-18T08:59:58.000Z", sender=Sender(PHONE, name="Maria"), text=text,
                        metadata={"phone_number_id": "1065"})


def status(event_id: str, provider_message_id: str, value: DeliveryStatus, error: str | None = None) -> InboundEvent:
    return InboundEvent(provider="meta", event_id=event_id, kind=EventKind.DELIVERY_STATUS,
                        channel=Channel.WHATSAPP, occurred_at="2026-11-18T09:01:00.000Z",
                        provider_message_id=provider_message_id, status=value, error_code=error)


def lifecycle(event_id: str, what: str, occurred_at: str) -> InboundEvent:
    return InboundEvent(provider="line", event_id=event_id, kind=EventKind.LIFECYCLE, channel=Channel.LINE,
                        occurred_at=occurred_at, sender=Sender(LINE_USER), metadata={"lifecycle": what})


# ------------------------------------------------------------------ messages
def test_a_message_is_routed_once_whatever_the_redeliveries(repos: Repositories, bus: MemoryBus,
                                                            ports: WorkerPorts) -> None:
    key = stored(repos, message("wamid.1"))
    assert [handle_inbound_event(key, ports) for _ in range(3)] == ["routed+not_acknowledged"] * 3
    [routed] = bus.messages(ROUTE_DEFAULT_QUEUE)
    envelope = routed.body
    jsonschema.validate(envelope, load_schema("omnihub.routed.v1"))
    assert envelope["envelope_id"] == envelope["message"]["id"] == message_id_for(key) == routed.dedupe_id
    assert routed.group_id == envelope["conversation"]["id"]
    assert envelope["conversation"]["opened"] is True
    assert (envelope["customer"]["name"], envelope["message"]["text"]) == ("Maria", "Where is my order?")


def test_each_message_of_a_conversation_is_routed_in_its_group(repos: Repositories, bus: MemoryBus,
                                                               ports: WorkerPorts) -> None:
    for n, at in ((1, "2026-11-18T09:00:00.000Z"), (2, "2026-11-18T09:03:00.000Z")):
        handle_inbound_event(stored(repos, message(f"wamid.{n}", f"message {n}"), at), ports)
    first, second = bus.messages(ROUTE_DEFAULT_QUEUE)
    assert first.group_id == second.group_id and first.dedupe_id != second.dedupe_id
    assert [m.body["conversation"]["opened"] for m in (first, second)] == [True, False]
    assert [m.body["message"]["text"] for m in (first, second)] == ["message 1", "message 2"]


def test_an_acknowledgment_is_placed_when_a_policy_is_given(repos: Repositories, store: MemoryStore,
                                                            bus: MemoryBus) -> None:
    ports = WorkerPorts(repos=repos, bus=bus, id_key=test_id_key, ack_policy=load_policy())  # type: ignore[arg-type]
    event = InboundEvent(provider="meta", event_id="wamid.now", kind=EventKind.MESSAGE, channel=Channel.WHATSAPP,
                         occurred_at=utc_now(), sender=Sender(PHONE, name="Maria"), text="Hello")
    assert handle_inbound_event(stored(repos, event, utc_now()), ports) == "routed+acknowledgment_queued"
    [job] = store.jobs()
    assert (job["kind"], job["provider"], job["to"]) == ("acknowledgment", "meta", PHONE.address)


def test_an_event_not_in_the_inbox_is_a_permanent_error(ports: WorkerPorts) -> None:
    with pytest.raises(PermanentError):
        handle_inbound_event("meta#never-stored", ports)


def test_an_unknown_kind_is_ignored(repos: Repositories, bus: MemoryBus, ports: WorkerPorts) -> None:
    event = InboundEvent(provider="meta", event_id="odd.1", kind=EventKind.UNKNOWN, channel=Channel.WHATSAPP,
                         occurred_at="2026-11-18T09:00:00.000Z")
    assert handle_inbound_event(stored(repos, event), ports) == "ignored"
    assert bus.messages(ROUTE_DEFAULT_QUEUE) == []


# ------------------------------------------------------------------ delivery statuses
def outbound(repos: Repositories, provider_message_id: str) -> Message:
    sent = Message(id="out_1", conversation_id="cnv_1", direction=Direction.OUTBOUND, channel=Channel.WHATSAPP,
                   created_at="2026-11-18T09:00:30.000Z", text="On its way", status=DeliveryStatus.SENT,
                   provider="meta", provider_message_id=provider_message_id)
    repos.messages.put(sent)
    return sent


def status_of(repos: Repositories) -> tuple[DeliveryStatus, str | None]:
    found = repos.messages.find("cnv_1", "out_1")
    assert found is not None
    return found.status, found.error_code


def test_a_delivery_status_is_applied_forward_only(repos: Repositories, ports: WorkerPorts) -> None:
    outbound(repos, "wamid.out")
    results = [handle_inbound_event(stored(repos, status(f"st.{n}", "wamid.out", value)), ports)
               for n, value in enumerate([DeliveryStatus.READ, DeliveryStatus.DELIVERED])]
    assert results == ["status_applied", "status_ignored"]
    assert status_of(repos) == (DeliveryStatus.READ, None)


def test_a_failure_status_keeps_its_error_code(repos: Repositories, ports: WorkerPorts) -> None:
    outbound(repos, "wamid.out")
    key = stored(repos, status("st.1", "wamid.out", DeliveryStatus.FAILED, "131047"))
    assert handle_inbound_event(key, ports) == "status_applied"
    assert status_of(repos) == (DeliveryStatus.FAILED, "131047")


def test_a_status_that_overtook_the_senders_answer_waits_for_it(repos: Repositories, ports: WorkerPorts) -> None:
    key = stored(repos, status("st.1", "wamid.out", DeliveryStatus.DELIVERED))
    assert handle_inbound_event(key, ports) == "status_ignored"
    queued = Message(id="out_1", conversation_id="cnv_1", direction=Direction.OUTBOUND, channel=Channel.WHATSAPP,
                     created_at="2026-11-18T09:00:30.000Z", text="On its way", status=DeliveryStatus.QUEUED)
    repos.messages.put(queued)
    repos.messages.record_outbound_result(queued, status=DeliveryStatus.SENT, provider="meta",
                                          provider_message_id="wamid.out")
    assert status_of(repos) == (DeliveryStatus.DELIVERED, None)


# ------------------------------------------------------------------ lifecycle → consent
def consent(repos: Repositories) -> dict[str, str]:
    owner = repos.customers.identity_owner(LINE_USER)
    customer = repos.customers.get(owner) if owner else None
    assert customer is not None
    return customer.consent


def test_a_lifecycle_event_records_consent(repos: Repositories, bus: MemoryBus, ports: WorkerPorts) -> None:
    unfollow = stored(repos, lifecycle("lc.1", "unfollow", "2026-11-18T09:00:00.000Z"))
    assert handle_inbound_event(unfollow, ports) == "consent_withdrawn"
    assert consent(repos) == {"line": "withdrawn"}
    follow = stored(repos, lifecycle("lc.2", "follow", "2026-11-18T10:00:00.000Z"))
    assert handle_inbound_event(follow, ports) == "consent_granted"
    assert consent(repos) == {"line": "granted"}
    assert bus.messages(ROUTE_DEFAULT_QUEUE) == []  # nothing for an agent to read


def test_an_older_lifecycle_event_never_overrides_a_newer_one(repos: Repositories, ports: WorkerPorts) -> None:
    handle_inbound_event(stored(repos, lifecycle("lc.2", "blocked", "2026-11-18T10:00:00.000Z")), ports)
    handle_inbound_event(stored(repos, lifecycle("lc.1", "follow", "2026-11-18T09:00:00.000Z")), ports)
    assert consent(repos) == {"line": "withdrawn"}


def test_a_lifecycle_event_without_a_consent_meaning_is_ignored(repos: Repositories, ports: WorkerPorts) -> None:
    assert handle_inbound_event(stored(repos, lifecycle("lc.1", "typing", "2026-11-18T09:00:00.000Z")),
                                ports) == "ignored"
    assert repos.customers.identity_owner(LINE_USER) is None
