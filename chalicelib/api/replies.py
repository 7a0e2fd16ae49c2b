"""The REST API's write use cases: an agent's reply (to the customer, on their channel) and resolve."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import Any

from chalicelib.acknowledgments.flow import sender_hints_from
from chalicelib.adapters.dynamo.store import DynamoStore
from chalicelib.core.errors import BadRequest, Conflict, NotFound
from chalicelib.core.model import Attachment, Channel, ConversationStatus, DeliveryStatus, Direction, Message, utc_now
from chalicelib.outbound.delivery import enqueue_outbound, outbound_message
from chalicelib.outbound.job import OutboundJob, OutboundKind
from chalicelib.outbound.registry import NoOutboundProvider, provider_for

MAX_TEXT = 4096


def _validated_body(body: Any) -> tuple[str | None, tuple[Attachment, ...], Channel | None]:
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    text = body.get("text")
    if text is not None and (not isinstance(text, str) or len(text) > MAX_TEXT):
        raise BadRequest(f"text must be a string of at most {MAX_TEXT} characters")
    raw_attachments = body.get("attachments") or []
    if not isinstance(raw_attachments, list) or any(
        not isinstance(a, dict) or not isinstance(a.get("url"), str) or not a["url"].startswith("https://")
        for a in raw_attachments
    ):
        raise BadRequest("attachments must be a list of objects with an https url")
    if not (text and text.strip()) and not raw_attachments:
        raise BadRequest("a reply needs text or attachments")
    attachments = tuple(
        Attachment(kind=str(a.get("kind") or "file"), url=a["url"], content_type=a.get("content_type"),
                   name=a.get("name"))
        for a in raw_attachments
    )
    channel_text = body.get("channel")
    try:
        channel = Channel(channel_text) if channel_text else None
    except ValueError as err:
        raise BadRequest(f"unknown channel {channel_text!r}") from err
    return text, attachments, channel


def reply_to_conversation(
    store: DynamoStore,
    conversation_id: str,
    body: Any,
    *,
    environ: Mapping[str, str],
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    """Queue an agent's reply on the channel of the customer's last message (or the one chosen).

    An ``Idempotency-Key`` makes a retried POST return the same message instead of sending twice.
    """
    text, attachments, chosen = _validated_body(body)
    conversation = store.get_conversation(conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id}")
    customer = store.get_customer(conversation.customer_id)
    if customer is None:
        raise NotFound(f"the customer of {conversation_id} is gone")
    channel = chosen or conversation.channel
    last_inbound_at, inbound_provider, inbound_metadata, reply_token = _last_inbound(store, conversation_id, channel)
    address = next((i.address for i in customer.identities if i.channel is channel), None)
    if address is None:
        raise Conflict(f"the customer has no {channel.value} address")
    outbound_id = (
        "out_rep_" + hashlib.sha256(f"{conversation_id}\x1f{idempotency_key}".encode()).hexdigest()[:20]
        if idempotency_key
        else "out_rep_" + uuid.uuid4().hex[:20]
    )
    now = utc_now()
    if idempotency_key:
        # A retried POST reuses the first attempt's time, so the message lands on the same item.
        now = store.remember_idempotency_key(conversation_id, idempotency_key, now)
    try:
        provider = provider_for(channel, environ, inbound_provider=inbound_provider)
    except NoOutboundProvider:
        # Web chat has no push API: the widget reads the reply from the conversation.
        message = Message(id=outbound_id, conversation_id=conversation_id, direction=Direction.OUTBOUND,
                          channel=channel, created_at=now, text=text, attachments=attachments,
                          status=DeliveryStatus.SENT)
        store.put_message(message, extra={"kind": OutboundKind.AGENT_REPLY.value, "delivered_in": "conversation"})
        return _accepted(message)
    job = OutboundJob(
        outbound_id=outbound_id,
        conversation_id=conversation_id,
        kind=OutboundKind.AGENT_REPLY,
        channel=channel,
        provider=provider,
        to=address,
        text=text,
        attachments=attachments,
        language=customer.language,
        reference=conversation.reference,
        customer_last_inbound_at=last_inbound_at,
        reply_token=reply_token,
        sender_hints=sender_hints_from(inbound_metadata),
        created_at=now,
    )
    if not enqueue_outbound(store, job):
        existing = store.find_message(conversation_id, outbound_id)
        if existing is not None:
            return _accepted(existing)  # a retried POST: what the first one created, in its current state
    return _accepted(outbound_message(job))


def _last_inbound(
    store: DynamoStore, conversation_id: str, channel: Channel
) -> tuple[str | None, str | None, dict[str, str], str | None]:
    created_at, provider, inbox_key = store.last_inbound_on_channel(conversation_id, channel)
    if inbox_key is None:
        return created_at, provider, {}, None
    record = store.get_inbox(inbox_key)
    if record is None:
        return created_at, provider, {}, None
    return created_at, provider, dict(record.event.metadata), record.event.reply_token


def _accepted(message: Message) -> dict[str, Any]:
    return {"id": message.id, "conversation_id": message.conversation_id, "channel": message.channel.value,
            "status": message.status.value, "created_at": message.created_at}


def resolve_conversation(store: DynamoStore, conversation_id: str) -> dict[str, Any]:
    """Resolve a case: the customer's next message opens a new conversation with a new reference."""
    conversation = store.set_conversation_status(conversation_id, ConversationStatus.RESOLVED, utc_now())
    store.release_open_conversation(conversation.customer_id, conversation_id)
    return conversation.to_api()
