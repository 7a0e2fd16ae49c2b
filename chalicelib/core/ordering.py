"""The FIFO ordering keys of events that name no sender (InboundEvent.ordering_key): one place, read by
the model and by an erasure looking for a message's or a call's events."""

from __future__ import annotations


def call_ordering_key(provider: str, call_id: str) -> str:
    """The ordering key of a phone call's callbacks (a call's message has the call id as provider message id)."""
    return f"{provider}#call#{call_id}"


def message_ordering_key(provider: str, provider_message_id: str) -> str:
    """The ordering key of an event naming a message but no sender (a delivery status)."""
    return f"{provider}#msg#{provider_message_id}"
