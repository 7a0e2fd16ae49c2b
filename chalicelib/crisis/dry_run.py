"""The dry run: how many customers an audience reaches per channel, and how long sending would take,
answered inside the request (nothing stored, nothing sent) and in bounded time.

The audience is counted page by page through the customers index with the same pure rules as the
planner, within a budget (``dry_run_max_pages`` pages of ``dry_run_page_size``, and
``dry_run_seconds``). An audience read to its end within the budget is counted exactly. Beyond it
(millions of customers on AWS), the pages read are a sample and the figures are extrapolated to the
whole index by its size, DynamoDB's own item count (DescribeTable, refreshed about every six hours),
flagged ``"estimated": true``. Where that size is unknown or stale (smaller than the sample), nothing
is invented: the figures counted so far are returned as ``"lower_bound": true``. The sample is the
oldest customers (the index's order), so an audience that leans on recent activity is estimated
roughly; the exact figures follow in the update's ``planned`` counter. An audience of
``customer_ids`` (at most 1,000) is always exact.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from chalicelib.core.incident import Audience
from chalicelib.core.model import Customer
from chalicelib.crisis.audience import NO_CHANNEL, admits, recipient_channel
from chalicelib.crisis.ports import CrisisPorts


def dry_run(
    ports: CrisisPorts, audience: Audience, *, monotonic: Callable[[], float] = time.monotonic
) -> dict[str, Any]:
    per_channel: Counter[str] = Counter()
    skipped: Counter[str] = Counter()
    now = datetime.fromtimestamp(ports.clock(), tz=UTC)
    sample = _Sample(ports, audience, monotonic)
    for customer in sample:
        if not admits(audience, customer, now):
            continue
        channel, reason = recipient_channel(audience, customer, ports.has_sender)
        if reason is None and channel is not None:
            per_channel[channel.value] += 1
        else:
            skipped[reason or NO_CHANNEL] += 1
    scale = sample.scale()
    if scale is not None:
        per_channel = Counter({c: round(n * scale) for c, n in per_channel.items()})
        skipped = Counter({r: round(n * scale) for r, n in skipped.items()})
    return {
        "dry_run": True,
        "audience": {"total": sum(per_channel.values()), "per_channel": dict(per_channel), "skipped": dict(skipped),
                     "examined": sample.examined,
                     # stopped at the budget without the index's size: the figures are what was counted
                     "lower_bound": sample.truncated and scale is None},
        "eta_seconds": {channel: ports.config.eta_seconds(n, channel) for channel, n in per_channel.items()},
        "estimated": sample.truncated,
    }


class _Sample:
    """The audience's candidates, a page at a time, until the end or the budget; then how to scale."""

    def __init__(self, ports: CrisisPorts, audience: Audience, monotonic: Callable[[], float]) -> None:
        self._ports, self._audience, self._monotonic = ports, audience, monotonic
        self.examined = 0
        self.truncated = False

    def __iter__(self) -> Iterator[Customer]:
        if self._audience.customer_ids is not None:  # at most 1,000 ids: always read whole
            ids = list(self._audience.customer_ids)
            for start in range(0, len(ids), 100):
                for customer in self._ports.store.customers_by_id(ids[start : start + 100]):
                    self.examined += 1
                    yield customer
            return
        config = self._ports.config
        deadline = self._monotonic() + config.dry_run_seconds
        cursor: str | None = None
        for _ in range(config.dry_run_max_pages):
            page, cursor = self._ports.store.audience_page(cursor, config.dry_run_page_size)
            for customer in page:
                self.examined += 1
                yield customer
            if cursor is None:
                return
            if self._monotonic() >= deadline:
                break
        self.truncated = True

    def scale(self) -> float | None:
        """How many customers each one examined stands for, when the count stopped at the budget and
        the index's size is known; None otherwise (exact, or only a lower bound)."""
        if not self.truncated or not self.examined:
            return None
        population = self._ports.store.audience_size()
        if population is None or population <= self.examined:
            return None
        return population / self.examined
