"""A routing configuration with a one-minute SLA round the clock and a three-level ladder, a routed
conversation under it, and a bus that counts every publication (a deduplicating queue would hide a repeat)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.adapters import resources
from chalicelib.adapters.memory import MemoryBus
from chalicelib.adapters.resources import QueueSpec
from chalicelib.adapters.sqs import Outgoing
from chalicelib.core.model import Channel, ConversationStatus, Direction, Message, Priority
from chalicelib.core.ports import Repositories
from chalicelib.core.routing_record import ConversationRouting
from chalicelib.core.timestamps import format_timestamp
from chalicelib.routing.config import RoutingConfig, parse_routing_config
from chalicelib.sla.sweeper import SweepPorts
from chalicelib.sla.timers import SlaSetup, after_customer_message, sla_setup
from tests.contract.test_repositories import conversation, customer

OPENED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
MINUTE = timedelta(minutes=1)

CONFIG_DOCUMENT: dict[str, Any] = {
    "version": 1,
    "routes": {"default": {}, "vip": {}},
    "rules": [],
    "default": {"route": "default", "priority": "normal"},
    "sla": {"calendar": "always", "policies": {
        "normal": {"first_response_minutes": 1, "next_response_minutes": 2, "resolution_minutes": 60},
        "urgent": {"first_response_minutes": 1, "next_response_minutes": 1, "resolution_minutes": 30}}},
    "escalation": {"levels": [
        {"after_minutes": 0, "action": "notify"},
        {"after_minutes": 5, "action": "reroute", "route": "vip", "priority": "urgent"},
        {"after_minutes": 10, "action": "notify_supervisors"}]},
}


def config(**changes: Any) -> RoutingConfig:
    return parse_routing_config({**CONFIG_DOCUMENT, **changes}, "test-routing.json")


class CountingBus(MemoryBus):
    """Every publish call counted by its dedupe id, whether or not the FIFO queue dropped it as a repeat."""

    def __init__(self, routing: RoutingConfig) -> None:
        super().__init__(queues=resources.all_queues(routing))
        self.published: Counter[str] = Counter()

    def publish(self, spec: QueueSpec, message: Outgoing) -> None:
        with self._lock:
            self.published[f"{spec.logical_name}:{message.dedupe_id}"] += 1
        super().publish(spec, message)

    def escalations(self) -> list[dict[str, Any]]:
        return self.bodies(resources.ESCALATION_QUEUE)


def routed_conversation(repos: Repositories, setup: SlaSetup, *, at: datetime = OPENED) -> str:
    """cnv_1, opened at ``at`` by msg_1, routed to default at normal, its timers started by the worker."""
    stamp = format_timestamp(at)
    repos.customers.create(customer())
    repos.conversations.create(conversation(at=stamp, reference="OH-7K3Q9"))
    repos.messages.put(Message("msg_1", "cnv_1", Direction.INBOUND, Channel.WHATSAPP, stamp, text="ciao"))
    repos.conversations.record_routing("cnv_1", route="default", priority=Priority.NORMAL, tags=(),
                                       routing=ConversationRouting(None, "the default", "msg_1"))
    after_customer_message(repos.conversations, "cnv_1", stamp, setup)
    return "cnv_1"


def sweep_ports(repos: Repositories, routing: RoutingConfig, bus: MemoryBus) -> SweepPorts:
    return SweepPorts(repos=repos, bus=bus, setup=sla_setup(routing), config=routing)


__all__ = ["MINUTE", "OPENED", "ConversationStatus", "CountingBus", "config", "routed_conversation", "sweep_ports"]
