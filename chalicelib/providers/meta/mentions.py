"""Instagram ``mentions``: what the worker looked up, turned into a message of a public conversation.

Pure. The webhook names only ids (``media_id``, ``comment_id``; see ``feed.py``), so the stored event
is UNKNOWN with ``needs_lookup``. The worker asks Graph (a ``MentionLookup`` port) for
``GET /{ig-user-id}?fields=mentioned_comment.comment_id({comment-id})`` + :data:`COMMENT_FIELDS`
(a mention in a comment) or ``mentioned_media.media_id({media-id})`` + :data:`MEDIA_FIELDS`
(a mention in a post's caption), and :func:`mentioned_message` builds the MESSAGE from the answer.

The customer: a mention carries no IGSID. A comment's ``from.id`` (the commenter's Instagram-scoped
id, the same id comments and DMs carry) is the identity when Graph returns it; otherwise the
``username`` is, as its own identity ``("instagram", "@<username>")`` — the ``@`` keeps it apart
from every numeric IGSID, so it never merges with a DM customer by accident (an agent links them).
A caption mention is the media owner's (``username``); its text is the caption.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.core.model import EventKind, InboundEvent
from chalicelib.providers.base import PayloadError, as_dict
from chalicelib.providers.meta.events import build_event, put, scalar_text, sender_or_reason

COMMENT_FIELDS = "{id,text,timestamp,username,from,media{id,permalink}}"
MEDIA_FIELDS = "{id,caption,permalink,username,timestamp}"
USERNAME_PREFIX = "@"
MENTION_LOOKUP_PROVIDER = "meta"  # whose Graph API base (OMNIHUB_META_API_BASE) the lookup calls
MENTION_LOOKUP_SECRET = "META_ACCESS_TOKEN"  # the sending token (its ``-send`` secret: the worker may read it)


@dataclass(frozen=True, slots=True)
class MentionQuery:
    """What to ask Graph about one stored mention."""

    ig_user_id: str  # the account mentioned (the webhook entry's id, ``page_id`` in the metadata)
    comment_id: str | None
    media_id: str | None

    def fields(self) -> str:
        """The ``fields`` parameter of ``GET /{ig-user-id}``."""
        if self.comment_id:
            return f"mentioned_comment.comment_id({self.comment_id}){COMMENT_FIELDS}"
        return f"mentioned_media.media_id({self.media_id}){MEDIA_FIELDS}"


def needs_lookup(event: InboundEvent) -> bool:
    return event.kind is EventKind.UNKNOWN and event.metadata.get("needs_lookup") == "true"


def mention_query(event: InboundEvent) -> MentionQuery | None:
    """The lookup a stored mention needs; None when it names too little to ask (kept as unknown)."""
    metadata = event.metadata
    ig_user_id = metadata.get("page_id")
    comment_id = metadata.get("comment_id") if metadata.get("mentioned_in") == "comment" else None
    media_id = metadata.get("post_id")
    if not ig_user_id or not (comment_id or media_id):
        return None
    return MentionQuery(ig_user_id, comment_id, media_id)


def mentioned_message(event: InboundEvent, found: Mapping[str, Any]) -> InboundEvent | None:
    """The public MESSAGE of a looked-up mention (same event id and inbox key: a retry threads it once);
    None when Graph's answer holds no author or no text."""
    metadata = {k: v for k, v in event.metadata.items() if k not in ("needs_lookup", "type")}
    metadata["looked_up"] = "true"
    if metadata.get("mentioned_in") == "comment":
        item = as_dict(found.get("mentioned_comment"))
        text = scalar_text(item.get("text"))
        media = as_dict(item.get("media"))
        put(metadata, "post_id", media.get("id"))
        put(metadata, "permalink", media.get("permalink"))
        author_id = scalar_text(as_dict(item.get("from")).get("id"))
        provider_id = metadata.get("comment_id") or scalar_text(item.get("id"))
    else:
        item = as_dict(found.get("mentioned_media"))
        text = scalar_text(item.get("caption"))
        put(metadata, "permalink", item.get("permalink"))
        author_id = None
        provider_id = metadata.get("post_id") or scalar_text(item.get("id"))
    username = scalar_text(item.get("username")) or scalar_text(as_dict(item.get("from")).get("username"))
    put(metadata, "username", username)
    put(metadata, "mentioned_at", item.get("timestamp"))
    address = author_id or (USERNAME_PREFIX + username if username else None)
    sender = sender_or_reason(event.channel, address, metadata, username)
    if sender is None or not text:
        return None
    try:
        return build_event(event_id=event.event_id, kind=EventKind.MESSAGE, channel=event.channel,
                              occurred_at=event.occurred_at, sender=sender, text=text,
                              provider_message_id=provider_id, metadata=metadata)
    except PayloadError:
        return None
