"""What the crisis use cases need, built together: the repositories, the crisis store, the send
pacer, the bus, the configuration and a clock (tests inject a simulated one)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.core.model import Channel
from chalicelib.core.ports import CrisisStore, Repositories, SendPacer
from chalicelib.crisis.config import CrisisConfig
from chalicelib.outbound.registry import NoOutboundProvider, provider_for

BROADCAST_SCHEMA = "omnihub.broadcast.v1"


class Publisher(Protocol):
    """The part of the bus the planner uses (SqsBus and its twin)."""

    def publish_batch(self, spec: Any, messages: Any) -> list[str]: ...


@dataclass(frozen=True, slots=True)
class CrisisPorts:
    repos: Repositories
    store: CrisisStore
    pacer: SendPacer
    bus: Publisher
    config: CrisisConfig
    environ: Mapping[str, str] = field(default_factory=dict)
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep

    def has_sender(self, channel: Channel) -> bool:
        """Whether some provider sends on ``channel`` in this deployment (web chat: the widget reads it)."""
        if channel is Channel.WEBCHAT:
            return True
        try:
            provider_for(channel, self.environ)
        except NoOutboundProvider:
            return False
        return True
