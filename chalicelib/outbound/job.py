"""The outbound job: the body of one message on the outbound SQS queue (schema ``omnihub.outbound.v1``).

One job is one message to one customer on one channel. ``outbound_id`` is the outbound message's
id and the idempotency key of the whole delivery: however often SQS hands the job over, the
customer receives it at most once (see :func:`chalicelib.outbound.dispatch.deliver`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from chalicelib.core.incident import BroadcastRef
from chalicelib.core.model import Attachment, Channel, ModelError, normalize_address
from chalicelib.core.timestamps import normalize_timestamp, utc_now
from chalicelib.providers.registry import sending_providers

OUTBOUND_SCHEMA = "omnihub.outbound.v1"

# The providers a job may name: those with a sender in the provider registry.
PROVIDERS: tuple[str, ...] = sending_providers()


class OutboundKind(StrEnum):
    ACKNOWLEDGMENT = "acknowledgment"
    AGENT_REPLY = "agent_reply"
    BROADCAST = "broadcast"
    SURVEY = "survey"  # a feedback question after a resolve (chalicelib.feedback)


@dataclass(frozen=True, slots=True)
class Choice:
    """One answer the customer can tap: a button, list row or quick reply where the channel has them
    (the sender decides), its ``payload`` coming back on the inbound event; plain text elsewhere."""

    payload: str
    title: str

    def __post_init__(self) -> None:
        if not (0 < len(self.payload) <= 64) or not (0 < len(self.title) <= 20):
            raise ModelError("a choice needs a payload of 1-64 and a title of 1-20 characters")

    def to_dict(self) -> dict[str, str]:
        return {"payload": self.payload, "title": self.title}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Choice:
        return cls(payload=str(data.get("payload") or ""), title=str(data.get("title") or ""))


MAX_CHOICES = 11


@dataclass(frozen=True, slots=True)
class Template:
    """An approved message template (WhatsApp outside the 24 h window).

    ``params`` fill the body's ``{{1}}``, ``{{2}}``, ... in order. ``content_sid`` is the Twilio
    Content API id (``HX...``) of the same template: Twilio sends templates by ``ContentSid``.
    """

    name: str
    language: str
    params: tuple[str, ...] = ()
    content_sid: str | None = None

    def __post_init__(self) -> None:
        if not self.name or not self.language:
            raise ModelError("a template needs a name and a language")
        object.__setattr__(self, "params", tuple(str(p) for p in self.params))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "language": self.language, "params": list(self.params)}
        if self.content_sid:
            data["content_sid"] = self.content_sid
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Template:
        return cls(
            name=str(data.get("name") or ""),
            language=str(data.get("language") or ""),
            params=tuple(data.get("params") or ()),
            content_sid=data.get("content_sid"),
        )


@dataclass(frozen=True, slots=True)
class EmailThreading:
    """What makes an email reply land in the customer's thread."""

    subject: str | None = None
    in_reply_to: str | None = None  # the customer's Message-ID, angle brackets included
    references: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"subject": self.subject, "in_reply_to": self.in_reply_to, "references": list(self.references)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmailThreading:
        return cls(
            subject=data.get("subject"),
            in_reply_to=data.get("in_reply_to"),
            references=tuple(str(r) for r in data.get("references") or ()),
        )


MAX_REPLY_TARGET_CHARS = 200


class ReplyKind(StrEnum):
    PUBLIC = "public"  # a reply everyone sees: a comment reply (Meta), a reply post (X)
    PRIVATE = "private"  # a private reply to a comment: opens the customer's direct conversation


@dataclass(frozen=True, slots=True)
class ReplyTarget:
    """The comment or post a reply answers, when it answers one rather than the customer's inbox.

    ``created_at`` is when that comment was written: Meta's private replies close 7 days after it.
    """

    kind: ReplyKind
    id: str  # the comment id (Page feed, Instagram) or post id (X) answered
    created_at: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", ReplyKind(self.kind))
        if not isinstance(self.id, str) or not self.id or len(self.id) > MAX_REPLY_TARGET_CHARS:
            raise ModelError("reply_to.id must be a non-empty string of at most 200 characters")
        if self.created_at is not None:
            object.__setattr__(self, "created_at", normalize_timestamp(self.created_at))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind.value, "id": self.id}
        if self.created_at:
            data["created_at"] = self.created_at
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReplyTarget:
        return cls(kind=ReplyKind(str(data.get("kind"))), id=str(data.get("id") or ""),
                   created_at=data.get("created_at"))


def public_reply_target(metadata: Mapping[str, str], written_at: str | None, *, private: bool) -> ReplyTarget | None:
    """What a reply to a public message answers: the comment (Meta) or post (X) itself, in public or in
    private; None for a direct message."""
    if metadata.get("public") != "true":
        return None
    target = metadata.get("comment_id") or metadata.get("tweet_id")
    if not target or len(target) > MAX_REPLY_TARGET_CHARS:
        return None
    return ReplyTarget(kind=ReplyKind.PRIVATE if private else ReplyKind.PUBLIC, id=target, created_at=written_at)


@dataclass(frozen=True, slots=True)
class OutboundJob:
    outbound_id: str
    conversation_id: str
    kind: OutboundKind
    channel: Channel
    provider: str
    to: str  # the customer's address on the channel, as model.Identity holds it
    text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    language: str | None = None
    reference: str | None = None  # the conversation's human reference (email subject, templates)
    customer_last_inbound_at: str | None = None
    reply_token: str | None = None  # LINE: the token of the customer's last event
    template: Template | None = None
    messaging_tag: str | None = None  # Messenger/Instagram MESSAGE_TAG (HUMAN_AGENT), set by the rules
    email: EmailThreading | None = None
    sender_hints: dict[str, str] = field(default_factory=dict)
    created_at: str = field(default_factory=utc_now)
    reply_to: ReplyTarget | None = None  # a public or private reply to a comment / post; None: the inbox
    choices: tuple[Choice, ...] = ()  # answers to tap (a survey's scale); the text states them too
    broadcast: BroadcastRef | None = None  # a crisis broadcast: the update whose progress counts its statuses

    def __post_init__(self) -> None:
        if len(self.choices) > MAX_CHOICES:
            raise ModelError(f"a message offers at most {MAX_CHOICES} choices")
        if not isinstance(self.outbound_id, str) or not self.outbound_id or len(self.outbound_id) > 200:
            raise ModelError("outbound_id must be a non-empty string of at most 200 characters")
        if not self.conversation_id:
            raise ModelError("conversation_id is required")
        object.__setattr__(self, "kind", OutboundKind(self.kind))
        object.__setattr__(self, "channel", Channel(self.channel))
        if self.provider not in PROVIDERS:
            raise ModelError(f"unknown outbound provider: {self.provider!r}")
        object.__setattr__(self, "to", normalize_address(self.channel, self.to))
        if not (self.text and self.text.strip()) and not self.attachments and self.template is None:
            raise ModelError("an outbound message needs text, attachments or a template")
        for name in ("customer_last_inbound_at", "created_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, normalize_timestamp(value))
        if any(not isinstance(k, str) or not isinstance(v, str) for k, v in self.sender_hints.items()):
            raise ModelError("sender_hints must map strings to strings")

    def hint(self, name: str, default: str | None = None) -> str | None:
        return self.sender_hints.get(name) or default

    def with_changes(self, **changes: Any) -> OutboundJob:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = self._fields()
        if self.reply_to is not None:  # only when set: every other job serializes as before
            data["reply_to"] = self.reply_to.to_dict()
        if self.choices:  # likewise
            data["choices"] = [choice.to_dict() for choice in self.choices]
        if self.broadcast is not None:  # likewise
            data["broadcast"] = {"incident_id": self.broadcast.incident_id, "update_id": self.broadcast.update_id}
        return data

    def _fields(self) -> dict[str, Any]:
        return {
            "schema": OUTBOUND_SCHEMA,
            "outbound_id": self.outbound_id,
            "conversation_id": self.conversation_id,
            "kind": self.kind.value,
            "channel": self.channel.value,
            "provider": self.provider,
            "to": self.to,
            "text": self.text,
            "attachments": [a.to_dict() for a in self.attachments],
            "language": self.language,
            "reference": self.reference,
            "customer_last_inbound_at": self.customer_last_inbound_at,
            "reply_token": self.reply_token,
            "template": self.template.to_dict() if self.template else None,
            "messaging_tag": self.messaging_tag,
            "email": self.email.to_dict() if self.email else None,
            "sender_hints": dict(self.sender_hints),
            "created_at": self.created_at,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutboundJob:
        schema = data.get("schema", OUTBOUND_SCHEMA)
        if schema != OUTBOUND_SCHEMA:
            raise ModelError(f"not an {OUTBOUND_SCHEMA} job: {schema!r}")
        try:
            template = data.get("template")
            email = data.get("email")
            reply_to = data.get("reply_to")
            return cls(
                outbound_id=data["outbound_id"],
                conversation_id=data["conversation_id"],
                kind=OutboundKind(data["kind"]),
                channel=Channel(data["channel"]),
                provider=data["provider"],
                to=data["to"],
                text=data.get("text"),
                attachments=tuple(Attachment.from_dict(a) for a in data.get("attachments") or ()),
                language=data.get("language"),
                reference=data.get("reference"),
                customer_last_inbound_at=data.get("customer_last_inbound_at"),
                reply_token=data.get("reply_token"),
                template=Template.from_dict(template) if template else None,
                messaging_tag=data.get("messaging_tag"),
                email=EmailThreading.from_dict(email) if email else None,
                sender_hints={str(k): str(v) for k, v in (data.get("sender_hints") or {}).items()},
                created_at=data.get("created_at") or utc_now(),
                reply_to=ReplyTarget.from_dict(reply_to) if isinstance(reply_to, dict) else None,
                choices=tuple(Choice.from_dict(c) for c in data.get("choices") or () if isinstance(c, dict)),
                broadcast=_broadcast_ref(data.get("broadcast")),
            )
        except KeyError as err:
            raise ModelError(f"outbound job misses {err.args[0]!r}") from err
        except ValueError as err:  # a StrEnum given an unknown value
            if isinstance(err, ModelError):
                raise
            raise ModelError(str(err)) from err


def _broadcast_ref(raw: Any) -> BroadcastRef | None:
    if not isinstance(raw, dict):
        return None
    incident_id, update_id = raw.get("incident_id"), raw.get("update_id")
    if not all(isinstance(v, str) and 0 < len(v) <= 100 for v in (incident_id, update_id)):
        raise ModelError("a broadcast job names its incident and update")
    return BroadcastRef(str(incident_id), str(update_id))
