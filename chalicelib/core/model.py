"""The canonical conversation model: one vocabulary for every provider.

Typed, frozen dataclasses rather than pydantic: the webhook Lambda imports this module on
every cold start, and dataclasses cost nothing to import and need no compiled wheel in the
deployment package (pydantic-core would have to match Lambda's platform). Validation lives in
``__post_init__`` and raises :class:`ModelError`, which callers turn into a 400.

Timestamps are UTC ISO-8601 strings with a ``Z`` suffix (``2026-11-22T20:08:29.123Z``) so they
sort lexically in DynamoDB sort keys. Provider ids are always strings: Telegram and Viber ids
exceed 2^53 and would lose digits as JSON numbers in JavaScript consumers.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from chalicelib.core.errors import ModelError
from chalicelib.core.incident import BroadcastRef
from chalicelib.core.ordering import call_ordering_key, message_ordering_key
from chalicelib.core.routing_record import ConversationRouting, SupportAssignment
from chalicelib.core.sla_record import StoredSla
from chalicelib.core.timestamps import ISO_UTC, normalize_timestamp
from chalicelib.core.vocabulary import (
    PHONE_CHANNELS,
    Channel,
    ConversationStatus,
    DeliveryStatus,
    Direction,
    EventKind,
    Priority,
)

# Bounds on everything that becomes part of a DynamoDB key or a queue attribute, checked at the
# door: an unbounded id would be stored, then fail every retry of the worker (DynamoDB refuses
# partition keys over 2,048 bytes) and end as a poison message.
MAX_ADDRESS_BYTES = 320  # an email address is at most 254; provider user ids are far shorter
MAX_ID_BYTES = 512  # a provider's event or message id
THREAD_OWNER_OTHER = "other"  # Conversation.thread_owner while another app of the Page owns the thread
THREAD_OWNER_US = "us"
HANDOVER_CHANNELS = frozenset({Channel.MESSENGER, Channel.INSTAGRAM})  # where the Handover Protocol exists
EMAIL_INBOX_NAMESPACE = "email"  # the dedupe namespace of every email event (InboundEvent.inbox_namespace)


def _within(value: str, limit: int) -> bool:
    return len(value.encode("utf-8", "surrogatepass")) <= limit


_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def normalize_phone(value: str) -> str:
    """Any provider form (``whatsapp:+39...``, ``39...``, ``+39 333 ...``) → E.164 with ``+``."""
    raw = value.strip()
    for prefix in ("whatsapp:", "sms:", "tel:", "viber:", "messenger:"):
        if raw.lower().startswith(prefix):
            raw = raw[len(prefix) :]
    digits = re.sub(r"[\s().\-]", "", raw)
    if digits.startswith("00"):
        digits = digits[2:]
    if not digits.startswith("+"):
        digits = "+" + digits
    if not _E164.match(digits):
        # Never the value itself: this message reaches logs and 400 bodies.
        raise ModelError("not a phone number in international form (+, country code, 7 to 15 digits)")
    return digits


def normalize_address(channel: Channel, address: str) -> str:
    """The canonical form of a customer's address on a channel."""
    if not isinstance(address, str) or not address.strip():
        raise ModelError("an identity needs a non-empty address")
    address = address.strip()
    if channel in PHONE_CHANNELS and not address.startswith(("bsuid:", "user:")):
        return normalize_phone(address)
    if channel is Channel.EMAIL:
        return address.lower()
    return address


@dataclass(frozen=True, slots=True)
class Identity:
    """A customer's address on one channel: ``("whatsapp", "+393331234567")``."""

    channel: Channel
    address: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "channel", Channel(self.channel))
        object.__setattr__(self, "address", normalize_address(self.channel, self.address))
        if not _within(self.address, MAX_ADDRESS_BYTES):
            raise ModelError(f"an address may have at most {MAX_ADDRESS_BYTES} bytes")

    @property
    def key(self) -> str:
        return f"{self.channel.value}#{self.address}"

    def to_dict(self) -> dict[str, str]:
        return {"channel": self.channel.value, "address": self.address}


@dataclass(frozen=True, slots=True)
class Attachment:
    """Metadata only: the hub stores where the media is, never the media itself."""

    kind: str  # image, audio, video, document, sticker, location, contact, file
    url: str | None = None
    media_id: str | None = None
    content_type: str | None = None
    name: str | None = None
    size: int | None = None
    caption: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Attachment:
        size = data.get("size")
        return cls(
            kind=str(data.get("kind") or "file"),
            url=data.get("url"),
            media_id=None if data.get("media_id") is None else str(data["media_id"]),
            content_type=data.get("content_type"),
            name=data.get("name"),
            size=None if size is None else int(size),
            caption=data.get("caption"),
        )


@dataclass(frozen=True, slots=True)
class Sender:
    """Who wrote, as the provider describes them."""

    identity: Identity
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    language: str | None = None  # BCP-47 hint from the provider (``it``, ``pt-BR``)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"identity": self.identity.to_dict()}
        for key in ("name", "email", "phone", "language"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Sender:
        ident = data["identity"]
        return cls(
            identity=Identity(Channel(ident["channel"]), ident["address"]),
            name=data.get("name"),
            email=data.get("email"),
            phone=data.get("phone"),
            language=data.get("language"),
        )


@dataclass(frozen=True, slots=True)
class InboundEvent:
    """One normalized event from a provider webhook (a POST may carry several).

    ``event_id`` is the provider's own id for this event (a mail's: its Message-ID) and, prefixed by
    ``inbox_namespace``, the inbox's dedupe key: the same event delivered again is recognized however it arrives.
    """

    provider: str
    event_id: str
    kind: EventKind
    channel: Channel
    occurred_at: str
    sender: Sender | None = None
    text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    provider_message_id: str | None = None
    status: DeliveryStatus | None = None
    error_code: str | None = None
    reply_token: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.provider or not re.fullmatch(r"[a-z0-9_\-]+", self.provider):
            raise ModelError(f"bad provider name: {self.provider!r}")
        if not isinstance(self.event_id, str) or not self.event_id or not _within(self.event_id, MAX_ID_BYTES):
            raise ModelError(f"event_id must be a non-empty string of at most {MAX_ID_BYTES} bytes")
        object.__setattr__(self, "kind", EventKind(self.kind))
        object.__setattr__(self, "channel", Channel(self.channel))
        if not ISO_UTC.match(self.occurred_at):
            object.__setattr__(self, "occurred_at", normalize_timestamp(self.occurred_at))
        if self.status is not None:
            object.__setattr__(self, "status", DeliveryStatus(self.status))
        if self.provider_message_id is not None and (
            not isinstance(self.provider_message_id, str) or not _within(self.provider_message_id, MAX_ID_BYTES)
        ):
            raise ModelError(f"provider_message_id must be a string of at most {MAX_ID_BYTES} bytes")
        if self.kind is EventKind.MESSAGE:
            if self.sender is None:
                raise ModelError("a message needs a sender")
            if not (self.text and self.text.strip()) and not self.attachments:
                raise ModelError("a message needs text or attachments")
        if self.kind is EventKind.DELIVERY_STATUS and (self.status is None or not self.provider_message_id):
            raise ModelError("a delivery status needs a status and the provider message id")
        if any(not isinstance(v, str) for v in self.metadata.values()):
            raise ModelError("metadata values must be strings")

    @property
    def inbox_namespace(self) -> str:
        """The provider, except on email, whose event id is the mail's own (Message-ID, else a hash of
        it): the same mail through two providers, or to two mailboxes, is one inbox item."""
        return EMAIL_INBOX_NAMESPACE if self.channel is Channel.EMAIL else self.provider

    @property
    def inbox_key(self) -> str:
        return f"{self.inbox_namespace}#{self.event_id}"

    @property
    def ordering_key(self) -> str:
        """The FIFO group: one sender's events are handled in order, senders in parallel; a phone call's
        callbacks (some carry no caller) in order per call, so they fold one after the other."""
        if self.kind is EventKind.CALL and self.provider_message_id:
            return call_ordering_key(self.provider, self.provider_message_id)
        if self.sender is not None:
            return self.sender.identity.key
        if self.provider_message_id:
            return message_ordering_key(self.provider, self.provider_message_id)
        return self.inbox_key

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "provider": self.provider,
            "event_id": self.event_id,
            "kind": self.kind.value,
            "channel": self.channel.value,
            "occurred_at": self.occurred_at,
        }
        if self.sender is not None:
            data["sender"] = self.sender.to_dict()
        if self.text is not None:
            data["text"] = self.text
        if self.attachments:
            data["attachments"] = [a.to_dict() for a in self.attachments]
        for key in ("provider_message_id", "error_code", "reply_token"):
            value = getattr(self, key)
            if value is not None:
                data[key] = value
        if self.status is not None:
            data["status"] = self.status.value
        if self.metadata:
            data["metadata"] = dict(self.metadata)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InboundEvent:
        sender = data.get("sender")
        status = data.get("status")
        return cls(
            provider=data["provider"],
            event_id=data["event_id"],
            kind=EventKind(data["kind"]),
            channel=Channel(data["channel"]),
            occurred_at=data["occurred_at"],
            sender=Sender.from_dict(sender) if sender else None,
            text=data.get("text"),
            attachments=tuple(Attachment.from_dict(a) for a in data.get("attachments") or ()),
            provider_message_id=data.get("provider_message_id"),
            status=DeliveryStatus(status) if status else None,
            error_code=data.get("error_code"),
            reply_token=data.get("reply_token"),
            metadata=dict(data.get("metadata") or {}),
        )


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    name: str | None
    language: str | None
    tier: str
    identities: tuple[Identity, ...]
    created_at: str
    open_conversation_id: str | None = None
    consent: dict[str, str] = field(default_factory=dict)  # channel → "granted" | "withdrawn"
    open_claimed_at: str | None = None  # when open_conversation_id was last claimed
    tags: tuple[str, ...] = ()  # set by a CRM (loyalty, segments); routing rules read them
    profile_version: int = 0  # counts PATCH /customers/{id} changes: the optimistic lock, the event's change
    last_inbound_channel: Channel | None = None  # where the customer last wrote (crisis broadcasts go there)
    last_inbound_at: str | None = None


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    conversation_id: str
    direction: Direction
    channel: Channel
    created_at: str
    text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    status: DeliveryStatus = DeliveryStatus.RECEIVED
    provider: str | None = None
    provider_message_id: str | None = None
    inbox_key: str | None = None
    error_code: str | None = None
    # A phone call's message only: what the call was (outcome, duration, recording), as (name, value) pairs.
    call: tuple[tuple[str, str], ...] = ()
    # What happened to it after it was stored: ``edited_at``, ``deleted_at`` and ``edit_history`` (a JSON
    # list of {"text", "until"}: every earlier text and when it was replaced) for an edit or an unsend.
    metadata: dict[str, str] = field(default_factory=dict)
    broadcast: BroadcastRef | None = None  # a crisis broadcast: the update whose progress its statuses count on

    def to_api(self) -> dict[str, Any]:
        data = self._api_fields()
        if self.call:
            data["call"] = dict(self.call)
        if self.metadata:
            data["metadata"] = dict(self.metadata)
        return data

    def _api_fields(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "direction": self.direction.value,
            "channel": self.channel.value,
            "text": self.text,
            "attachments": [a.to_dict() for a in self.attachments],
            "status": self.status.value,
            "created_at": self.created_at,
            "provider_message_id": self.provider_message_id,
            "error_code": self.error_code,
        }


@dataclass(frozen=True, slots=True)
class Conversation:
    id: str
    reference: str
    status: ConversationStatus
    priority: Priority
    route: str
    customer_id: str
    channel: Channel
    created_at: str
    updated_at: str
    tags: tuple[str, ...] = ()
    last_inbound_at: str | None = None
    resolved_at: str | None = None
    routing: ConversationRouting | None = None  # None until the worker routed it
    sla: StoredSla | None = None  # None until the worker routed it (SLA timers start with routing)
    # A public conversation (comments on one post, mentions, reply posts): one per customer and post.
    public: bool = False
    post_id: str | None = None  # the Page post, Instagram media or X post the comments are about
    permalink: str | None = None  # where the public exchange can be seen
    # Messenger/Instagram Handover Protocol: "other" while another app of the Page owns the thread
    # (the hub then neither acknowledges nor sends), "us" once control came back; None: never handed over.
    thread_owner: str | None = None
    # The last status change (resolve, reopen, pending): its lifecycle event's id and time, so a retry
    # or a redelivery that finds the change made publishes that same event again.
    status_event_id: str | None = None
    status_changed_at: str | None = None
    assignment: SupportAssignment | None = None  # support's last assignment, if any

    def to_api(self, messages: list[Message] | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "reference": self.reference,
            "status": self.status.value,
            "priority": self.priority.value,
            "route": self.route,
            "customer_id": self.customer_id,
            "channel": self.channel.value,
            "tags": list(self.tags),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "last_inbound_at": self.last_inbound_at,
            "resolved_at": self.resolved_at,
            "routing": self.routing.to_api() if self.routing else None,
            "sla": self.sla.to_api() if self.sla else None,
            "public": self.public,
            "post_id": self.post_id,
            "permalink": self.permalink,
            "thread_owner": self.thread_owner,
        }
        if messages is not None:
            data["messages"] = [m.to_api() for m in messages]
        return data
