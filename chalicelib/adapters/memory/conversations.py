"""Conversations in memory, listed like the table lists them.

By status: one status after another (open, pending, resolved), newest activity first within each,
``limit`` conversations looked at per page and the route filter applied to those (the index's
``Limit`` counts items before a filter, so a filtered page may come back short). By customer: oldest
first. Cursors are opaque and decoded defensively: a client echoes them back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from chalicelib.adapters.cursors import CursorCodec, whole_number
from chalicelib.adapters.listing import MAX_PAGE, customer_listing
from chalicelib.adapters.memory.store import MemoryStore
from chalicelib.core.errors import Conflict, InvalidCursor, NotFound
from chalicelib.core.model import Conversation, ConversationStatus, Message, Priority
from chalicelib.core.records import Page
from chalicelib.core.routing_record import ConversationRouting, SupportAssignment
from chalicelib.core.sla_record import StoredSla

# The twins sign cursors as the table's repository does, with a key of their own.
TWIN_CURSOR_KEY = b"memory-twin-cursor-key-0123456789abcdef"


class MemoryConversations:
    def __init__(self, store: MemoryStore, cursors: CursorCodec | None = None) -> None:
        self.store = store
        self._cursors = cursors or CursorCodec(lambda: TWIN_CURSOR_KEY)

    def create(self, conversation: Conversation) -> bool:
        """The conversation once; its place in the customer's list whatever happened before."""
        with self.store.lock:
            created = conversation.id not in self.store.conversations
            if created:
                self.store.conversations[conversation.id] = conversation
            link = (conversation.customer_id, conversation.created_at, conversation.id)
            self.store.customer_conversations.add(link)
            return created

    def get(self, conversation_id: str, *, consistent: bool = False) -> Conversation | None:
        with self.store.lock:
            return self.store.conversations.get(conversation_id)

    def get_with_messages(self, conversation_id: str) -> tuple[Conversation, list[Message]] | None:
        with self.store.lock:
            conversation = self.store.conversations.get(conversation_id)
            if conversation is None:
                return None
            entries = sorted(
                (key, entry) for key, entry in self.store.messages.items() if key[0] == conversation_id
            )
        return conversation, [entry.message for _, entry in entries]

    def record_inbound_activity(self, conversation_id: str, at: str) -> Conversation | None:
        """Move ``last_inbound_at``/``updated_at`` forward, never back (a late retry changes nothing)."""
        with self.store.lock:
            current = self.store.conversations.get(conversation_id)
            if current is None or (current.last_inbound_at is not None and not current.last_inbound_at < at):
                return None
            moved = replace(current, last_inbound_at=at, updated_at=at)
            self.store.conversations[conversation_id] = moved
            return moved

    def record_thread_owner(self, conversation_id: str, owner: str, at: str) -> bool:
        with self.store.lock:
            current = self.store.conversations.get(conversation_id)
            if current is None:
                return False
            recorded_at = self.store.thread_owner_at.get(conversation_id)
            if recorded_at is not None and not recorded_at < at:
                return False
            self.store.thread_owner_at[conversation_id] = at
            self.store.conversations[conversation_id] = replace(current, thread_owner=owner)
            return True

    def set_status(
        self,
        conversation_id: str,
        status: ConversationStatus,
        at: str,
        *,
        expected: Sequence[ConversationStatus] | None = None,
        event_id: str | None = None,
    ) -> Conversation:
        with self.store.lock:
            current = self.store.conversations.get(conversation_id)
            if current is None:
                raise NotFound(f"no conversation {conversation_id}")
            if expected is not None and current.status not in expected:
                raise Conflict(f"conversation {conversation_id} is not {' or '.join(expected)}")
            changed = replace(
                current, status=status, updated_at=at,
                resolved_at=at if status is ConversationStatus.RESOLVED else None,
            )
            if event_id is not None:
                changed = replace(changed, status_event_id=event_id, status_changed_at=at)
            self.store.conversations[conversation_id] = changed
            return changed

    def record_routing(
        self,
        conversation_id: str,
        *,
        route: str,
        priority: Priority,
        tags: Sequence[str],
        routing: ConversationRouting,
        surge_tag: str | None = None,
    ) -> Conversation | None:
        """Never routed, or a strictly higher priority than the stored one: the table's condition."""
        with self.store.lock:
            current = self.store.conversations.get(conversation_id)
            surge_moves = surge_tag is not None and (current is not None and (
                current.route != route or surge_tag not in current.tags))
            if current is None or (current.routing is not None and not current.priority.rank < priority.rank
                                   and not surge_moves):
                return None
            changed = replace(current, route=route, priority=priority, tags=tuple(tags), routing=routing)
            self.store.conversations[conversation_id] = changed
            return changed

    def record_sla(
        self, conversation_id: str, sla: StoredSla, *, route: str | None = None, priority: Priority | None = None
    ) -> Conversation | None:
        """The table's condition: the stored revision is ``sla.revision - 1`` (none stored for the first)."""
        with self.store.lock:
            current = self.store.conversations.get(conversation_id)
            stored_revision = current.sla.revision if current is not None and current.sla is not None else 0
            if current is None or stored_revision != sla.revision - 1:
                return None
            changed = replace(current, sla=sla, route=route or current.route, priority=priority or current.priority)
            self.store.conversations[conversation_id] = changed
            return changed

    def sla_attention_due(self, now: str, limit: int) -> list[str]:
        """Conversations with an SLA level due at or before ``now``, earliest first (the sparse index's order)."""
        with self.store.lock:
            due = sorted(
                (c.sla.attention_at, c.id) for c in self.store.conversations.values()
                if c.sla is not None and c.sla.attention_at is not None and c.sla.attention_at <= now
            )
        return [conversation_id for _, conversation_id in due[: max(1, limit)]]

    def assign(
        self,
        conversation_id: str,
        *,
        route: str,
        priority: Priority,
        routing: ConversationRouting,
        assignment: SupportAssignment,
    ) -> Conversation:
        with self.store.lock:
            current = self.store.conversations.get(conversation_id)
            if current is None:
                raise NotFound(f"no conversation {conversation_id}")
            changed = replace(current, route=route, priority=priority, assignment=assignment,
                              routing=replace(routing, rule=None, escalate=False))
            self.store.conversations[conversation_id] = changed
            return changed

    def customer_conversation_ids(self, customer_id: str) -> list[str]:
        with self.store.lock:
            links = [link for link in self.store.customer_conversations if link[0] == customer_id]
        # The table's order: the sort key "{created_at}#{id}" compared as one string.
        return [conversation_id for _, _, conversation_id in sorted(links, key=lambda link: f"{link[1]}#{link[2]}")]

    def list(
        self,
        *,
        status: ConversationStatus | None,
        route: str | None,
        customer_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page:
        limit = max(1, min(limit, MAX_PAGE))
        if customer_id:
            return self._list_for_customer(customer_id, status, route, limit, cursor)
        statuses = [status] if status else list(ConversationStatus)
        query = f"status={status or ''}&route={route or ''}"
        state = self._cursors.decode(query, cursor) if cursor else {"s": 0}
        index = whole_number(state, "s", low=0, high=len(statuses) - 1)
        after = state.get("k")
        if after is not None and not isinstance(after, str):
            raise InvalidCursor("cursor is not one this API returned")
        found: list[dict[str, Any]] = []
        while index < len(statuses) and len(found) < limit:
            remaining = _by_activity(self.store, statuses[index], after)
            looked_at = remaining[: limit - len(found)]
            found.extend(c.to_api() for c in looked_at if not route or c.route == route)
            after = _activity_key(looked_at[-1]) if len(remaining) > len(looked_at) else None
            if after is None:
                index += 1
        more = index < len(statuses)
        return Page(found, self._cursors.encode(query, {"s": index, "k": after}) if more else None)

    def _list_for_customer(
        self, customer_id: str, status: ConversationStatus | None, route: str | None, limit: int, cursor: str | None
    ) -> Page:
        return customer_listing(
            customer_id, self.customer_conversation_ids(customer_id), self.get,
            status=status, route=route, limit=limit, cursor=cursor, cursors=self._cursors,
        )


def _by_activity(store: MemoryStore, status: ConversationStatus, after: str | None) -> list[Conversation]:
    """The conversations in one status, newest activity first, past the cursor's position."""
    with store.lock:
        chosen = [c for c in store.conversations.values() if c.status is status]
    ordered = sorted(chosen, key=_activity_key, reverse=True)
    return ordered if after is None else [c for c in ordered if _activity_key(c) < after]


def _activity_key(conversation: Conversation) -> str:
    """The status index's sort key: last activity, then id, compared as one string."""
    return f"{conversation.updated_at}#{conversation.id}"
