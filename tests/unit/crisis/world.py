"""A crisis test world on the in-memory twins: customers with conversations, a simulated clock, and
the broadcast queue drained batch by batch (with redeliveries when asked)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from chalicelib.adapters.memory import MemoryBus, MemoryStore, memory_repositories
from chalicelib.adapters.memory.crisis import MemoryCrisis, MemoryPacer
from chalicelib.adapters.resources import BROADCAST_QUEUE
from chalicelib.adapters.sqs import Outgoing
from chalicelib.core.consent import ConsentState
from chalicelib.core.incident import Incident, IncidentUpdate
from chalicelib.core.model import Channel, Conversation, ConversationStatus, Customer, Identity, Message, Priority
from chalicelib.core.timestamps import timestamp_from_epoch
from chalicelib.crisis.config import load_crisis_config
from chalicelib.crisis.delivery import Deferred
from chalicelib.crisis.ports import CrisisPorts
from chalicelib.handlers.broadcast import handle_broadcast_message

START = 1_800_000_000.0  # 2027-01-15: a fixed simulated time
ENVIRON = {"OMNIHUB_SMS_PROVIDER": "twilio", "OMNIHUB_WHATSAPP_PROVIDER": "meta", "OMNIHUB_MESSENGER_PROVIDER": "meta"}


class SimClock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class RecordingMessages:
    """The message repository, noting when each outbound message entered the outbox (the send time)."""

    def __init__(self, inner: Any, clock: SimClock) -> None:
        self._inner = inner
        self._clock = clock
        self.sent: list[tuple[float, str, str]] = []  # (time, channel, message id)

    def put(self, message: Message, **kwargs: Any) -> bool:
        stored = bool(self._inner.put(message, **kwargs))
        if stored and kwargs.get("kind") == "broadcast":
            self.sent.append((self._clock(), message.channel.value, message.id))
        return stored

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@dataclass
class World:
    clock: SimClock = field(default_factory=SimClock)
    store: MemoryStore = field(default_factory=MemoryStore)
    bus: MemoryBus = field(default_factory=lambda: MemoryBus(queues=[BROADCAST_QUEUE]))
    pacer: MemoryPacer = field(default_factory=MemoryPacer)
    config_overrides: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        repos = memory_repositories(self.store)
        self.messages = RecordingMessages(repos.messages, self.clock)
        self.repos = replace(repos, messages=self.messages)
        self.crisis = MemoryCrisis(self.store)
        config = replace(load_crisis_config(), **dict(self.config_overrides))
        self.ports = CrisisPorts(repos=self.repos, store=self.crisis, pacer=self.pacer, bus=self.bus, config=config,
                                 environ=ENVIRON, clock=self.clock, sleep=self.clock.sleep)

    def customer(
        self, number: int, channel: Channel, *, language: str = "it", hours_since_inbound: float = 1.0,
        opted_out: bool = False, tier: str = "standard", tags: tuple[str, ...] = (), open_case: bool = True,
    ) -> Customer:
        customer_id = f"cus{number:06d}"
        address = f"+3933{number:08d}" if channel in (Channel.SMS, Channel.WHATSAPP) else f"psid{number}"
        created = timestamp_from_epoch(START - 86_400 * 30 + number)
        last = timestamp_from_epoch(self.clock() - hours_since_inbound * 3600)
        customer = Customer(id=customer_id, name=None, language=language, tier=tier,
                            identities=(Identity(channel, address),), created_at=created, tags=tags)
        self.repos.customers.create(customer)
        self.repos.customers.record_last_inbound(customer_id, channel, last)
        conversation_id = f"conv{number:06d}"
        self.repos.conversations.create(Conversation(
            id=conversation_id, reference=f"OH-{number:06d}", status=ConversationStatus.OPEN, priority=Priority.NORMAL,
            route="default", customer_id=customer_id, channel=channel, created_at=created, updated_at=last,
            last_inbound_at=last))
        if open_case:
            self.repos.customers.claim_open_conversation(customer_id, conversation_id, None)
        if opted_out:
            self.repos.customers.set_consent(customer_id, channel, ConsentState.WITHDRAWN, last)
        found = self.repos.customers.get(customer_id)
        assert found is not None
        return found

    def drain(self, *, redeliver: float = 0.0, seed: int = 7, stop_after: int | None = None) -> list[str]:
        """Work the broadcast queue in batches of ten (the incident read once per batch); ``redeliver``
        is the share of messages SQS delivers again later. Returns every outcome."""
        rng = random.Random(seed)
        outcomes: list[str] = []
        pending = [q.body for q in self.bus.take(BROADCAST_QUEUE)]
        while pending:
            batch, pending = pending[:10], pending[10:]
            cache: dict[Any, Any] = {}
            for body in batch:
                try:
                    outcomes.append(handle_broadcast_message(body, self.ports, cache))
                except Deferred:
                    pending.append(body)  # back on the queue after its delay
                if rng.random() < redeliver:
                    pending.append(body)
            pending += [q.body for q in self.bus.take(BROADCAST_QUEUE)]
            if stop_after is not None and len(outcomes) >= stop_after:
                pending += [q.body for q in self.bus.take(BROADCAST_QUEUE)]
                self.leftover = pending
                return outcomes
        self.leftover = []
        return outcomes

    def requeue(self, bodies: list[dict[str, Any]]) -> None:
        """Put messages back on the broadcast queue (SQS redelivering what a worker did not finish)."""
        self.bus.publish_batch(BROADCAST_QUEUE, [Outgoing(b, "g", f"requeued-{i}") for i, b in enumerate(bodies)])

    def only_incident(self) -> tuple[Incident, list[IncidentUpdate]]:
        (incident,) = self.crisis.incidents.values()
        return incident, self.crisis.updates(incident.id)
