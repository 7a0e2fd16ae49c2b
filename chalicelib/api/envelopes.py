"""Queue envelopes: versioned JSON documents, each published as a JSON Schema under schemas/.

A breaking change is a new version (``omnihub.routed.v2``), never an edit of v1.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core.model import Conversation, Customer, Message
from chalicelib.core.timestamps import utc_now

ROUTED_V1 = "omnihub.routed.v1"
INBOUND_V1 = "omnihub.inbound.v1"
ESCALATION_V1 = "omnihub.escalation.v1"


def routed_envelope(
    conversation: Conversation, customer: Customer, message: Message, *, opened: bool
) -> dict[str, Any]:
    """What support tools read from a route queue. ``envelope_id`` is stable across redeliveries."""
    return {
        "schema": ROUTED_V1,
        "envelope_id": message.id,
        "published_at": utc_now(),
        "route": conversation.route,
        "conversation": {**conversation_part(conversation), "opened": opened},
        "customer": customer_part(customer),
        "message": {
            "id": message.id,
            "direction": message.direction.value,
            "channel": message.channel.value,
            "text": message.text,
            "attachments": [a.to_dict() for a in message.attachments],
            "created_at": message.created_at,
            "provider": message.provider,
            "provider_message_id": message.provider_message_id,
            "metadata": dict(message.metadata),
        },
    }


def escalation_envelope(
    envelope_id: str,
    reason: str,
    level: int,
    conversation: Conversation,
    customer: Customer,
    *,
    action: str = "notify",
    deadline: str | None = None,
) -> dict[str, Any]:
    """What supervisors' tools read from the escalation queue; ``reason`` is the rule's name (or an
    SLA breach, or ``repeat_contact``). ``envelope_id`` derives from the conversation, the reason and the
    level; ``action`` is what the ladder's level did, ``deadline`` the SLA due time that was missed."""
    return {
        "schema": ESCALATION_V1,
        "envelope_id": envelope_id,
        "published_at": utc_now(),
        "reason": reason,
        "level": level,
        "route": conversation.route,
        "action": action,
        "deadline": deadline,
        "conversation": conversation_part(conversation),
        "customer": customer_part(customer),
    }


def conversation_part(conversation: Conversation) -> dict[str, Any]:
    """The conversation as every envelope shows it."""
    return {
        "id": conversation.id,
        "reference": conversation.reference,
        "status": conversation.status.value,
        "priority": conversation.priority.value,
        "channel": conversation.channel.value,
        "tags": list(conversation.tags),
        "routing": conversation.routing.to_api() if conversation.routing else None,
        "sla": conversation.sla.to_api() if conversation.sla else None,
        "created_at": conversation.created_at,
        "public": conversation.public,  # comments, mentions, reply posts: an answer is seen by everyone
        "post_id": conversation.post_id,
    }


def customer_part(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.id,
        "name": customer.name,
        "language": customer.language,
        "tier": customer.tier,
        "tags": list(customer.tags),
    }


def inbound_envelope(inbox_key: str, kind: str) -> dict[str, Any]:
    """Relay → conversation worker: only the key; the worker reads the stored event (the source of truth)."""
    return {"schema": INBOUND_V1, "inbox_key": inbox_key, "kind": kind}


EVENT_V1 = "omnihub.event.v1"


def lifecycle_event(
    event_id: str,
    event_type: str,
    occurred_at: str,
    conversation: Conversation | None,
    customer: Customer,
    detail: dict[str, Any],
) -> dict[str, Any]:
    """What integrators read from the conversation-events queue: one event per change, ``event_id``
    derived from the change (a redelivery publishes the same id). ``conversation`` is null for
    ``customer_updated``."""
    return {
        "schema": EVENT_V1,
        "event_id": event_id,
        "type": event_type,
        "occurred_at": occurred_at,
        "published_at": utc_now(),
        "route": conversation.route if conversation else None,
        "conversation": conversation_part(conversation) if conversation else None,
        "customer": customer_part(customer),
        "detail": detail,
    }
