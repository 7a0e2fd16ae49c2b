"""The vocabulary of the KPI aggregates, as stored. Pure.

An aggregate item holds flat integer counters for one business day and one dimension: plain counts
(``opened``, ``inbound``, ``csat_4``, ...) and the buckets of the mergeable sketches
(``frt_b412``: first responses whose duration falls in log bucket 412, see
:mod:`chalicelib.reports.sketch`). Flat counters add up with DynamoDB's ``ADD`` and merge by sum.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

KpiCounts = Mapping[str, int]

ALL = "all"  # the dimension kind (and value) of the totals


@dataclass(frozen=True, slots=True)
class KpiDimension:
    kind: str  # "all", "channel", "route"
    value: str

    @staticmethod
    def of(channel: str, route: str | None) -> tuple[KpiDimension, ...]:
        """The dimensions an event of ``channel`` on ``route`` counts in (the totals, its channel, its route)."""
        dimensions = [KpiDimension(ALL, ALL), KpiDimension("channel", channel)]
        if route:
            dimensions.append(KpiDimension("route", route))
        return tuple(dimensions)
