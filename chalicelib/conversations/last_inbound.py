"""What a message to the customer needs to know of their last message on a channel: when (the
provider's reply windows), through which provider, its metadata (the number or bot written to) and
its reply token (LINE)."""

from __future__ import annotations

from chalicelib.core.model import Channel
from chalicelib.core.ports import Repositories


def last_inbound_context(
    repos: Repositories, conversation_id: str, channel: Channel
) -> tuple[str | None, str | None, dict[str, str], str | None]:
    """(last inbound time, provider, event metadata, reply token); Nones when the customer never wrote there."""
    last = repos.messages.last_inbound_on_channel(conversation_id, channel)
    if last is None:
        return None, None, {}, None
    record = repos.inbox.get(last.inbox_key) if last.inbox_key else None
    if record is None:
        return last.created_at, last.provider, {}, None
    return last.created_at, last.provider, dict(record.event.metadata), record.event.reply_token
