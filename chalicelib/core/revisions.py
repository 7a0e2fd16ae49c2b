"""What a customer's edit, unsend or reaction does to a stored message (pure): the rules both repositories apply.

- An edit replaces the text; the text it replaces is kept in ``metadata.edit_history`` (a JSON list of
  ``{"text", "until"}``, oldest first, at most :data:`MAX_EDIT_HISTORY` kept) and ``edited_at`` records
  the edit. An edit older than (or as old as) the one applied is ignored: redeliveries and reordering
  change nothing.
- An unsend (Messenger/Instagram ``is_deleted``, a removed comment) removes the text and attachments
  and records ``deleted_at``; what was unsent is not kept (the customer withdrew it, and Meta's platform
  terms ask apps to delete it). An unsent message stays unsent: a later edit is ignored.
"""

from __future__ import annotations

import json
from dataclasses import replace

from chalicelib.core.model import Message

MAX_EDIT_HISTORY = 20
MAX_REACTION_CHARS = 64  # an emoji, or Meta's name for it ("love")


def revised(message: Message, *, text: str | None, deleted: bool, at: str) -> Message | None:
    """The message after the edit or unsend made ``at``, or None when it changes nothing."""
    metadata = dict(message.metadata)
    if metadata.get("deleted_at"):
        return None
    if deleted:
        metadata["deleted_at"] = at
        return replace(message, text=None, attachments=(), metadata=metadata)
    edited_at = metadata.get("edited_at")
    if (edited_at is not None and not edited_at < at) or text is None or text == message.text:
        return None
    history = list(json.loads(metadata.get("edit_history") or "[]"))
    history.append({"text": message.text, "until": at})
    metadata["edit_history"] = json.dumps(history[-MAX_EDIT_HISTORY:], ensure_ascii=False)
    metadata["edited_at"] = at
    return replace(message, text=text, metadata=metadata)


def reacted(message: Message, *, emoji: str | None, at: str) -> Message | None:
    """The message with the customer's reaction as of ``at`` (``reaction``, ``reacted_at``); ``emoji``
    None removes it (unreact). An older reaction than the one recorded changes nothing."""
    metadata = dict(message.metadata)
    recorded_at = metadata.get("reacted_at")
    if recorded_at is not None and not recorded_at < at:
        return None
    metadata["reacted_at"] = at
    if emoji:
        metadata["reaction"] = emoji[:MAX_REACTION_CHARS]
    else:
        metadata.pop("reaction", None)
    return replace(message, metadata=metadata)
