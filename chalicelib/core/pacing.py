"""The token bucket, pure: both the table's pacer and its in-memory twin compute with this."""

from __future__ import annotations

from dataclasses import dataclass

_EPSILON = 1e-6
_MIN_WAIT = 0.001  # seconds: below a clock's resolution at epoch magnitudes a wait would never pass


@dataclass(frozen=True, slots=True)
class Bucket:
    tokens: float
    at: float  # when ``tokens`` was true
    held_until: float = 0.0  # a provider's Retry-After: nothing before then


def take_token(
    bucket: Bucket | None, per_second: float, burst: float, now: float, *, wait: bool
) -> tuple[Bucket, float]:
    """The bucket after one take at ``now`` and the seconds to wait (0: the token was taken).

    A new bucket starts full. With ``wait`` the token is taken only when there is one (and no hold);
    without it, it is taken anyway and the bucket goes into debt (one-to-one care is never delayed;
    the broadcasts behind it wait longer)."""
    if bucket is None:
        bucket = Bucket(tokens=burst, at=now)
    elapsed = max(0.0, now - bucket.at)
    tokens = min(burst, bucket.tokens + elapsed * per_second)
    moment = max(now, bucket.at)
    if not wait:
        return Bucket(tokens - 1, moment, bucket.held_until), 0.0
    if now < bucket.held_until:
        return Bucket(tokens, moment, bucket.held_until), bucket.held_until - now
    if tokens >= 1 - _EPSILON:  # a refill computed from a sleep of exactly the wait may land a hair short
        return Bucket(max(0.0, tokens - 1), moment, bucket.held_until), 0.0
    return Bucket(tokens, moment, bucket.held_until), max(_MIN_WAIT, (1 - tokens) / per_second)


def bucket_name(channel: str, sender: str | None) -> str:
    """One bucket per channel and sender (the number, page or bot a message leaves from)."""
    return f"{channel}:{sender or 'default'}"
