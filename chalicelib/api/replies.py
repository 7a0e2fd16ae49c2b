"""The REST API's agent reply: to the customer, on their channel (resolve and the other status
changes are in api/lifecycle.py)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from chalicelib.adapters.sqs import SqsBus
from chalicelib.api.private_replies import (
    direct_conversation_for,
    existing_direct_conversation,
    note_private_reply,
)
from chalicelib.api.reply_body import validated_idempotency_key, validated_reply
from chalicelib.api.reply_events import report_reply
from chalicelib.api.reply_rules import (
    refuse_if_consent_withdrawn,
    refuse_if_rules_forbid,
    refuse_if_thread_not_ours,
    reply_target,
)
from chalicelib.api.voice_replies import sms_instead_of_voice
from chalicelib.conversations.last_inbound import last_inbound_context
from chalicelib.core.errors import Conflict, IdempotencyKeyReused, NotFound
from chalicelib.core.ids import agent_reply_id_for
from chalicelib.core.model import Channel, Message
from chalicelib.core.ports import Repositories
from chalicelib.core.timestamps import utc_now
from chalicelib.outbound.job import OutboundKind
from chalicelib.outbound.outbox import OutboundDraft, place_outbound
from chalicelib.outbound.registry import NoOutboundProvider
from chalicelib.reports.events import count_agent_reply
from chalicelib.sla.timers import after_agent_reply, current_sla_setup


def reply_to_conversation(
    repos: Repositories,
    conversation_id: str,
    body: Any,
    *,
    environ: Mapping[str, str],
    idempotency_key: str | None = None,
    bus: SqsBus | None = None,
) -> dict[str, Any]:
    """Queue an agent's reply on the channel of the customer's last message (or the one chosen).

    An ``Idempotency-Key`` makes a retried POST return the same message instead of sending twice.
    With a ``bus``, the reply is reported as ``replied`` on the conversation-events queue.
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
    if channel is Channel.VOICE:  # a call is answered by SMS to the same number, where allowed
        call = last_inbound_context(repos, conversation_id, Channel.VOICE)
        call_provider, call_metadata = call.provider, call.metadata
        address: str | None = sms_instead_of_voice(customer, environ, call_provider)
        channel = Channel.SMS
    else:
        address = next((i.address for i in customer.identities if i.channel is channel), None)
    if address is None:
        raise Conflict(f"the customer has no {channel.value} address")
    refuse_if_thread_not_ours(conversation, channel)
    refuse_if_consent_withdrawn(customer, channel)
    last = last_inbound_context(repos, conversation_id, channel)
    last_inbound_at, inbound_provider, inbound_metadata = last.at, last.provider, last.metadata
    reply_token, written_at = last.reply_token, last.written_at
    if inbound_provider is None and (reply.channel or conversation.channel) is Channel.VOICE:
        inbound_provider, inbound_metadata = call_provider, call_metadata  # leave from the number called
    target = reply_target(conversation, channel, inbound_metadata, written_at, private=reply.private)
    outbound_id = agent_reply_id_for(conversation_id, idempotency_key)
    now = utc_now()
    # A private reply continues in the customer's direct conversation (api/private_replies.py).
    private = target is not None and reply.private
    if idempotency_key:
        # Recorded only once the request is known to be good, with a fingerprint of its body: a
        # retried POST reuses the first attempt's time, so the message lands on the same item.
        first = repos.idempotency.remember(conversation_id, idempotency_key, now, reply.fingerprint)
        if first.fingerprint != reply.fingerprint:
            raise IdempotencyKeyReused("this Idempotency-Key was used for a different reply")
        now = first.created_at
        direct = existing_direct_conversation(repos, conversation, outbound_id) if private else conversation
        existing = repos.messages.find(direct.id, outbound_id) if direct is not None else None
        if existing is not None:
            # A retried POST: what the first one created, whatever the clock says now; the clocks and the
            # `replied` event again (idempotent), for a first attempt that failed after storing the reply.
            after_agent_reply(repos.conversations, conversation_id, now, current_sla_setup())
            if private:
                note_private_reply(repos, conversation, existing)  # once: its id derives from the reply's
            count_agent_reply(repos, conversation, outbound_id, channel, now)  # once per reply id
            if bus is not None:
                report_reply(bus, conversation, customer, existing, retry_is_safe=True)
            return _accepted(existing)
    draft = OutboundDraft(
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
        reply_to=target,
    )
    refuse_if_rules_forbid(draft, customer, environ)
    if private:  # opened (if need be) only for a reply that will be sent
        draft = replace(draft, conversation_id=direct_conversation_for(repos, conversation, outbound_id, now).id)
    lands_in = draft.conversation_id
    try:
        placed = place_outbound(repos.messages, draft, environ)
    except NoOutboundProvider as err:
        # Nothing can reach the customer on this channel (voice, or a misconfigured provider).
        raise Conflict(f"no sender can reach the customer on {channel.value}: {err.reason}") from err
    # The reply fulfils the response clocks (a retried POST again: the same time, nothing changes).
    after_agent_reply(repos.conversations, conversation_id, now, current_sla_setup())
    count_agent_reply(repos, conversation, outbound_id, channel, now)  # once per reply id (a retry: nothing)
    message = placed.message
    if not placed.stored:
        existing = repos.messages.find(lands_in, outbound_id)
        if existing is not None:
            message = existing  # a retried POST: what the first one created, in its current state
    if lands_in != conversation_id:
        note_private_reply(repos, conversation, message)
    if bus is not None:
        report_reply(bus, conversation, customer, message, retry_is_safe=idempotency_key is not None)
    return _accepted(message)


def _accepted(message: Message) -> dict[str, Any]:
    return {"id": message.id, "conversation_id": message.conversation_id, "channel": message.channel.value,
            "status": message.status.value, "created_at": message.created_at}
