"""A mergeable quantile sketch with a documented relative error: fixed logarithmic buckets. Pure.

The DDSketch idea (Masson, Rim, Lee, VLDB 2019) without its collapsing: a positive value ``x`` falls
in bucket ``i = ceil(log(x) / log(gamma))`` with ``gamma = (1 + a) / (1 - a)``, so every value of
bucket ``i`` lies in ``(gamma^(i-1), gamma^i]``; the bucket is represented by
``2 * gamma^i / (gamma + 1)``, which is within a relative error ``a`` of every value in it. Zero
(and anything below :data:`MIN_VALUE`) has a bucket of its own and is represented by 0.

With ``a`` = :data:`RELATIVE_ACCURACY` (1 %), a quantile read from the sketch is within 1 % of the
true quantile of the values counted (the rank is exact; only the value is approximated). Buckets
are plain counters, so two sketches merge by adding their counters — which is how the days and
dimensions of a report are combined, and how DynamoDB's ``ADD`` updates them.

Durations up to a year in seconds need about 870 buckets; a day's traffic uses a few dozen.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

RELATIVE_ACCURACY = 0.01
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
MIN_VALUE = 1e-3  # below it (a thousandth of a unit), a value counts as zero
ZERO_BUCKET = "z"


def bucket_of(value: float) -> str:
    """The bucket name of a non-negative value (negative values, a clock skew, count as zero)."""
    if not value > MIN_VALUE:  # also NaN
        return ZERO_BUCKET
    return str(math.ceil(math.log(value) / _LOG_GAMMA))


def bucket_value(bucket: str) -> float:
    """The value a bucket represents (within the relative accuracy of every value in it)."""
    if bucket == ZERO_BUCKET:
        return 0.0
    index = int(bucket)
    return 2 * GAMMA**index / (GAMMA + 1)


def _order(bucket: str) -> float:
    return -math.inf if bucket == ZERO_BUCKET else int(bucket)


def merge(sketches: Iterable[Mapping[str, int]]) -> dict[str, int]:
    merged: dict[str, int] = {}
    for sketch in sketches:
        for bucket, count in sketch.items():
            merged[bucket] = merged.get(bucket, 0) + count
    return merged


def quantile(sketch: Mapping[str, int], q: float) -> float | None:
    """The ``q`` quantile (0 ≤ q ≤ 1) of the counted values: the value of rank ``floor(q * (n - 1))`` in
    ascending order (the lower median for an even count), within the relative accuracy; None when empty."""
    total = sum(count for count in sketch.values() if count > 0)
    if total == 0:
        return None
    rank = math.floor(q * (total - 1))
    seen = 0
    for bucket in sorted((b for b, c in sketch.items() if c > 0), key=_order):
        seen += sketch[bucket]
        if seen > rank:
            return bucket_value(bucket)
    raise AssertionError("unreachable: the ranks add up to the total")


def exact_quantile(values: Iterable[float], q: float) -> float | None:
    """The same rank rule on the raw values (what the sketch approximates; the tests' slow path)."""
    ordered = sorted(values)
    if not ordered:
        return None
    return ordered[math.floor(q * (len(ordered) - 1))]
