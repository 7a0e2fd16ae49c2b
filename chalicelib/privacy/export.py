"""``GET /customers/{id}/export``: everything the hub holds about one customer, as one JSON document.

Read through keys and per-partition queries only (the customer's partition, each conversation's, the
inbox items its messages name), never a scan. The document is assembled under a byte budget
(:data:`MAX_EXPORT_BYTES`, below the 6 MB a Lambda response may carry): past it, what does not fit is
counted in ``omitted`` and ``complete`` is false, so memory stays bounded whatever the customer's history.
Bytes the payload bucket holds (large raw payloads, SES mail objects, attachments) are never read here:
they are given as presigned URLs valid for :data:`LINK_SECONDS`.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, timedelta
from typing import Any

from chalicelib.core.errors import NotFound
from chalicelib.core.model import Customer, Message
from chalicelib.core.ordering import call_ordering_key, message_ordering_key
from chalicelib.core.timestamps import format_timestamp, parse_timestamp
from chalicelib.privacy.ports import InboxCopy, ObjectStore, PrivacyStore

EXPORT_SCHEMA = "omnihub.customer_export.v1"
MAX_EXPORT_BYTES = 4 * 1024 * 1024  # the whole document, JSON-encoded (a Lambda response carries 6 MB at most)
LINK_SECONDS = 3600  # presigned URLs in an export work for an hour


class _Budget:
    """Bytes left for the document; each part is charged its JSON size before it is added."""

    def __init__(self, limit: int) -> None:
        self.left = limit
        self.omitted: Counter[str] = Counter()

    def admit(self, section: str, part: Any) -> bool:
        size = len(json.dumps(part, default=str))  # as the response encodes it (ASCII, escapes included)
        if size > self.left:
            self.omitted[section] += 1
            return False
        self.left -= size
        return True


def export_customer(
    store: PrivacyStore, objects: ObjectStore, customer_id: str, *, now: str,
    max_bytes: int = MAX_EXPORT_BYTES, link_seconds: int = LINK_SECONDS,
) -> dict[str, Any]:
    customer = store.customer(customer_id)
    if customer is None:
        raise NotFound(f"no customer {customer_id}")
    budget = _Budget(max_bytes)
    expires_at = format_timestamp(parse_timestamp(now).astimezone(UTC) + timedelta(seconds=link_seconds))
    profile = {
        "id": customer.id, "name": customer.name, "language": customer.language, "tier": customer.tier,
        "tags": list(customer.tags), "consent": dict(customer.consent), "created_at": customer.created_at,
        "last_inbound_channel": customer.last_inbound_channel.value if customer.last_inbound_channel else None,
        "last_inbound_at": customer.last_inbound_at,
    }
    document: dict[str, Any] = {
        "schema": EXPORT_SCHEMA, "exported_at": now, "customer": profile,
        "identities": [identity.to_dict() for identity in customer.identities],
        "conversations": [], "raw_payloads": [], "feedback": [], "crisis": [],
    }
    budget.admit("customer", document)
    inbox_keys: list[str] = []
    for conversation_id in store.conversation_ids(customer_id):
        conversation = store.conversation(conversation_id)
        if conversation is None:
            continue
        view = conversation.to_api()
        if not budget.admit("conversations", view):
            continue
        view["messages"] = []
        for message in store.messages(conversation_id):
            shown = _message_view(message, objects, link_seconds, expires_at)
            if budget.admit("messages", shown):
                view["messages"].append(shown)
            inbox_keys.extend(inbox_keys_of(store, message))
        document["conversations"].append(view)
        feedback = store.feedback(conversation_id)
        if feedback is not None and budget.admit("feedback", feedback):
            document["feedback"].append(dict(feedback))
    inbox_keys += sender_inbox_keys(store, customer)
    for copy in _unique_copies(store, inbox_keys):
        shown = _raw_view(copy, objects, link_seconds, expires_at)
        if budget.admit("raw_payloads", shown):
            document["raw_payloads"].append(shown)
    for record in store.crisis_records(customer_id):
        if budget.admit("crisis", record):
            document["crisis"].append(dict(record))
    document["counts"] = {
        "conversations": len(document["conversations"]),
        "messages": sum(len(c["messages"]) for c in document["conversations"]),
        "outbound_messages": sum(1 for c in document["conversations"] for m in c["messages"]
                                 if m["direction"] == "outbound"),
        "attachments": sum(len(m["attachments"]) for c in document["conversations"] for m in c["messages"]),
        "raw_payloads": len(document["raw_payloads"]), "feedback": len(document["feedback"]),
        "crisis": len(document["crisis"]),
    }
    document["omitted"] = dict(budget.omitted)
    document["complete"] = not budget.omitted
    document["limits"] = {"max_bytes": max_bytes, "link_seconds": link_seconds, "links_expire_at": expires_at}
    return document


def _message_view(message: Message, objects: ObjectStore, link_seconds: int, expires_at: str) -> dict[str, Any]:
    shown = message.to_api()
    shown["conversation_id"] = message.conversation_id
    shown["provider"] = message.provider
    shown["attachments"] = [_attachment_view(a, objects, link_seconds, expires_at) for a in shown["attachments"]]
    return shown


def _attachment_view(attachment: dict[str, Any], objects: ObjectStore, link_seconds: int,
                     expires_at: str) -> dict[str, Any]:
    """A kept attachment (its ``url`` a bucket pointer) as a presigned URL; a provider's URL stays as it is."""
    pointer = attachment.get("url")
    if not isinstance(pointer, str) or not pointer.startswith("s3://"):
        return attachment
    link = objects.link(pointer, filename=attachment.get("name"), content_type=attachment.get("content_type"),
                        expires_in=link_seconds)
    return dict(attachment, url=link, url_expires_at=expires_at if link else None)


def inbox_keys_of(store: PrivacyStore, message: Message) -> list[str]:
    """The inbox items of a message: the one it came from; for a phone call (whose provider message id is
    the call id) every callback its call log lists and every event of the call; for a message a provider
    numbered, the events naming it without a sender (delivery statuses)."""
    found = [message.inbox_key] if message.inbox_key else []
    if message.provider and message.provider_message_id:
        if message.call:
            found += store.call_inbox_keys(message.provider, message.provider_message_id)
            found += store.inbox_keys_of(call_ordering_key(message.provider, message.provider_message_id))
        found += store.inbox_keys_of(message_ordering_key(message.provider, message.provider_message_id))
    return found


def sender_inbox_keys(store: PrivacyStore, customer: Customer) -> list[str]:
    """Every inbox item the customer's identities sent: messages, and what no message names (edits,
    reactions, opt-outs, follows)."""
    return [key for identity in customer.identities for key in store.inbox_keys_of(identity.key)]


def _unique_copies(store: PrivacyStore, inbox_keys: list[str]) -> Iterator[InboxCopy]:
    seen: set[str] = set()
    for key in inbox_keys:
        if key in seen:
            continue
        seen.add(key)
        copy = store.inbox_copy(key)
        if copy is not None and not copy.erased:
            yield copy


def _raw_view(copy: InboxCopy, objects: ObjectStore, link_seconds: int, expires_at: str) -> dict[str, Any]:
    """The stored event and its raw payload: inline text (or base64 for bytes that are not UTF-8), or a
    presigned URL when the payload lives in the bucket."""
    shown: dict[str, Any] = {
        "inbox_key": copy.inbox_key, "provider": copy.provider, "kind": copy.kind, "received_at": copy.received_at,
        "content_type": copy.content_type, "event": dict(copy.event) if isinstance(copy.event, Mapping) else None,
    }
    if copy.raw is not None:
        try:
            shown["raw_text"] = copy.raw.decode("utf-8")
        except UnicodeDecodeError:
            shown["raw_base64"] = base64.b64encode(copy.raw).decode("ascii")
    if copy.raw_pointer:
        link = objects.link(copy.raw_pointer, filename=None, content_type=copy.content_type, expires_in=link_seconds)
        shown["raw_url"] = link
        shown["raw_url_expires_at"] = expires_at if link else None
    return shown
