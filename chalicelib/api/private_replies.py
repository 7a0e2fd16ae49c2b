"""A private reply to a public conversation continues in the customer's direct conversation.

An agent answers a comment or mention with ``"private": true`` (Messenger's and Instagram's private
reply, an X direct message): the outbound message is stored in the customer's **direct** conversation,
where their answer will arrive, not in the public one. That is the customer's open conversation (the
pointer of the threading rules, ``conversations/threading.py``) when it is open and not public; else a
new direct conversation is opened for the reply, its id derived from the reply's id (a retried POST
with the same Idempotency-Key finds the same one) and claimed as the customer's open conversation
(when another one was claimed meanwhile, the reply keeps its own). The public conversation keeps a
note: a message with ``metadata.private_reply_conversation_id`` and ``private_reply_message_id``.
"""

from __future__ import annotations

from chalicelib.conversations.threading import DEFAULT_ROUTE
from chalicelib.core.ids import allocate_reference, conversation_id_for, message_id_for
from chalicelib.core.model import (
    Conversation,
    ConversationStatus,
    DeliveryStatus,
    Direction,
    Message,
)
from chalicelib.core.ports import Repositories

NOTE_TEXT = "Private reply sent to the customer's direct conversation"


def direct_conversation_for(repos: Repositories, public: Conversation, outbound_id: str, at: str) -> Conversation:
    """The customer's open direct conversation, or one opened now for the private reply."""
    found = existing_direct_conversation(repos, public, outbound_id)
    if found is not None:
        return found
    conversation_id = conversation_id_for(f"private-reply#{outbound_id}")
    customer = repos.customers.get(public.customer_id, consistent=True)
    pointer = customer.open_conversation_id if customer else None
    conversation = Conversation(
        id=conversation_id, reference=allocate_reference(conversation_id, repos.references.reserve),
        status=ConversationStatus.OPEN, priority=public.priority, route=public.route or DEFAULT_ROUTE,
        customer_id=public.customer_id, channel=public.channel, created_at=at, updated_at=at,
    )
    repos.conversations.create(conversation)
    repos.customers.claim_open_conversation(public.customer_id, conversation_id, pointer)
    return repos.conversations.get(conversation_id, consistent=True) or conversation


def existing_direct_conversation(repos: Repositories, public: Conversation, outbound_id: str) -> Conversation | None:
    """Where the private reply lands if nothing needs opening: the one opened for it by an earlier attempt,
    else the customer's open direct conversation."""
    opened = repos.conversations.get(conversation_id_for(f"private-reply#{outbound_id}"), consistent=True)
    if opened is not None:
        return opened
    customer = repos.customers.get(public.customer_id, consistent=True)
    pointer = customer.open_conversation_id if customer else None
    current = repos.conversations.get(pointer, consistent=True) if pointer else None
    if current is not None and not current.public and current.status is not ConversationStatus.RESOLVED:
        return current
    return None


def note_private_reply(repos: Repositories, public: Conversation, reply: Message) -> None:
    """The public conversation records that the answer went private, and where (once per reply)."""
    repos.messages.put(Message(
        id=message_id_for(f"private-reply#{reply.id}"), conversation_id=public.id, direction=Direction.OUTBOUND,
        channel=reply.channel, created_at=reply.created_at, text=NOTE_TEXT, status=DeliveryStatus.SENT,
        metadata={"private_reply_conversation_id": reply.conversation_id, "private_reply_message_id": reply.id},
    ), kind="private_reply_note")
