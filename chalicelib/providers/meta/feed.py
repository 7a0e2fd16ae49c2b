"""The public side of Messenger and Instagram: Page ``feed`` comments, Instagram ``comments`` and ``mentions``.

These arrive as ``entry[].changes[]`` of the same webhook (``{"field": ..., "value": {...}}``).

- Page ``feed`` with ``item: comment``: ``verb`` ``add`` is a MESSAGE on the Messenger channel,
  ``edited`` a lifecycle ``message_edited`` (``edits_mid``: the comment id), ``remove`` a lifecycle
  ``message_deleted`` (``deletes_mid``). The Page's own comments (``from.id`` = the Page id) are ignored.
- Instagram ``comments`` (and ``live_comments``): a MESSAGE on the Instagram channel; the account's
  own comments are ignored.
- Instagram ``mentions``: Meta sends only ids (``media_id``, ``comment_id``); the text must be looked
  up (``GET /{ig-user-id}?fields=mentioned_comment.comment_id(...)``), so the event is UNKNOWN with
  ``type: mention`` and every id, for the worker to enrich.

Every event carries ``public: "true"``, ``public_source`` (``page_feed``, ``instagram_comments``,
``instagram_mentions``), ``post_id`` (the Page post or IG media), ``comment_id``, ``parent_id`` (the
comment answered, or the post for a top-level comment) and ``permalink`` where Meta gives one.
Ids: a comment is ``comment:<comment id>`` (a redelivery dedupes); an edit
``comment:<id>#edited#<hash of the change>`` (each edit its own event); a removal
``comment:<id>#removed``; a mention ``mention:<comment or media id>``.
Other changes (posts, reactions, ratings, ...) are kept raw as UNKNOWN, as before.
"""

from __future__ import annotations

from typing import Any

from chalicelib.core.model import Attachment, Channel, EventKind, InboundEvent
from chalicelib.providers.base import WebhookRequest, as_dict, canonical_id
from chalicelib.providers.meta.events import (
    build_event,
    epoch_event_time,
    meta_media_url,
    put,
    scalar_text,
    sender_or_reason,
    unknown_event,
)

_FEED_MEDIA = ("photo", "video")


def _public(metadata: dict[str, str], source: str, post_id: Any, comment_id: str, parent_id: Any) -> None:
    metadata.update(public="true", public_source=source, comment_id=comment_id)
    put(metadata, "post_id", post_id)
    put(metadata, "parent_id", parent_id)


def _page_comment(entry: dict[str, Any], value: dict[str, Any], metadata: dict[str, str],
                  request: WebhookRequest) -> list[InboundEvent]:
    author = as_dict(value.get("from"))
    author_id = scalar_text(author.get("id"))
    if author_id and author_id == scalar_text(entry.get("id")):
        return []  # the Page's own comment (our public reply, or a moderator's)
    occurred_at = epoch_event_time(value.get("created_time"), request)
    comment_id = scalar_text(value.get("comment_id"))
    verb = scalar_text(value.get("verb")) or "unknown"
    metadata["verb"] = verb
    if not comment_id:
        return [unknown_event(Channel.MESSENGER, canonical_id([entry.get("id"), value]), occurred_at,
                              "feed:comment", metadata)]
    post = as_dict(value.get("post"))
    _public(metadata, "page_feed", value.get("post_id") or post.get("id"), comment_id, value.get("parent_id"))
    put(metadata, "permalink", post.get("permalink_url"))
    sender = sender_or_reason(Channel.MESSENGER, author_id, metadata, scalar_text(author.get("name")))
    text = scalar_text(value.get("message"))
    common: dict[str, Any] = {"channel": Channel.MESSENGER, "occurred_at": occurred_at, "sender": sender,
                              "provider_message_id": comment_id, "metadata": metadata}
    if verb == "remove":
        metadata.update(lifecycle="message_deleted", deletes_mid=comment_id)
        return [build_event(event_id=f"comment:{comment_id}#removed", kind=EventKind.LIFECYCLE, **common)]
    if verb == "edited":
        metadata.update(lifecycle="message_edited", edits_mid=comment_id)
        edit = canonical_id(value, prefix="")[:16]
        return [build_event(event_id=f"comment:{comment_id}#edited#{edit}", kind=EventKind.LIFECYCLE,
                            text=text, **common)]
    attachments = tuple(Attachment(kind="image" if key == "photo" else key,
                                   url=meta_media_url(value.get(key), metadata))
                        for key in _FEED_MEDIA if isinstance(value.get(key), str))
    if verb != "add" or sender is None or not (text or attachments):
        return [unknown_event(Channel.MESSENGER, f"comment:{comment_id}#{verb}", occurred_at, "feed:comment",
                              metadata)]
    return [build_event(event_id=f"comment:{comment_id}", kind=EventKind.MESSAGE, text=text,
                        attachments=attachments, **common)]


def _instagram_comment(entry: dict[str, Any], value: dict[str, Any], metadata: dict[str, str],
                       request: WebhookRequest) -> list[InboundEvent]:
    author = as_dict(value.get("from"))
    author_id = scalar_text(author.get("id"))
    if author_id and author_id == scalar_text(entry.get("id")):
        return []  # the account's own comment
    occurred_at = epoch_event_time(entry.get("time"), request)
    comment_id = scalar_text(value.get("id"))
    if not comment_id:
        return [unknown_event(Channel.INSTAGRAM, canonical_id([entry.get("id"), value]), occurred_at,
                              "comments", metadata)]
    media = as_dict(value.get("media"))
    _public(metadata, "instagram_comments", media.get("id"), comment_id, value.get("parent_id"))
    put(metadata, "media_product_type", media.get("media_product_type"))
    put(metadata, "username", author.get("username"))
    put(metadata, "ad_id", media.get("ad_id"))
    username = scalar_text(author.get("username"))
    sender = sender_or_reason(Channel.INSTAGRAM, author_id, metadata, username)
    text = scalar_text(value.get("text"))
    if sender is None or not text:
        return [unknown_event(Channel.INSTAGRAM, f"comment:{comment_id}", occurred_at, "comments", metadata)]
    return [build_event(event_id=f"comment:{comment_id}", kind=EventKind.MESSAGE, channel=Channel.INSTAGRAM,
                        occurred_at=occurred_at, sender=sender, text=text, provider_message_id=comment_id,
                        metadata=metadata)]


def _instagram_mention(entry: dict[str, Any], value: dict[str, Any], metadata: dict[str, str],
                       request: WebhookRequest) -> list[InboundEvent]:
    occurred_at = epoch_event_time(entry.get("time"), request)
    comment_id = scalar_text(value.get("comment_id"))
    media_id = scalar_text(value.get("media_id"))
    metadata.update(public="true", public_source="instagram_mentions", needs_lookup="true",
                    mentioned_in="comment" if comment_id else "caption")
    put(metadata, "post_id", media_id)
    put(metadata, "comment_id", comment_id)
    key = comment_id or media_id
    event_id = f"mention:{key}" if key else canonical_id([entry.get("id"), value])
    return [unknown_event(Channel.INSTAGRAM, event_id, occurred_at, "mention", metadata)]


def parse_change(channel: Channel, entry: dict[str, Any], change: dict[str, Any], base: dict[str, str],
                 request: WebhookRequest) -> list[InboundEvent]:
    """One ``changes[]`` item of a Page or Instagram entry."""
    field = scalar_text(change.get("field")) or "unknown"
    value = as_dict(change.get("value"))
    metadata = {**base, "field": field}
    if channel is Channel.MESSENGER and field == "feed" and value.get("item") == "comment":
        return _page_comment(entry, value, metadata, request)
    if channel is Channel.INSTAGRAM and field in ("comments", "live_comments"):
        return _instagram_comment(entry, value, metadata, request)
    if channel is Channel.INSTAGRAM and field == "mentions":
        return _instagram_mention(entry, value, metadata, request)
    return [unknown_event(channel, canonical_id([entry.get("id"), change]),
                          epoch_event_time(entry.get("time"), request), field, metadata)]
