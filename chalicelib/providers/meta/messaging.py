"""Messenger and Instagram webhooks (``object`` = ``page`` / ``instagram``): the direct-message side.

An entry carries ``messaging[]`` (our app owns the thread), ``standby[]`` (another app of the Page
owns it: the Handover Protocol / Conversation Routing) and ``changes[]`` (the public side: see
``feed``). Each ``messaging`` item is one of:

- ``message``: text, attachments, a quick-reply ``payload``, an ad ``referral``, a reply to an
  Instagram story (``reply_to.story``) or a story mention (attachment ``story_mention``); an echo of
  our own message (``is_echo``) is ignored, an unsent one (``is_deleted``) is a lifecycle event
  naming the original ``mid`` (``deletes_mid``);
- ``message_edit``: the new text, a lifecycle event naming the original (``edits_mid``);
- ``postback``: a button the customer pressed, with its ``payload`` (and a ``referral`` when it
  started the thread);
- receipts, reactions, referrals and thread control: see ``signals``.

Every item from ``standby[]`` carries ``mode: standby`` and ``thread_owner: other`` (the
acknowledgment policy already declines to answer in standby mode).

Ids: a message is its ``mid``; an unsend ``<mid>#deleted``; an edit ``<mid>#edit#<num_edit>``
(each edit its own event, a redelivered one the same).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.core.model import Attachment, Channel, EventKind, InboundEvent
from chalicelib.providers.base import WebhookRequest, as_dict, as_list, canonical_id
from chalicelib.providers.meta.events import (
    build_event,
    event_time,
    guarded_many,
    meta_media_url,
    put,
    scalar_text,
    sender_or_reason,
    unknown_event,
)
from chalicelib.providers.meta.feed import parse_change
from chalicelib.providers.meta.signals import SIGNALS, put_referral

EntryParser = Callable[[dict[str, Any], WebhookRequest], list[InboundEvent]]

STORY_MENTION = "story_mention"


def _message(item: dict[str, Any], message: dict[str, Any], channel: Channel, metadata: dict[str, str],
             occurred_at: str) -> list[InboundEvent]:
    if message.get("is_echo"):
        return []  # our own outbound message (or, in standby, the owner app's)
    sender = sender_or_reason(channel, scalar_text(as_dict(item.get("sender")).get("id")), metadata)
    message_id = scalar_text(message.get("mid"))
    if not message_id:
        return [unknown_event(channel, canonical_id([metadata, item]), occurred_at, "message", metadata)]
    if message.get("is_deleted") is True:  # the customer unsent it
        metadata.update(lifecycle="message_deleted", deletes_mid=message_id)
        return [build_event(event_id=f"{message_id}#deleted", kind=EventKind.LIFECYCLE, channel=channel,
                            occurred_at=occurred_at, sender=sender, provider_message_id=message_id,
                            metadata=metadata)]
    reply_to = as_dict(message.get("reply_to"))
    put(metadata, "reply_to", reply_to.get("mid"))
    story = as_dict(reply_to.get("story"))
    if story:  # an answer to one of our Instagram stories
        metadata["message_type"] = "story_reply"
        put(metadata, "story_id", story.get("id"))
        put(metadata, "story_url", meta_media_url(story.get("url"), metadata))
    put(metadata, "quick_reply_payload", as_dict(message.get("quick_reply")).get("payload"))
    put_referral(metadata, as_dict(message.get("referral")))  # the ad that opened the thread
    attachments = []
    for attachment in map(as_dict, as_list(message.get("attachments"))):
        kind = scalar_text(attachment.get("type")) or "file"
        url = meta_media_url(as_dict(attachment.get("payload")).get("url"), metadata)
        if kind == STORY_MENTION:  # the customer mentioned us in their story: the story is the content
            metadata["message_type"] = STORY_MENTION
            put(metadata, "story_url", url)
        attachments.append(Attachment(kind=kind, url=url))
    metadata.setdefault("message_type", "message")
    text = scalar_text(message.get("text"))
    if sender is not None and (text or attachments):
        return [build_event(event_id=message_id, kind=EventKind.MESSAGE, channel=channel, occurred_at=occurred_at,
                            sender=sender, text=text, attachments=tuple(attachments),
                            provider_message_id=message_id, metadata=metadata)]
    return [unknown_event(channel, message_id, occurred_at, "message", metadata)]  # Meta's id still dedupes it


def _message_edit(item: dict[str, Any], edit: dict[str, Any], channel: Channel, metadata: dict[str, str],
                  occurred_at: str) -> list[InboundEvent]:
    sender = sender_or_reason(channel, scalar_text(as_dict(item.get("sender")).get("id")), metadata)
    message_id = scalar_text(edit.get("mid"))
    if not message_id:
        return [unknown_event(channel, canonical_id([metadata, item]), occurred_at, "message_edit", metadata)]
    count = scalar_text(edit.get("num_edit"))
    put(metadata, "num_edit", count)
    metadata.update(lifecycle="message_edited", edits_mid=message_id)
    event_id = f"{message_id}#edit#{count}" if count else f"{message_id}#edit#{canonical_id(item, prefix='')[:16]}"
    return [build_event(event_id=event_id, kind=EventKind.LIFECYCLE, channel=channel, occurred_at=occurred_at,
                        sender=sender, text=scalar_text(edit.get("text")), provider_message_id=message_id,
                        metadata=metadata)]


def _postback(item: dict[str, Any], postback: dict[str, Any], channel: Channel, metadata: dict[str, str],
              occurred_at: str) -> list[InboundEvent]:
    sender = sender_or_reason(channel, scalar_text(as_dict(item.get("sender")).get("id")), metadata)
    put(metadata, "postback_payload", postback.get("payload"))
    put_referral(metadata, as_dict(postback.get("referral")))  # Get Started from an m.me link or an ad
    metadata["message_type"] = "postback"
    # Standby postbacks carry no payload (only the app that sent the button gets it): the title remains.
    title = scalar_text(postback.get("title")) or scalar_text(postback.get("payload"))
    event_id = scalar_text(postback.get("mid")) or canonical_id([metadata, item])
    if sender is not None and title:
        return [build_event(event_id=event_id, kind=EventKind.MESSAGE, channel=channel, occurred_at=occurred_at,
                            sender=sender, text=title, metadata=metadata)]
    return [unknown_event(channel, canonical_id([metadata, item]), occurred_at, "postback", metadata)]


_CONTENT: dict[str, Callable[..., list[InboundEvent]]] = {
    "message": _message,
    "message_edit": _message_edit,
    "postback": _postback,
}


def _messaging_events(item: dict[str, Any], channel: Channel, base: dict[str, str],
                      request: WebhookRequest) -> list[InboundEvent]:
    occurred_at = event_time(item.get("timestamp"), request, millis=True)
    metadata = dict(base)
    put(metadata, "recipient_id", as_dict(item.get("recipient")).get("id"))
    for key, handle in (*_CONTENT.items(), *SIGNALS.items()):
        value = item.get(key)
        if isinstance(value, dict):
            return handle(item, value, channel, metadata, occurred_at)
    # optin, policy enforcement, ... or an item with nothing in it: kept raw.
    event_type = next((key for key in item if key not in ("sender", "recipient", "timestamp")), "unknown")
    return [unknown_event(channel, canonical_id([base, item]), occurred_at, event_type, metadata)]


def messaging_entry_parser(channel: Channel, object_name: str) -> EntryParser:
    def parse_entry(entry: dict[str, Any], request: WebhookRequest) -> list[InboundEvent]:
        base: dict[str, str] = {"object": object_name}
        put(base, "page_id", entry.get("id"))
        standby = {**base, "mode": "standby", "thread_owner": "other"}
        events: list[InboundEvent] = []
        for items, item_base in ((entry.get("messaging"), base), (entry.get("standby"), standby)):
            for item in as_list(items):
                events += guarded_many(channel, item_base, item, request, _messaging_events, as_dict(item),
                                       channel, item_base, request)
        for change in as_list(entry.get("changes")):
            events += guarded_many(channel, base, change, request, parse_change, channel, entry, as_dict(change),
                                   base, request)
        return events

    return parse_entry
