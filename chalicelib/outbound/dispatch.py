"""Deliver one outbound job exactly once per ``outbound_id``: rules, then the provider, then the ledger.

- A job whose id the ledger has seen is not sent again (SQS delivers at least once).
- A permanent failure (window closed, opted out, invalid number, no sender) is recorded and the
  job is done: the SQS message is deleted, not retried.
- A transient failure releases the claim and propagates, so SQS redelivers the message after its
  visibility timeout (the handler reports it as a batch item failure).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from chalicelib.core.errors import RetryableError
from chalicelib.core.model import DeliveryStatus
from chalicelib.outbound.errors import PermanentSendError, SenderNotConfigured, TransientSendError
from chalicelib.outbound.job import OutboundJob
from chalicelib.outbound.rules import ChannelRulesConfig, check_channel_rules
from chalicelib.outbound.senders.base import Sender, SendResult
from chalicelib.providers.registry import REGISTRY


class DeliveryLedger(Protocol):
    """The idempotency record of outbound deliveries, keyed by ``outbound_id``.

    ``claim`` is True only for the first caller ("not sent before, and now mine"); it should be a
    lease that expires after the outbound queue's visibility timeout, so an attempt that crashed
    between claim and record can be retried.
    """

    def claim(self, outbound_id: str) -> bool: ...

    def record_sent(self, outbound_id: str, provider_message_id: str, status: DeliveryStatus) -> None: ...

    def record_failed(self, outbound_id: str, code: str, reason: str) -> None: ...

    def release(self, outbound_id: str) -> None: ...


class DeliveryState(StrEnum):
    SENT = "sent"  # the provider accepted the message now
    DUPLICATE = "duplicate"  # already handled by an earlier delivery of the same job
    FAILED = "failed"  # permanently refused (by the rules or the provider); recorded


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    outbound_id: str
    state: DeliveryState
    job: OutboundJob  # as sent, after the channel rules (template, tag, reply token)
    provider: str
    provider_message_id: str | None = None
    status: DeliveryStatus | None = None  # the message's delivery status after this attempt
    error_code: str | None = None
    reason: str | None = None
    result: SendResult | None = None


# Providers where resending after an ambiguous failure cannot duplicate (see the provider registry).
RETRY_SAFE_PROVIDERS = frozenset(entry.name for entry in REGISTRY if entry.retry_safe)
OUTCOME_UNKNOWN = "outcome_unknown"


def deliver(
    job: OutboundJob,
    *,
    senders: Mapping[str, Sender],
    ledger: DeliveryLedger,
    now: datetime,
    consent: Mapping[str, str] | None = None,
    rules_config: ChannelRulesConfig | None = None,
    refusal: PermanentSendError | None = None,
) -> DeliveryOutcome:
    """Send ``job`` once; raise :class:`TransientSendError` when SQS should try again later.

    ``refusal``: what the caller knows forbids sending now (another app owns the thread), recorded
    as the job's permanent failure like any rule's."""
    if not ledger.claim(job.outbound_id):
        return DeliveryOutcome(job.outbound_id, DeliveryState.DUPLICATE, job, job.provider)
    try:
        if refusal is not None:
            raise refusal
        ready = check_channel_rules(job, now, consent, rules_config)
        sender = senders.get(ready.provider)
        if sender is None:
            raise SenderNotConfigured(f"no sender for provider {ready.provider!r}", provider=ready.provider)
        result = sender.send(ready)
    except PermanentSendError as err:
        code, reason = err.recorded_code, str(err)
        _record_surely(lambda: ledger.record_failed(job.outbound_id, code, reason))
        return DeliveryOutcome(job.outbound_id, DeliveryState.FAILED, job, job.provider,
                               status=DeliveryStatus.FAILED, error_code=code, reason=str(err))
    except TransientSendError as err:
        if err.ambiguous and job.provider not in RETRY_SAFE_PROVIDERS:
            # The request may have reached the provider (a read timeout): sending again could give
            # the customer the message twice. Record it for an agent to check instead of retrying.
            reason = str(err)
            _record_surely(lambda: ledger.record_failed(job.outbound_id, OUTCOME_UNKNOWN, reason))
            return DeliveryOutcome(job.outbound_id, DeliveryState.FAILED, job, job.provider,
                                   status=DeliveryStatus.FAILED, error_code=OUTCOME_UNKNOWN, reason=str(err))
        ledger.release(job.outbound_id)
        raise
    except BaseException:
        ledger.release(job.outbound_id)  # a bug or a crash: let SQS retry, then the DLQ
        raise
    _record_surely(lambda: ledger.record_sent(job.outbound_id, result.provider_message_id, result.status))
    return DeliveryOutcome(job.outbound_id, DeliveryState.SENT, ready, result.provider,
                           provider_message_id=result.provider_message_id, status=result.status,
                           result=result)


RECORD_ATTEMPTS = 4  # then the claim stays "sending": a retry within its lease drops the job as a duplicate


def _record_surely(record: Callable[[], None]) -> None:
    """Record a send's outcome, trying again on a store that is briefly unavailable: the provider already
    has the message, so giving up here would leave the claim "sending" and the message without its
    provider id (a retry would then see the claim and drop the job; the ledger test found it, with a
    throttled write after a successful send). Recording is idempotent (same values, same item)."""
    for attempt in range(RECORD_ATTEMPTS):
        try:
            record()
            return
        except RetryableError:
            if attempt == RECORD_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * 2**attempt)


@dataclass(slots=True)
class LedgerEntry:
    state: str  # "claimed" | "sent" | "failed"
    provider_message_id: str | None = None
    status: DeliveryStatus | None = None
    code: str | None = None
    reason: str | None = None


class InMemoryLedger:
    """The ledger for tests and the local sandbox (no lease expiry: nothing crashes in a test)."""

    def __init__(self) -> None:
        self.entries: dict[str, LedgerEntry] = {}
        self._lock = threading.Lock()

    def claim(self, outbound_id: str) -> bool:
        with self._lock:
            if outbound_id in self.entries:
                return False
            self.entries[outbound_id] = LedgerEntry("claimed")
            return True

    def record_sent(self, outbound_id: str, provider_message_id: str, status: DeliveryStatus) -> None:
        with self._lock:
            self.entries[outbound_id] = LedgerEntry("sent", provider_message_id=provider_message_id, status=status)

    def record_failed(self, outbound_id: str, code: str, reason: str) -> None:
        with self._lock:
            self.entries[outbound_id] = LedgerEntry("failed", status=DeliveryStatus.FAILED, code=code, reason=reason)

    def release(self, outbound_id: str) -> None:
        with self._lock:
            entry = self.entries.get(outbound_id)
            if entry is not None and entry.state == "claimed":
                del self.entries[outbound_id]
