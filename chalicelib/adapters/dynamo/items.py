"""Conversation and message items ↔ the model: one function each way, attribute names set once."""

from __future__ import annotations

import json
import time
from typing import Any

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.resources import RETENTION
from chalicelib.core.incident import BroadcastRef
from chalicelib.core.model import (
    Attachment,
    Channel,
    Conversation,
    ConversationStatus,
    DeliveryStatus,
    Direction,
    Message,
    Priority,
)
from chalicelib.core.routing_record import ConversationRouting, SupportAssignment
from chalicelib.core.sla_record import StoredSla


def conversation_attributes(conversation: Conversation) -> dict[str, Any]:
    return {
        "id": conversation.id,
        "reference": conversation.reference,
        "status": conversation.status.value,
        "priority": conversation.priority.value,
        "route": conversation.route,
        "customer_id": conversation.customer_id,
        "channel": conversation.channel.value,
        "tags": list(conversation.tags) or None,
        "created_at": conversation.created_at,
        "updated_at": conversation.updated_at,
        "last_inbound_at": conversation.last_inbound_at,
        "resolved_at": conversation.resolved_at,
        "status_event_id": conversation.status_event_id,
        "status_changed_at": conversation.status_changed_at,
        **_assignment_attributes(conversation),
        **_routing_attributes(conversation),
        **(sla_attributes(conversation.id, conversation.sla) if conversation.sla else {}),
        **_public_attributes(conversation),
        **keys.status_index(conversation.status.value, conversation.updated_at, conversation.id),
    }


def conversation_from_item(item: dict[str, Any]) -> Conversation:
    return Conversation(
        id=item["id"],
        reference=item["reference"],
        status=ConversationStatus(item["status"]),
        priority=Priority(item.get("priority", "normal")),
        route=item.get("route", "default"),
        customer_id=item["customer_id"],
        channel=Channel(item["channel"]),
        created_at=item["created_at"],
        updated_at=item.get("updated_at", item["created_at"]),
        tags=tuple(item.get("tags") or ()),
        last_inbound_at=item.get("last_inbound_at"),
        resolved_at=item.get("resolved_at"),
        routing=_routing_from_item(item),
        sla=_sla_from_item(item),
        public=bool(item.get("public", False)),
        post_id=item.get("post_id"),
        permalink=item.get("permalink"),
        thread_owner=item.get("thread_owner"),
        status_event_id=item.get("status_event_id"),
        status_changed_at=item.get("status_changed_at"),
        assignment=_assignment_from_item(item),
    )


def sla_attributes(conversation_id: str, sla: StoredSla) -> dict[str, Any]:
    """The timers' attributes; the sparse index's keys only while a level can fall due (``sla_sk``
    removed otherwise: see :data:`keys.SLA_INDEX_ATTRIBUTES`)."""
    return {
        "sla_record": dict(sla.record), "sla_rev": sla.revision, "sla_due": dict(sla.due),
        "sla_paused": sla.paused, "sla_attention_at": sla.attention_at,
        **(keys.sla_index(sla.attention_at, conversation_id) if sla.attention_at else {}),
    }


def _sla_from_item(item: dict[str, Any]) -> StoredSla | None:
    if "sla_rev" not in item:
        return None
    return StoredSla(
        record=item.get("sla_record") or {},
        revision=int(item["sla_rev"]),
        due={str(kind): str(at) for kind, at in (item.get("sla_due") or {}).items()},
        paused=bool(item.get("sla_paused", False)),
        attention_at=item.get("sla_attention_at"),
    )


def _public_attributes(conversation: Conversation) -> dict[str, Any]:
    """Only on a public conversation (and one whose thread was handed over): others keep their items as they were."""
    data: dict[str, Any] = {}
    if conversation.public:
        data.update(public=True, post_id=conversation.post_id, permalink=conversation.permalink)
    if conversation.thread_owner:
        data["thread_owner"] = conversation.thread_owner
    return data


def _routing_attributes(conversation: Conversation) -> dict[str, Any]:
    routing = conversation.routing
    if routing is None:
        return {}
    return {"routing_rule": routing.rule, "routing_reason": routing.reason, "routed_by": routing.message_id,
            "routing_escalate": routing.escalate, "priority_rank": conversation.priority.rank}


def _routing_from_item(item: dict[str, Any]) -> ConversationRouting | None:
    """Written by ``DynamoConversations.record_routing`` only, never by ``create``."""
    if "routed_by" not in item:
        return None
    return ConversationRouting(
        rule=item.get("routing_rule"),
        reason=item.get("routing_reason", ""),
        message_id=item["routed_by"],
        escalate=bool(item.get("routing_escalate", False)),
    )


def _assignment_attributes(conversation: Conversation) -> dict[str, Any]:
    assignment = conversation.assignment
    if assignment is None:
        return {}
    return {"assigned_at": assignment.at, "assigned_from_route": assignment.previous_route,
            "assigned_from_priority": assignment.previous_priority}


def _assignment_from_item(item: dict[str, Any]) -> SupportAssignment | None:
    """Written by ``DynamoConversations.assign``."""
    if "assigned_at" not in item:
        return None
    return SupportAssignment(item["assigned_at"], item.get("assigned_from_route", ""),
                             item.get("assigned_from_priority", ""))


def message_expiry(now: float | None = None) -> dict[str, int]:
    """A message item's TTL (resources.RETENTION.message_days from when it is stored)."""
    moment = time.time() if now is None else now
    return {"expires_at": int(moment) + RETENTION.message_days * 86400}


def message_attributes(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "conversation_id": message.conversation_id,
        "direction": message.direction.value,
        "channel": message.channel.value,
        "created_at": message.created_at,
        "text": message.text,
        "attachments": json.dumps([a.to_dict() for a in message.attachments]) if message.attachments else None,
        "status": message.status.value,
        "status_rank": message.status.rank,
        "provider": message.provider,
        "provider_message_id": message.provider_message_id,
        "inbox_key": message.inbox_key,
        "error_code": message.error_code,
        "call": dict(message.call) or None,
        "message_metadata": json.dumps(message.metadata, ensure_ascii=False) if message.metadata else None,
        "broadcast_incident": message.broadcast.incident_id if message.broadcast else None,
        "broadcast_update": message.broadcast.update_id if message.broadcast else None,
    }


def message_from_item(item: dict[str, Any]) -> Message:
    return Message(
        id=item["id"],
        conversation_id=item["conversation_id"],
        direction=Direction(item["direction"]),
        channel=Channel(item["channel"]),
        created_at=item["created_at"],
        text=item.get("text"),
        attachments=tuple(Attachment.from_dict(a) for a in json.loads(item["attachments"]))
        if item.get("attachments")
        else (),
        status=DeliveryStatus(item.get("status", "received")),
        provider=item.get("provider"),
        provider_message_id=item.get("provider_message_id"),
        inbox_key=item.get("inbox_key"),
        error_code=item.get("error_code"),
        call=tuple(sorted((str(k), str(v)) for k, v in (item.get("call") or {}).items())),
        metadata=dict(json.loads(item["message_metadata"])) if item.get("message_metadata") else {},
        broadcast=BroadcastRef(item["broadcast_incident"], item["broadcast_update"])
        if item.get("broadcast_incident") and item.get("broadcast_update") else None,
    )
