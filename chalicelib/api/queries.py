"""The REST API's read use cases for support tools (lookup, conversation, listing)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from chalicelib.api.feedback_view import with_feedback
from chalicelib.core.errors import BadRequest, NotFound
from chalicelib.core.model import Channel, ConversationStatus, Customer, Identity
from chalicelib.core.ports import MediaStore, Repositories
from chalicelib.core.timestamps import format_timestamp

ATTACHMENT_LINK_SECONDS = 300  # a presigned attachment URL works for 5 minutes: fetch the conversation again


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
    return customer_answer(repos, customer)


def customer_answer(repos: Repositories, customer: Customer) -> dict[str, Any]:
    """The customer as the lookup (and PATCH /customers/{id}) answers them."""
    return {
        "id": customer.id,
        "name": customer.name,
        "language": customer.language,
        "tier": customer.tier,
        "tags": list(customer.tags),
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
    view = conversation.to_api(messages)
    if repos.media is not None:
        expires_at = format_timestamp(datetime.now(UTC) + timedelta(seconds=ATTACHMENT_LINK_SECONDS))
        for message in view.get("messages", []):
            message["attachments"] = [_with_link(repos.media, a, expires_at) for a in message["attachments"]]
    return with_feedback(repos, view)


def _with_link(media: MediaStore, attachment: dict[str, Any], expires_at: str) -> dict[str, Any]:
    """A kept attachment (its ``url`` a pointer into the media store) shows a short-lived download URL
    instead, until ``url_expires_at``, with its ``sha256``; inline images say ``inline: true``."""
    pointer = attachment.get("url")
    link = media.link(pointer, filename=attachment.get("name"), content_type=attachment.get("content_type"),
                      expires_in=ATTACHMENT_LINK_SECONDS) if isinstance(pointer, str) else None
    if link is None:
        return attachment
    shown = dict(attachment, url=link, url_expires_at=expires_at)
    media_id = str(attachment.get("media_id") or "")
    if media_id.startswith("sha256:"):
        shown["sha256"] = media_id.removeprefix("sha256:")
    if attachment.get("kind") == "inline_image":
        shown["inline"] = True
    return shown


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


__all__ = ["conversation_detail", "conversation_list", "customer_answer", "lookup_customer"]
