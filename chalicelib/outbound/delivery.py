"""Outbound messages in the flow: stored on the conversation, queued, delivered once.

``enqueue_outbound`` is one conditional put: the message (status ``queued``) with its job. The
table's stream is the outbox: the relay forwards the job to outbound.fifo (group = conversation
id, so one conversation's replies leave in order), so an agent's reply is never accepted without
being durably stored, and never stored without being sent. ``deliver_outbound_job`` is the outbound
worker's use case: the DynamoDB ledger makes a redelivered job a no-op, and the sender's answer
(or a permanent error) lands on the message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters import resources
from chalicelib.adapters.dynamo.store import DynamoStore
from chalicelib.adapters.sqs import Outgoing
from chalicelib.core.errors import PermanentError, RetryableError
from chalicelib.core.model import DeliveryStatus, Direction, Message
from chalicelib.outbound.dispatch import DeliveryOutcome, deliver
from chalicelib.outbound.job import OutboundJob
from chalicelib.outbound.rules import ChannelRulesConfig

# A claim outlives any attempt: the queue's visibility timeout bounds one delivery attempt.
DELIVERY_LEASE_SECONDS = resources.OUTBOUND_QUEUE.visibility_timeout_seconds


def outbound_message(job: OutboundJob, status: DeliveryStatus = DeliveryStatus.QUEUED) -> Message:
    return Message(
        id=job.outbound_id,
        conversation_id=job.conversation_id,
        direction=Direction.OUTBOUND,
        channel=job.channel,
        created_at=job.created_at,
        text=job.text,
        attachments=job.attachments,
        status=status,
        provider=job.provider,
    )


def enqueue_outbound(store: DynamoStore, job: OutboundJob) -> bool:
    """Store the message with its job (the relay queues it); False when it was already stored."""
    return store.put_message(
        outbound_message(job), extra={"kind": job.kind.value, "job": json.dumps(job.to_dict(), ensure_ascii=False)}
    )


def relay_job(image_job: str) -> Outgoing:
    """The outbound.fifo message for a job found on a newly stored outbound message."""
    job = json.loads(image_job)
    return Outgoing(job, group_id=job["conversation_id"], dedupe_id=job["outbound_id"])


class DynamoDeliveryLedger:
    """The dispatch ledger for one job, in the table: a leased claim, then the result on the message."""

    def __init__(self, store: DynamoStore, job: OutboundJob, lease_seconds: int = DELIVERY_LEASE_SECONDS) -> None:
        self._store = store
        self._job = job
        self._lease = lease_seconds

    def claim(self, outbound_id: str) -> bool:
        return self._store.claim_delivery(outbound_id, self._lease)

    def record_sent(self, outbound_id: str, provider_message_id: str, status: DeliveryStatus) -> None:
        self._store.finish_delivery(outbound_id, "sent", {"provider_message_id": provider_message_id})
        self._store.record_outbound_result(
            outbound_message(self._job), status=status, provider=self._job.provider,
            provider_message_id=provider_message_id,
        )

    def record_failed(self, outbound_id: str, code: str, reason: str) -> None:
        self._store.finish_delivery(outbound_id, "failed", {"code": code, "reason": reason})
        self._store.record_outbound_result(
            outbound_message(self._job), status=DeliveryStatus.FAILED, provider=self._job.provider,
            provider_message_id=None, error_code=code, error_reason=reason[:500],
        )

    def release(self, outbound_id: str) -> None:
        self._store.release_delivery(outbound_id)


@dataclass(frozen=True, slots=True)
class OutboundPorts:
    store: DynamoStore
    senders: Mapping[str, Any]
    rules: ChannelRulesConfig


def deliver_outbound_job(body: dict[str, Any], ports: OutboundPorts, now: datetime | None = None) -> DeliveryOutcome:
    job = OutboundJob.from_dict(body)
    conversation = ports.store.get_conversation(job.conversation_id, consistent=True)
    if conversation is None:
        raise PermanentError(f"outbound job for unknown conversation {job.conversation_id}")
    # Consistent: a STOP recorded a moment ago must stop this message.
    customer = ports.store.get_customer(conversation.customer_id, consistent=True)
    if customer is None:
        raise RetryableError(f"customer of {job.conversation_id} not readable yet")
    return deliver(
        job,
        senders=ports.senders,
        ledger=DynamoDeliveryLedger(ports.store, job),
        now=now or datetime.now(UTC),
        consent=customer.consent,
        rules_config=ports.rules,
    )


def retry_delay_seconds(receive_count: int, retry_after: float | None) -> int:
    """Backoff through the queue's visibility: the provider's Retry-After, else 5 s doubling to 5 min."""
    backoff = min(300, 5 * 2 ** max(0, receive_count - 1))
    return int(min(43_200, max(backoff, retry_after or 0)))
