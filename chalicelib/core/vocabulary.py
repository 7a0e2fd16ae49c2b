"""The model's vocabulary: channels, event kinds, directions, statuses and priorities.

Ordered enums carry their rank (declaration order), so "newer status" and "higher priority" are
decided in one place.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"
    MESSENGER = "messenger"
    INSTAGRAM = "instagram"
    TELEGRAM = "telegram"
    LINE = "line"
    VIBER = "viber"
    X = "x"
    EMAIL = "email"
    VOICE = "voice"
    WEBCHAT = "webchat"


PHONE_CHANNELS = frozenset({Channel.SMS, Channel.WHATSAPP, Channel.VOICE})


class EventKind(StrEnum):
    MESSAGE = "message"  # a customer wrote something
    DELIVERY_STATUS = "delivery_status"  # a provider reports on a message we sent
    CALL = "call"  # a telephony event (ringing, completed, recording, transcription)
    LIFECYCLE = "lifecycle"  # follow/unfollow, subscribed, conversation_started, ...
    UNKNOWN = "unknown"  # a kind the hub does not know: stored raw, never fails the webhook


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class ConversationStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:  # declaration order: low < normal < high < urgent
        return tuple(Priority).index(self)


class DeliveryStatus(StrEnum):
    """Delivery states of a message; ``rank`` makes updates monotonic."""

    RECEIVED = "received"  # inbound messages
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"

    @property
    def rank(self) -> int:
        return _STATUS_RANK[self]

    def can_become(self, new: DeliveryStatus) -> bool:
        """``failed`` is terminal; otherwise a status only moves forward."""
        if self is DeliveryStatus.FAILED:
            return False
        if new is DeliveryStatus.FAILED:
            return self is not DeliveryStatus.READ
        return new.rank > self.rank


_STATUS_RANK = {status: rank for rank, status in enumerate(DeliveryStatus)}  # declaration order
