"""The REST API's write use cases: an agent's reply (to the customer, on their channel) and resolve."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.core.errors import BadRequest, Conflict, NotFound
from chalicelib.core.ids import agent_reply_id_for
from chalicelib.core.model import Attachment, Channel, ConversationStatus, Message
from chalicelib.core.ports import Repositories
from chalicelib.core.timestamps import utc_now
from chalicelib.outbound.job import OutboundKind
from chalicelib.outbound.outbox import OutboundDraft, place_outbound

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
    text, attachments, chosen = _validated_body(body)
    conversation = repos.conversations.get(conversation_id)
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id}")
    customer = repos.customers.get(conversation.customer_id)
    if customer is None:
        raise NotFound(f"the customer of {conversation_id} is gone")
    channel = chosen or conversation.channel
    address = next((i.address for i in customer.identities if i.channel is channel), None)
    if address is None:
        raise Conflict(f"the customer has no {channel.value} address")
    last_inbound_at, inbound_provider, inbound_metadata, reply_token = _last_inbound(repos, conversation_id, channel)
    outbound_id = agent_reply_id_for(conversation_id, idempotency_key)
    now = utc_now()
    if idempotency_key:
        # A retried POST reuses the first attempt's time, so the message lands on the same item.
        now = repos.idempotency.remember(conversation_id, idempotency_key, now)
    placed = place_outbound(
        repos.messages,
        OutboundDraft(
            outbound_id=outbound_id,
            conversation_id=conversation_id,
            kind=OutboundKind.AGENT_REPLY,
            channel=channel,
            to=address,
            created_at=now,
            text=text,
            attachments=attachments,
            language=customer.language,
            reference=conversation.reference,
            customer_last_inbound_at=last_inbound_at,
            reply_token=reply_token,
            inbound_provider=inbound_provider,
            inbound_metadata=inbound_metadata,
        ),
        environ,
    )
    if not placed.stored:
        existing = repos.messages.find(conversation_id, outbound_id)
        if existing is not None:
            return _accepted(existing)  # a retried POST: what the first one created, in its current state
    return _accepted(placed.message)


def _last_inbound(
    repos: Repositories, conversation_id: str, channel: Channel
) -> tuple[str | None, str | None, dict[str, str], str | None]:
    last = repos.messages.last_inbound_on_channel(conversation_id, channel)
    if last is None:
        return None, None, {}, None
    record = repos.inbox.get(last.inbox_key) if last.inbox_key else None
    if record is None:
        return last.created_at, last.provider, {}, None
    return last.created_at, last.provider, dict(record.event.metadata), record.event.reply_token


def _accepted(message: Message) -> dict[str, Any]:
    return {"id": message.id, "conversation_id": message.conversation_id, "channel": message.channel.value,
            "status": message.status.value, "created_at": message.created_at}


def resolve_conversation(repos: Repositories, conversation_id: str) -> dict[str, Any]:
    """Resolve a case: the customer's next message opens a new conversation with a new reference."""
    conversation = repos.conversations.set_status(conversation_id, ConversationStatus.RESOLVED, utc_now())
    repos.customers.release_open_conversation(conversation.customer_id, conversation_id)
    return conversation.to_api()
