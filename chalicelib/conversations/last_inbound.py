"""What a message to the customer needs to know of their last message on a channel: when it arrived
(the provider's reply windows), through which provider, its metadata (the number or bot written to),
its reply token (LINE) and when the customer wrote it (a comment's private-reply window counts from it).

The one reading of it: agent replies, surveys and crisis broadcasts all ask here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.core.model import Channel
from chalicelib.core.ports import Repositories


@dataclass(frozen=True, slots=True)
class LastInboundContext:
    """The customer's last message on a channel; all None/empty when they never wrote there."""

    at: str | None = None  # when the hub received it
    provider: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    reply_token: str | None = None
    written_at: str | None = None  # the provider's time for it (falls back to ``at``)


def last_inbound_context(repos: Repositories, conversation_id: str, channel: Channel) -> LastInboundContext:
    last = repos.messages.last_inbound_on_channel(conversation_id, channel)
    if last is None:
        return LastInboundContext()
    record = repos.inbox.get(last.inbox_key) if last.inbox_key else None
    if record is None:
        return LastInboundContext(last.created_at, last.provider, written_at=last.created_at)
    event = record.event
    return LastInboundContext(
        last.created_at, last.provider, dict(event.metadata), event.reply_token, event.occurred_at)
