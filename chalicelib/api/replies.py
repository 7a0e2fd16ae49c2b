"""The REST API's write use cases: an agent's reply (to the customer, on their channel) and resolve."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.api.feedback_view import with_feedback
from chalicelib.api.reply_body import validated_idempotency_key, validated_reply
from chalicelib.conversations.last_inbound import last_inbound_context
from chalicelib.core.errors import Conflict, IdempotencyKeyReused, NotFound
from chalicelib.core.ids import agent_reply_id_for
from chalicelib.core.model import ConversationStatus, Message
from chalicelib.core.ports import Repositories
from chalicelib.core.timestamps import utc_now
from chalicelib.feedback.asking import ask_on_resolve
from chalicelib.feedback.config import load_feedback_config
from chalicelib.outbound.job import OutboundKind
from chalicelib.outbound.outbox import OutboundDraft, place_outbound
from chalicelib.outbound.registry import NoOutboundProvider
from chalicelib.reports.events import count_agent_reply, count_resolution
from chalicelib.sla.timers import SlaSetup, after_agent_reply, after_status_change, sla_setup


def reply_to_conversation(
    repos: Repositories,
    conversation_id: str,
    body: Any,
    *,
    environ: Mapping[str, str],
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Queue an agent's reply on the channel of the customer's last message (or the one chosen).

    An ``Idempotency-Key`` makes a retried POST return the same message instead of sending twice.
    """
    reply = validated_reply(body)
    idempotency_key = validated_idempotency_key(idempotency_key)
    conversation = repos.conversations.get(conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id}")
    customer = repos.customers.get(conversation.customer_id)
    if customer is None:
        raise NotFound(f"the customer of {conversation_id} is gone")
    channel = reply.channel or conversation.channel
    address = next((i.address for i in customer.identities if i.channel is channel), None)
    if address is None:
        raise Conflict(f"the customer has no {channel.value} address")
    last_inbound_at, inbound_provider, inbound_metadata, reply_token = last_inbound_context(
        repos, conversation_id, channel
    )
    outbound_id = agent_reply_id_for(conversation_id, idempotency_key)
    now = utc_now()
    if idempotency_key:
        # Recorded only once the request is known to be good, with a fingerprint of its body: a
        # retried POST reuses the first attempt's time, so the message lands on the same item.
        first = repos.idempotency.remember(conversation_id, idempotency_key, now, reply.fingerprint)
        if first.fingerprint != reply.fingerprint:
            raise IdempotencyKeyReused("this Idempotency-Key was used for a different reply")
        now = first.created_at
    try:
        placed = place_outbound(
            repos.messages,
            OutboundDraft(
                outbound_id=outbound_id,
                conversation_id=conversation_id,
                kind=OutboundKind.AGENT_REPLY,
                channel=channel,
                to=address,
                created_at=now,
                text=reply.text,
                attachments=reply.attachments,
                language=customer.language,
                reference=conversation.reference,
                customer_last_inbound_at=last_inbound_at,
                reply_token=reply_token,
                inbound_provider=inbound_provider,
                inbound_metadata=inbound_metadata,
            ),
            environ,
        )
    except NoOutboundProvider as err:
        # Nothing can reach the customer on this channel (voice, or a misconfigured provider).
        raise Conflict(f"no sender can reach the customer on {channel.value}: {err.reason}") from err
    # The reply fulfils the response clocks (a retried POST again: the same time, nothing changes).
    after_agent_reply(repos.conversations, conversation_id, now, _sla_setup())
    count_agent_reply(repos, conversation, outbound_id, channel, now)  # once per reply id (a retry: nothing)
    if not placed.stored:
        existing = repos.messages.find(conversation_id, outbound_id)
        if existing is not None:
            return _accepted(existing)  # a retried POST: what the first one created, in its current state
    return _accepted(placed.message)


def _sla_setup() -> SlaSetup:
    from chalicelib.routing.config import load_routing_config  # lazy: only the write paths need it

    return sla_setup(load_routing_config())


def _accepted(message: Message) -> dict[str, Any]:
    return {"id": message.id, "conversation_id": message.conversation_id, "channel": message.channel.value,
            "status": message.status.value, "created_at": message.created_at}


def resolve_conversation(
    repos: Repositories, conversation_id: str, *, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Resolve a case: the customer's next message opens a new conversation with a new reference, and
    the customer is asked for feedback (chalicelib.feedback)."""
    before = repos.conversations.get(conversation_id, consistent=True)
    now = utc_now()
    conversation = repos.conversations.set_status(conversation_id, ConversationStatus.RESOLVED, now)
    repos.customers.release_open_conversation(conversation.customer_id, conversation_id)
    timed = after_status_change(repos.conversations, conversation_id, _sla_setup())  # the clocks stop
    resolved = timed.conversation if timed is not None else conversation
    count_resolution(repos, before, resolved, now)
    survey = ask_on_resolve(repos, resolved, environ=environ or {}, config=load_feedback_config(), now=now)
    return with_feedback(repos, resolved.to_api(), survey=survey)
