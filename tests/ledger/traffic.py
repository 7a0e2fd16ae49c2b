"""The ledger's traffic: unique customer events across every channel family, signed as each provider signs.

Every request comes from the provider simulators of ``./hub simulate`` (the registry names them), so
the ledger exercises the same signatures, forms and bodies an integrator's provider sends. Each event
carries a unique token in its text: what the hub stored, routed and logged is matched back to the
traffic by that token, whatever key format each provider's inbox items use.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.providers.registry import load, simulators
from devstack.simulators.base import SimulatedRequest

# simulate command → (family, the kind of address its customers have)
CHANNELS: dict[str, tuple[str, str]] = {
    "api": ("messaging", "user"),
    "twilio-sms": ("messaging", "phone"),
    "twilio-whatsapp": ("messaging", "phone"),
    "whatsapp": ("messaging", "phone"),
    "telegram": ("messaging", "number"),
    "vonage-sms": ("messaging", "phone"),
    "postmark": ("email", "email"),
    "sendgrid": ("email", "email"),
    "mailgun": ("email", "email"),
    "messenger": ("social", "number"),
    "instagram": ("social", "number"),
    "x": ("social", "number"),
    "voice-twilio": ("voice", "phone"),
}
FAMILIES = ("messaging", "email", "social", "voice")


@dataclass(frozen=True)
class Delivery:
    """One HTTP request a provider sends; ``event`` indexes the unique event it belongs to."""

    event: int
    request: SimulatedRequest
    duplicate: bool = False


@dataclass
class UniqueEvent:
    index: int
    command: str
    family: str
    address: str  # the customer's address on that channel (phone, email, user id)
    token: str  # unique, inside the text: how the event is found again in the store and the logs
    text: str
    event_id: str | None  # the provider's event id (None: a call, whose callbacks carry their own)
    requests: list[SimulatedRequest] = field(default_factory=list)  # a call is several callbacks


@dataclass
class Traffic:
    """The events, and their deliveries built window by window: a provider signs when it sends, and
    signatures carry a time the hub checks (five minutes for most), so a long run cannot sign it all
    up front. Within a window every delivery is reordered and the duplicates fall anywhere."""

    events: list[UniqueEvent]
    secrets: Mapping[str, str]
    public_base_url: str
    duplicate_share: float
    seed: int
    deliveries: int = 0
    duplicates: int = 0

    def windows(self, size: int = 150) -> Iterator[list[Delivery]]:
        rng = random.Random(self.seed + 1)
        sims = simulators()
        for start in range(0, len(self.events), size):
            window = self.events[start:start + size]
            for event in window:
                event.requests = _build(sims, event, self.secrets, self.public_base_url)
            deliveries = [Delivery(e.index, r) for e in window for r in e.requests]
            repeated = rng.sample(window, int(len(window) * self.duplicate_share))
            deliveries += [Delivery(e.index, r, duplicate=True) for e in repeated for r in e.requests]
            rng.shuffle(deliveries)
            self.deliveries += len(deliveries)
            self.duplicates += sum(d.duplicate for d in deliveries)
            yield deliveries

    def phones(self) -> set[str]:
        return {e.address for e in self.events if CHANNELS[e.command][1] == "phone"}

    def emails(self) -> set[str]:
        return {e.address for e in self.events if CHANNELS[e.command][1] == "email"}


def _address(kind: str, customer: int) -> str:
    if kind == "phone":
        return f"+3933{7_000_000 + customer:08d}"
    if kind == "email":
        return f"ledger.customer{customer}@example.org"
    if kind == "number":
        return str(17_841_400_000_000 + customer)
    return f"ledger-user-{customer}"


def generate(count: int, secrets: Mapping[str, str], *, public_base_url: str, seed: int = 16,
             duplicate_share: float = 0.2, customers: int | None = None) -> Traffic:
    """``count`` unique events spread over every channel, about three per customer (conversations keep
    threading); ``duplicate_share`` of them are delivered twice (the very same signed bytes, as a
    provider retries)."""
    rng = random.Random(seed)
    commands = list(CHANNELS)
    pool = customers or max(1, count // 3)
    events: list[UniqueEvent] = []
    for index in range(count):
        command = commands[index % len(commands)]
        family, kind = CHANNELS[command]
        address = _address(kind, rng.randrange(pool))
        token = f"LDG{index:06d}Q{rng.randrange(16**6):06x}"
        event_id = None if command == "voice-twilio" else _event_id(command, index, rng)
        events.append(UniqueEvent(index, command, family, address, token, f"Order {token} has not arrived yet",
                                  event_id))
    return Traffic(events, secrets, public_base_url, duplicate_share, seed)


def _build(sims: Mapping[str, Any], event: UniqueEvent, secrets: Mapping[str, str],
           public_base_url: str) -> list[SimulatedRequest]:
    simulator = sims[event.command]
    options: dict[str, Any] = {**dict(simulator.options), "public_base_url": public_base_url}
    if event.event_id is not None:
        options["event_id"] = event.event_id
    built = load(simulator.target)(secrets, event.address, event.text, **options)
    return built if isinstance(built, list) else [built]


def _event_id(command: str, index: int, rng: random.Random) -> str:
    if command == "telegram":
        return str(900_000_000 + index)  # an update id
    if command == "x":
        return str(1_800_000_000_000_000_000 + index)  # a snowflake
    return f"ledger{index:06d}{rng.randrange(16**8):08x}"
