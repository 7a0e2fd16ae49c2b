"""The REST API's read use cases for support tools (lookup, conversation, listing)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.api.feedback_view import with_feedback
from chalicelib.core.errors import BadRequest, NotFound
from chalicelib.core.model import Channel, ConversationStatus, Identity
from chalicelib.core.ports import Repositories


def lookup_customer(repos: Repositories, query: Mapping[str, str]) -> dict[str, Any]:
    channel, address = query.get("channel"), query.get("address")
    if not channel or not address:
        raise BadRequest("channel and address are required")
    try:
        identity = Identity(Channel(channel), address)
    except ValueError as err:  # ModelError and an unknown channel alike
        raise BadRequest(f"not an identity: {err}") from err
    customer_id = repos.customers.identity_owner(identity)
    customer = repos.customers.get(customer_id) if customer_id else None
    if customer is None:
        raise NotFound("no customer has this identity")
    return {
        "id": customer.id,
        "name": customer.name,
        "language": customer.language,
        "tier": customer.tier,
        "identities": [i.to_dict() for i in customer.identities],
        "consent": customer.consent,
        "conversation_ids": repos.conversations.customer_conversation_ids(customer.id),
        "created_at": customer.created_at,
    }


def conversation_detail(repos: Repositories, conversation_id: str) -> dict[str, Any]:
    found = repos.conversations.get_with_messages(conversation_id)
    if found is None:
        raise NotFound(f"no conversation {conversation_id}")
    conversation, messages = found
    return with_feedback(repos, conversation.to_api(messages))


def conversation_list(repos: Repositories, query: Mapping[str, str]) -> dict[str, Any]:
    status_text = query.get("status")
    try:
        status = ConversationStatus(status_text) if status_text else None
        limit = int(query.get("limit", "50"))
    except ValueError as err:
        raise BadRequest(f"bad query: {err}") from err
    if not 1 <= limit <= 200:
        raise BadRequest("limit must be between 1 and 200")
    reference = query.get("reference")
    if reference:
        conversation_id = repos.references.conversation_for(reference.strip().upper())
        found = repos.conversations.get(conversation_id) if conversation_id else None
        return {"conversations": [found.to_api()] if found else [], "next_cursor": None}
    page = repos.conversations.list(
        status=status,
        route=query.get("route") or None,
        customer_id=query.get("customer_id") or None,
        limit=limit,
        cursor=query.get("cursor") or None,
    )
    return {"conversations": page.items, "next_cursor": page.next_cursor}


__all__ = ["conversation_detail", "conversation_list", "lookup_customer"]
