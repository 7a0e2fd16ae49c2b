"""Lifecycle events that change what is stored: read/delivery watermarks, edits and unsends, thread control.

- ``read_watermark`` / ``delivery_watermark`` (Messenger, Instagram): every message we sent the
  customer on that channel before the watermark is read / delivered. Applied through the one
  monotonic status rule (:meth:`DeliveryStatus.can_become`) to the outbound messages of the
  customer's recent conversations that have a provider id: a watermark never moves a status back, and
  a late or repeated one changes nothing. Public conversations are left out: their comment replies
  are no messages of the thread.
- ``message_edited`` / ``message_deleted`` (Messenger and Instagram edits and unsends, edited and
  removed Page comments): applied to the stored message the provider id names
  (:mod:`chalicelib.core.revisions` keeps the edit history in its metadata).
- ``reaction`` (Messenger, Instagram): the customer's emoji on the message it names, in the message's
  metadata (``reaction``, ``reacted_at``; removed on ``unreact``); it never opens a conversation.
- X ``direct_message_mark_read`` (a ``read`` status with ``covers_earlier``): the DM read and every
  earlier one of ours are read.
- ``thread_control_passed`` / ``thread_control_taken`` (the Handover Protocol): who owns the thread is
  recorded on the customer's open conversation; while another app owns it the hub neither
  acknowledges nor sends. A message that arrives on ``standby`` records the same.
"""

from __future__ import annotations

from chalicelib.adapters.observability import logger
from chalicelib.core.model import (
    THREAD_OWNER_OTHER,
    THREAD_OWNER_US,
    Channel,
    DeliveryStatus,
    Direction,
    Identity,
    InboundEvent,
    ModelError,
)
from chalicelib.core.ports import Repositories

WATERMARKS = frozenset({"read_watermark", "delivery_watermark"})
REVISIONS = {"message_edited": False, "message_deleted": True}  # lifecycle → is it an unsend
THREAD_CONTROL = {"thread_control_passed": THREAD_OWNER_US, "thread_control_taken": THREAD_OWNER_OTHER}
# A watermark covers what was sent before it: the customer's newest conversations hold all of it.
WATERMARK_CONVERSATIONS = 3


def apply_signal(event: InboundEvent, repos: Repositories) -> str | None:
    """What the event did (for logs and tests), or None when it is not one of these signals."""
    lifecycle = event.metadata.get("lifecycle")
    if lifecycle in WATERMARKS:
        return _apply_watermark(event, repos)
    if lifecycle in REVISIONS and event.provider_message_id:
        revised = repos.messages.revise_message(event.provider, event.provider_message_id, text=event.text,
                                                deleted=REVISIONS[lifecycle], at=event.occurred_at)
        return f"{lifecycle}_applied" if revised else f"{lifecycle}_ignored"
    if lifecycle == "reaction" and event.metadata.get("reaction_to"):
        removed = event.metadata.get("reaction_action") == "unreact"
        emoji = None if removed else (event.metadata.get("reaction_emoji") or event.metadata.get("reaction"))
        recorded = repos.messages.record_reaction(event.provider, event.metadata["reaction_to"], emoji=emoji,
                                                  at=event.occurred_at)
        return "reaction_recorded" if recorded else "reaction_ignored"
    if lifecycle in THREAD_CONTROL:
        conversation_id = _open_conversation_of(event, repos)
        if conversation_id is None:
            return "thread_owner_no_conversation"
        recorded = repos.conversations.record_thread_owner(conversation_id, THREAD_CONTROL[lifecycle],
                                                           event.occurred_at)
        return f"thread_owner_{THREAD_CONTROL[lifecycle]}" if recorded else "thread_owner_unchanged"
    return None


def note_thread_owner(event: InboundEvent, conversation_id: str, repos: Repositories) -> None:
    """A message that came on ``standby`` says another app owns the thread now."""
    if event.metadata.get("thread_owner") == THREAD_OWNER_OTHER:
        repos.conversations.record_thread_owner(conversation_id, THREAD_OWNER_OTHER, event.occurred_at)


def _customer_of(event: InboundEvent, repos: Repositories) -> str | None:
    """The customer who sent it, never created here: a signal about nobody we know changes nothing."""
    return repos.customers.identity_owner(event.sender.identity) if event.sender else None


def _open_conversation_of(event: InboundEvent, repos: Repositories) -> str | None:
    customer_id = _customer_of(event, repos)
    customer = repos.customers.get(customer_id, consistent=True) if customer_id else None
    return customer.open_conversation_id if customer else None


def apply_read_covering_earlier(event: InboundEvent, repos: Repositories) -> int:
    """X's ``direct_message_mark_read``: the customer read up to one of our DMs, so every earlier one too."""
    reader, last_read = event.metadata.get("reader_id"), event.provider_message_id
    if event.metadata.get("covers_earlier") != "true" or not reader or not last_read or event.status is None:
        return 0
    try:
        customer_id = repos.customers.identity_owner(Identity(event.channel, reader))
    except ModelError:
        return 0
    if customer_id is None:
        return 0
    for conversation_id in reversed(_recent_direct(repos, customer_id)):
        found = repos.conversations.get_with_messages(conversation_id)
        read = next((m for m in found[1] if m.provider_message_id == last_read), None) if found else None
        if read is not None:
            return _advance_before(repos, customer_id, event.channel, event.status, read.created_at)
    return 0


def _recent_direct(repos: Repositories, customer_id: str) -> list[str]:
    """The customer's newest conversations, oldest first; public ones hold comment replies, not thread messages."""
    recent = repos.conversations.customer_conversation_ids(customer_id)[-WATERMARK_CONVERSATIONS:]
    return [cid for cid in recent if not ((c := repos.conversations.get(cid)) is not None and c.public)]


def _apply_watermark(event: InboundEvent, repos: Repositories) -> str:
    watermark, status = event.metadata.get("watermark"), event.status
    customer_id = _customer_of(event, repos)
    if not watermark or status is None or customer_id is None:
        return "watermark_ignored"
    applied = _advance_before(repos, customer_id, event.channel, status, watermark)
    logger.info("watermark", extra={"status": status.value, "applied": applied})
    return f"watermark_{status.value}:{applied}"


def _advance_before(repos: Repositories, customer_id: str, channel: Channel, status: DeliveryStatus,
                    watermark: str) -> int:
    """Move every outbound message on ``channel`` created up to ``watermark`` to ``status`` (monotonic)."""
    applied = 0
    for conversation_id in _recent_direct(repos, customer_id):
        found = repos.conversations.get_with_messages(conversation_id)
        for message in found[1] if found else ():
            if _covered(message.direction, message.channel, channel, message.created_at, watermark) and \
                    message.provider and message.provider_message_id and message.status.can_become(status):
                applied += repos.messages.apply_delivery_status(message.provider, message.provider_message_id,
                                                                status, None)
    return applied


def _covered(direction: Direction, channel: Channel, watermark_channel: Channel, sent_at: str, watermark: str) -> bool:
    return direction is Direction.OUTBOUND and channel is watermark_channel and sent_at <= watermark
