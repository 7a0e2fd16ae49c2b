"""Who receives a broadcast, and on which channel: pure rules over one customer at a time.

Every criterion the audience gives must hold; an opted-out customer is never a recipient. The
channel is the one of the customer's most recent inbound message (their first identity's when the
hub never saw them write), if consent and a sender allow it and the audience's channels include it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from chalicelib.core.consent import ConsentState
from chalicelib.core.incident import Audience
from chalicelib.core.model import Channel, Customer
from chalicelib.core.timestamps import parse_timestamp

SKIP_OPTED_OUT = "opted_out"
SKIP_NO_SENDER = "no_sender"
SKIP_NO_ADDRESS = "no_address"
SKIP_CHANNEL_EXCLUDED = "channel_not_in_audience"
SKIP_WINDOW_CLOSED = "messenger_window_closed"
SKIP_NO_TEMPLATE = "no_whatsapp_template"
SKIP_CANCELLED = "cancelled"
NO_CHANNEL = "none"  # the channel column of a customer the hub has no address for


def admits(audience: Audience, customer: Customer, now: datetime) -> bool:
    """Whether the customer fits every criterion given (channels and consent are judged by
    :func:`recipient_channel`, so a customer who fits but cannot be reached is counted as skipped)."""
    if audience.customer_ids is not None and customer.id not in audience.customer_ids:
        return False
    if audience.open_conversations is not None and (customer.open_conversation_id is not None) != (
        audience.open_conversations
    ):
        return False
    if audience.active_within_days is not None:
        if not customer.last_inbound_at:
            return False
        if parse_timestamp(customer.last_inbound_at) < now - timedelta(days=audience.active_within_days):
            return False
    if audience.tiers is not None and customer.tier not in audience.tiers:
        return False
    return audience.tags is None or bool(set(audience.tags) & set(customer.tags))


def recipient_channel(
    audience: Audience, customer: Customer, has_sender: Callable[[Channel], bool]
) -> tuple[Channel | None, str | None]:
    """``(channel, None)`` for a reachable customer, else ``(channel or None, skip reason)``."""
    channel = customer.last_inbound_channel or (customer.identities[0].channel if customer.identities else None)
    if channel is None:
        return None, SKIP_NO_ADDRESS
    if audience.channels is not None and channel.value not in audience.channels:
        return channel, SKIP_CHANNEL_EXCLUDED
    if broadcast_refused(customer.consent, channel):
        return channel, SKIP_OPTED_OUT
    if address_on(customer, channel) is None:
        return channel, SKIP_NO_ADDRESS
    if not has_sender(channel):
        return channel, SKIP_NO_SENDER
    return channel, None


def broadcast_refused(consent: Mapping[str, str], channel: Channel) -> bool:
    """Stricter than a reply's rule (core/consent.opted_out, keyword channels only): a broadcast goes to
    no one whose consent on the channel is withdrawn, however it was (STOP, unsubscribe, block)."""
    return consent.get(channel.value) == ConsentState.WITHDRAWN


def address_on(customer: Customer, channel: Channel) -> str | None:
    return next((i.address for i in customer.identities if i.channel is channel), None)


def message_language(customer_language: str | None, available: tuple[str, ...], fallback: str) -> str:
    """The update's language for this customer: theirs (``pt-BR`` → ``pt``), else the fallback,
    else the first the update has."""
    candidates: list[str] = []
    if customer_language:
        lowered = customer_language.lower().replace("_", "-")
        candidates += [lowered, lowered.split("-")[0]]
    candidates.append(fallback.lower())
    lowered_available = {a.lower(): a for a in available}
    for candidate in candidates:
        if candidate in lowered_available:
            return lowered_available[candidate]
    return available[0]


def matches_keywords(text: str | None, keywords: tuple[str, ...]) -> bool:
    """A keyword matches as a case-insensitive substring of the message's text."""
    if not text or not keywords:
        return False
    folded = text.casefold()
    return any(keyword.casefold() in folded for keyword in keywords if keyword)
