"""Acknowledgments in the worker: store what the webhook response said, or decide one and place it.

The policy itself is pure (:func:`chalicelib.acknowledgments.decide_acknowledgment`), its inputs are
gathered by :mod:`chalicelib.acknowledgments.context`, and the webhook side lives in
:mod:`chalicelib.ingest.instant_ack`.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime

from chalicelib.acknowledgments import AckDecision, Policy, decide_acknowledgment
from chalicelib.acknowledgments.context import acknowledgment_context
from chalicelib.adapters.observability import count, logger
from chalicelib.conversations.threading import Threaded
from chalicelib.core.ids import acknowledgment_claim_key, acknowledgment_id_for
from chalicelib.core.model import Channel
from chalicelib.core.ports import ExpiringClaims, MessageRepository
from chalicelib.core.records import CarriedAcknowledgment
from chalicelib.outbound.job import OutboundKind, public_reply_target
from chalicelib.outbound.outbox import DELIVERED_IN_WEBHOOK_RESPONSE, OutboundDraft, place_outbound, record_delivered
from chalicelib.outbound.registry import NoOutboundProvider


def decide_for_threaded(
    threaded: Threaded, policy: Policy, now: datetime | None = None, crisis_status_line: str | None = None
) -> AckDecision:
    return decide_acknowledgment(
        acknowledgment_context(
            threaded.event,
            customer=threaded.customer,
            reference=threaded.conversation.reference,
            opens=threaded.opened,
            previous_inbound_at=threaded.previous_inbound_at,
            now=now or datetime.now(UTC),
            conversation=threaded.conversation,
            crisis_status_line=crisis_status_line,
        ),
        policy,
    )


def acknowledgment_draft(threaded: Threaded, text: str, language: str | None) -> OutboundDraft:
    """The acknowledgment of one inbound message, as an outbound draft (its id derives from the message)."""
    event = threaded.event
    assert event.sender is not None
    return OutboundDraft(
        outbound_id=acknowledgment_id_for(threaded.message.inbox_key or threaded.message.id),
        conversation_id=threaded.conversation.id,
        kind=OutboundKind.ACKNOWLEDGMENT,
        channel=event.channel,
        to=event.sender.identity.address,
        created_at=threaded.message.created_at,  # sorts right after the message it answers
        text=text,
        language=language,
        reference=threaded.conversation.reference,
        customer_last_inbound_at=event.occurred_at,
        reply_token=event.reply_token,
        inbound_provider=event.provider,
        inbound_metadata=event.metadata,
        # Only when the policy acknowledges public conversations: then in public, under the comment or post.
        reply_to=public_reply_target(event.metadata, event.occurred_at, private=False),
    )


# The channels where another machine may answer our acknowledgment with a message of its own.
RATE_LIMITED_CHANNELS = frozenset({Channel.EMAIL})


def _address_window_claimed(threaded: Threaded, policy: Policy, claims: ExpiringClaims | None) -> bool:
    """Claim the sender's address for one quiet period (held by this message: a redelivery keeps it)."""
    event = threaded.event
    if claims is None or event.sender is None or event.channel not in RATE_LIMITED_CHANNELS:
        return True
    window = int(policy.quiet_period.total_seconds())
    if window <= 0:
        return True
    now = time.time()
    return claims.claim(acknowledgment_claim_key(event.sender.identity.key),
                        threaded.message.inbox_key or threaded.message.id, int(now) + window, now=now)


def acknowledge_threaded(
    threaded: Threaded,
    carried: CarriedAcknowledgment | None,
    *,
    messages: MessageRepository,
    policy: Policy | None,
    environ: Mapping[str, str],
    claims: ExpiringClaims | None = None,
    crisis_status_line: str | None = None,
) -> str:
    """Store the acknowledgment the webhook response carried, or decide one and place it."""
    if carried:
        record_delivered(
            messages,
            acknowledgment_draft(threaded, carried.text, carried.language),
            provider=threaded.event.provider,
            delivered_in=DELIVERED_IN_WEBHOOK_RESPONSE,
        )
        return "acknowledged_in_response"
    if policy is None:
        return "not_acknowledged"
    decision = decide_for_threaded(threaded, policy, crisis_status_line=crisis_status_line)
    logger.info("acknowledgment decision", extra={"send": decision.send, "reason": str(decision.reason)})
    if not decision.send or not decision.text:
        return f"not_acknowledged:{decision.reason}"
    if not _address_window_claimed(threaded, policy, claims):
        # Whatever it sends (a new Message-ID each time, a changed subject), an address is acknowledged
        # at most once per quiet period: the last guard against a loop with another auto-responder.
        count("AcknowledgmentsRateLimited", channel=threaded.event.channel.value)
        return "not_acknowledged:address_rate_limited"
    try:
        placed = place_outbound(messages, acknowledgment_draft(threaded, decision.text, decision.language), environ)
    except NoOutboundProvider as err:
        # Nothing can carry it (voice, or a misconfigured provider): say so, never record it as sent.
        logger.warning("acknowledgment not sendable", extra={"channel": threaded.event.channel.value,
                                                              "reason": err.reason})
        return "not_acknowledged:no_sender"
    if not placed.queued:
        return "acknowledged_in_conversation"
    count("AcknowledgmentsQueued", channel=threaded.event.channel.value)
    return "acknowledgment_queued"
