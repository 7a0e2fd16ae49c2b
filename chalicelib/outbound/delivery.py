"""The outbound worker's use case: deliver one job, at most once.

The claims ledger makes a redelivered job a no-op, and the sender's answer (or a permanent error)
lands on the conversation's message (see :func:`chalicelib.outbound.dispatch.deliver`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.resources import OUTBOUND_QUEUE
from chalicelib.conversations.email_threads import remember_mail
from chalicelib.core.errors import PermanentError, RetryableError
from chalicelib.core.model import HANDOVER_CHANNELS, THREAD_OWNER_OTHER, Conversation, DeliveryStatus
from chalicelib.core.ports import Repositories
from chalicelib.email.headers import normalize_message_id
from chalicelib.outbound.dispatch import DeliveryOutcome, deliver
from chalicelib.outbound.errors import PermanentSendError
from chalicelib.outbound.job import OutboundJob
from chalicelib.outbound.outbox import outbound_message
from chalicelib.outbound.rules import ChannelRulesConfig

MESSAGE_ID_DETAIL = "message_id_header"  # SendResult.details: the Message-ID header of a sent mail
# A claim outlives any attempt: the queue's visibility timeout bounds one delivery attempt.
DELIVERY_LEASE_SECONDS = OUTBOUND_QUEUE.visibility_timeout_seconds


class RepositoryDeliveryLedger:
    """The dispatch ledger for one job: a leased claim, then the result on the message."""

    def __init__(self, repos: Repositories, job: OutboundJob, lease_seconds: int = DELIVERY_LEASE_SECONDS) -> None:
        self._repos = repos
        self._job = job
        self._lease = lease_seconds

    def claim(self, outbound_id: str) -> bool:
        return self._repos.deliveries.claim(outbound_id, self._lease)

    def record_sent(self, outbound_id: str, provider_message_id: str, status: DeliveryStatus) -> None:
        self._repos.deliveries.finish(outbound_id, "sent", {"provider_message_id": provider_message_id})
        self._repos.messages.record_outbound_result(
            outbound_message(self._job), status=status, provider=self._job.provider,
            provider_message_id=provider_message_id,
        )

    def record_failed(self, outbound_id: str, code: str, reason: str) -> None:
        self._repos.deliveries.finish(outbound_id, "failed", {"code": code, "reason": reason})
        self._repos.messages.record_outbound_result(
            outbound_message(self._job), status=DeliveryStatus.FAILED, provider=self._job.provider,
            provider_message_id=None, error_code=code, error_reason=reason[:500],
        )

    def release(self, outbound_id: str) -> None:
        self._repos.deliveries.release(outbound_id)


@dataclass(frozen=True, slots=True)
class OutboundPorts:
    repos: Repositories
    senders: Mapping[str, Any]
    rules: ChannelRulesConfig


def deliver_outbound_job(body: dict[str, Any], ports: OutboundPorts, now: datetime | None = None) -> DeliveryOutcome:
    job = OutboundJob.from_dict(body)
    conversation = ports.repos.conversations.get(job.conversation_id, consistent=True)
    if conversation is None:
        raise PermanentError(f"outbound job for unknown conversation {job.conversation_id}")
    # Consistent: a STOP recorded a moment ago must stop this message.
    customer = ports.repos.customers.get(conversation.customer_id, consistent=True)
    if customer is None:
        raise RetryableError(f"customer of {job.conversation_id} not readable yet")
    outcome = deliver(
        job,
        senders=ports.senders,
        ledger=RepositoryDeliveryLedger(ports.repos, job),
        now=now or datetime.now(UTC),
        consent=customer.consent,
        rules_config=ports.rules,
        refusal=thread_not_ours(conversation, job),
    )
    _remember_sent_mail(ports.repos, outcome)
    return outcome


def _remember_sent_mail(repos: Repositories, outcome: DeliveryOutcome) -> None:
    """The ``Message-ID`` of a mail the hub sent names its conversation: the customer's reply, whose
    ``In-Reply-To`` carries it, threads there (an email sender reports it as ``message_id_header``)."""
    header = outcome.result.details.get(MESSAGE_ID_DETAIL) if outcome.result is not None else None
    if header:
        remember_mail(repos, normalize_message_id(header), outcome.job.conversation_id)


def thread_not_ours(conversation: Conversation, job: OutboundJob) -> PermanentSendError | None:
    """Messenger/Instagram Handover Protocol: while another app owns the thread, the hub sends nothing
    in it (a comment reply is no message of the thread, and goes)."""
    if job.reply_to is None and job.channel in HANDOVER_CHANNELS and conversation.thread_owner == THREAD_OWNER_OTHER:
        return PermanentSendError(f"another app of the Page owns this {job.channel.value} thread",
                                  provider=job.provider, error_code="thread_not_ours")
    return None


def retry_delay_seconds(receive_count: int, retry_after: float | None) -> int:
    """Backoff through the queue's visibility: the provider's Retry-After, else 5 s doubling to 5 min."""
    backoff = min(300, 5 * 2 ** max(0, receive_count - 1))
    return int(min(43_200, max(backoff, retry_after or 0)))
