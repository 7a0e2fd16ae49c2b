"""Messenger and Instagram ``messaging`` items that are not something the customer said.

None of these is threaded as a message: each is a lifecycle event (``metadata["lifecycle"]``) or,
where Meta names the exact message, a delivery status the worker applies today.

- ``read``: Messenger sends a ``watermark`` (every message we sent up to that time was read): a
  lifecycle ``read_watermark`` with ``status: read`` and ``metadata.watermark``; Instagram
  (``messaging_seen``) names the ``mid`` read: a DELIVERY_STATUS ``read`` of that message.
- ``delivery``: one DELIVERY_STATUS ``delivered`` per ``mids`` entry when Meta lists them, and always
  a lifecycle ``delivery_watermark`` for the messages it does not list.
- ``reaction``: lifecycle ``reaction`` (``reaction_to`` the mid, ``reaction_emoji``,
  ``reaction_action`` react / unreact): a thumbs-up must neither open a conversation nor be answered.
- ``referral``: the customer came back through an m.me link or an ad: lifecycle ``referral``.
- thread control (Handover Protocol): ``pass_thread_control`` (sent to the app that receives the
  thread: ``thread_owner: us``), ``take_thread_control`` (sent to the app that lost it: ``other``),
  ``request_thread_control`` (another app asks us, the owner: ``us``), ``app_roles`` (the Page changed
  which app is primary receiver; no thread).

Ids: a per-message status is ``<mid>#<status>``; a watermark
``<read|delivered>:<page>:<customer>:<watermark>``; the rest hash their item (a redelivery is equal).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalicelib.core.model import Channel, DeliveryStatus, EventKind, InboundEvent
from chalicelib.providers.base import as_dict, as_list, canonical_id, epoch_to_timestamp
from chalicelib.providers.meta.events import build_event, put, scalar_text, sender_or_reason, unknown_event

_REFERRAL_FIELDS = ("ref", "source", "type", "ad_id", "referer_uri")
_AD_CONTEXT_FIELDS = ("ad_title", "post_id", "product_id", "photo_url", "video_url")


def put_referral(metadata: dict[str, str], referral: dict[str, Any]) -> None:
    """``referral_ref``, ``referral_source`` (SHORTLINK, ADS, ...), ``referral_ad_id``, ``referral_ad_title``..."""
    for key in _REFERRAL_FIELDS:
        put(metadata, f"referral_{key}", referral.get(key))
    context = as_dict(referral.get("ads_context_data"))
    for key in _AD_CONTEXT_FIELDS:
        put(metadata, f"referral_{key}" if key.startswith("ad_") else f"referral_ad_{key}", context.get(key))


def _customer_id(item: dict[str, Any]) -> str | None:
    return scalar_text(as_dict(item.get("sender")).get("id"))


def _lifecycle(item: dict[str, Any], channel: Channel, metadata: dict[str, str], occurred_at: str, name: str,
               event_id: str | None = None, **fields: Any) -> InboundEvent:
    sender = sender_or_reason(channel, _customer_id(item), metadata)
    metadata["lifecycle"] = name
    return build_event(event_id=event_id or canonical_id([metadata.get("page_id"), item]), kind=EventKind.LIFECYCLE,
                       channel=channel, occurred_at=occurred_at, sender=sender, metadata=metadata, **fields)


def _watermark(item: dict[str, Any], receipt: dict[str, Any], channel: Channel, metadata: dict[str, str],
               occurred_at: str, status: DeliveryStatus) -> InboundEvent:
    watermark = receipt.get("watermark")
    moment = epoch_to_timestamp(watermark, millis=True, fallback="")
    name = "read_watermark" if status is DeliveryStatus.READ else "delivery_watermark"
    if not moment:
        return unknown_event(channel, canonical_id([metadata, item]), occurred_at, name, metadata)
    metadata.update(watermark=moment, watermark_ms=str(watermark))
    event_id = f"{status.value}:{metadata.get('page_id', '')}:{_customer_id(item) or ''}:{watermark}"
    return _lifecycle(item, channel, metadata, occurred_at, name, event_id, status=status)


def _status(message_id: str, channel: Channel, metadata: dict[str, str], occurred_at: str,
            status: DeliveryStatus) -> InboundEvent:
    return build_event(event_id=f"{message_id}#{status.value}", kind=EventKind.DELIVERY_STATUS, channel=channel,
                       occurred_at=occurred_at, provider_message_id=message_id, status=status,
                       metadata={**metadata, "status": status.value})


def _read(item: dict[str, Any], read: dict[str, Any], channel: Channel, metadata: dict[str, str],
          occurred_at: str) -> list[InboundEvent]:
    message_id = scalar_text(read.get("mid"))
    if message_id:  # Instagram: the message read, by id
        return [_status(message_id, channel, metadata, occurred_at, DeliveryStatus.READ)]
    return [_watermark(item, read, channel, metadata, occurred_at, DeliveryStatus.READ)]


def _delivery(item: dict[str, Any], delivery: dict[str, Any], channel: Channel, metadata: dict[str, str],
              occurred_at: str) -> list[InboundEvent]:
    events = [_status(mid, channel, dict(metadata), occurred_at, DeliveryStatus.DELIVERED)
              for mid in filter(None, map(scalar_text, as_list(delivery.get("mids"))))]
    if delivery.get("watermark") is not None:
        events.append(_watermark(item, delivery, channel, metadata, occurred_at, DeliveryStatus.DELIVERED))
    return events


def _reaction(item: dict[str, Any], reaction: dict[str, Any], channel: Channel, metadata: dict[str, str],
              occurred_at: str) -> list[InboundEvent]:
    put(metadata, "reaction_to", reaction.get("mid"))
    put(metadata, "reaction", reaction.get("reaction"))
    put(metadata, "reaction_emoji", reaction.get("emoji"))
    put(metadata, "reaction_action", reaction.get("action"))
    return [_lifecycle(item, channel, metadata, occurred_at, "reaction")]


def _referral(item: dict[str, Any], referral: dict[str, Any], channel: Channel, metadata: dict[str, str],
              occurred_at: str) -> list[InboundEvent]:
    put_referral(metadata, referral)
    return [_lifecycle(item, channel, metadata, occurred_at, "referral")]


def _thread_control(name: str, owner: str) -> Callable[..., list[InboundEvent]]:
    def handle(item: dict[str, Any], control: dict[str, Any], channel: Channel, metadata: dict[str, str],
               occurred_at: str) -> list[InboundEvent]:
        for key in ("previous_owner_app_id", "new_owner_app_id", "requested_owner_app_id"):
            put(metadata, key, control.get(key))
        put(metadata, "handover_metadata", control.get("metadata"))
        metadata["thread_owner"] = owner
        return [_lifecycle(item, channel, metadata, occurred_at, name)]

    return handle


def _app_roles(item: dict[str, Any], roles: dict[str, Any], channel: Channel, metadata: dict[str, str],
               occurred_at: str) -> list[InboundEvent]:
    metadata["app_roles"] = json.dumps({str(app): as_list(names) for app, names in roles.items()}, sort_keys=True)
    return [_lifecycle(item, channel, metadata, occurred_at, "app_roles")]


# messaging item key → its handler (item, value, channel, metadata, occurred_at) → events
SIGNALS: dict[str, Callable[..., list[InboundEvent]]] = {
    "read": _read,
    "delivery": _delivery,
    "reaction": _reaction,
    "referral": _referral,
    "pass_thread_control": _thread_control("thread_control_passed", "us"),
    "take_thread_control": _thread_control("thread_control_taken", "other"),
    "request_thread_control": _thread_control("thread_control_requested", "us"),
    "app_roles": _app_roles,
}
