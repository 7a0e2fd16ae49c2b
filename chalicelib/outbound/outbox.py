"""Placing an outbound message: the one place it is built, and the one place it is stored.

An outbound message is stored on its conversation. Where a sender serves the channel it is stored
``queued`` with its job: one conditional put, and the table's stream (the outbox) relays the job to
outbound.fifo, so nothing is accepted without being stored, nor stored without being sent. Web chat
has no push API: the widget reads the message from the conversation, so it is stored ``sent``.
An acknowledgment already carried by the webhook's response is stored ``sent`` as what was said.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from chalicelib.core.model import Attachment, Channel, DeliveryStatus, Direction, Message
from chalicelib.core.ports import MessageRepository
from chalicelib.email.parsed import base_mailbox
from chalicelib.outbound.job import Choice, EmailThreading, OutboundJob, OutboundKind, ReplyTarget
from chalicelib.outbound.registry import NoSenderForChannel, provider_for

# channel metadata → the sender hint the outbound senders read
# (page_id: the Page or Instagram account the customer wrote to, which a private reply leaves from)
_HINTS_FROM_METADATA = {"to": "from", "phone_number_id": "phone_number_id", "bot": "bot", "page_id": "page_id"}

DELIVERED_IN_CONVERSATION = "conversation"  # web chat: the widget reads it from the conversation
# The channels whose customer reads our messages from the conversation itself (no push API).
READ_FROM_CONVERSATION = frozenset({Channel.WEBCHAT})
DELIVERED_IN_WEBHOOK_RESPONSE = "webhook_response"  # TwiML, Telegram's method reply


def sender_hints_from(metadata: Mapping[str, str], channel: Channel | None = None) -> dict[str, str]:
    """Where a reply must leave from: the number, WhatsApp phone number id or bot the customer wrote to;
    on email, the mailbox the mail arrived at (its base address: ``support+OH-7K3Q9@`` → ``support@``)."""
    if channel is Channel.EMAIL:
        mailbox = metadata.get("mailbox")
        return {"from": base_mailbox(mailbox)} if mailbox else {}
    return {hint: metadata[key] for key, hint in _HINTS_FROM_METADATA.items() if metadata.get(key)}


MAX_REFERENCES = 20  # the newest References kept on a reply (RFC 5322 allows trimming the middle)


def email_threading_from(metadata: Mapping[str, str]) -> EmailThreading:
    """What threads a reply to the customer's mail: its subject, its Message-ID as ``In-Reply-To``, and
    its References followed by its Message-ID (the metadata holds them without angle brackets)."""
    message_id = metadata.get("message_id")
    references = [f"<{r}>" for r in (metadata.get("references") or "").split() if r]
    if message_id:
        references.append(f"<{message_id}>")
    return EmailThreading(subject=metadata.get("subject"), in_reply_to=f"<{message_id}>" if message_id else None,
                          references=tuple(references[-MAX_REFERENCES:]))


@dataclass(frozen=True, slots=True)
class OutboundDraft:
    """An outbound message before a provider is chosen for it."""

    outbound_id: str
    conversation_id: str
    kind: OutboundKind
    channel: Channel
    to: str
    created_at: str
    text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    language: str | None = None
    reference: str | None = None
    customer_last_inbound_at: str | None = None
    reply_token: str | None = None
    inbound_provider: str | None = None  # the provider the customer wrote through
    inbound_metadata: Mapping[str, str] = field(default_factory=dict)
    reply_to: ReplyTarget | None = None  # a public or private reply to a comment / post
    choices: tuple[Choice, ...] = ()  # a survey's answers to tap (see OutboundJob.choices)

    def job(self, provider: str) -> OutboundJob:
        return OutboundJob(
            outbound_id=self.outbound_id,
            conversation_id=self.conversation_id,
            kind=self.kind,
            channel=self.channel,
            provider=provider,
            to=self.to,
            text=self.text,
            attachments=self.attachments,
            language=self.language,
            reference=self.reference,
            customer_last_inbound_at=self.customer_last_inbound_at,
            reply_token=self.reply_token,
            sender_hints=sender_hints_from(self.inbound_metadata, self.channel),
            created_at=self.created_at,
            reply_to=self.reply_to,
            email=email_threading_from(self.inbound_metadata) if self.channel is Channel.EMAIL else None,
            choices=self.choices,
        )


@dataclass(frozen=True, slots=True)
class Placed:
    message: Message
    stored: bool  # False: the same outbound id was stored before (a retry)
    queued: bool  # True: a sender will deliver it; False: stored as sent


def outbound_message(
    draft: OutboundDraft | OutboundJob, status: DeliveryStatus = DeliveryStatus.QUEUED, provider: str | None = None
) -> Message:
    """The conversation's record of an outbound message (a job names its own provider)."""
    return Message(
        id=draft.outbound_id,
        conversation_id=draft.conversation_id,
        direction=Direction.OUTBOUND,
        channel=draft.channel,
        created_at=draft.created_at,
        text=draft.text,
        attachments=draft.attachments,
        status=status,
        provider=draft.provider if isinstance(draft, OutboundJob) else provider,
        broadcast=draft.broadcast if isinstance(draft, OutboundJob) else None,
    )


def place_outbound(messages: MessageRepository, draft: OutboundDraft, environ: Mapping[str, str]) -> Placed:
    """Store the message with its job (the relay queues it), or as sent where the customer reads it
    from the conversation (web chat).

    Raises :class:`~chalicelib.outbound.registry.NoOutboundProvider` when nothing can deliver it (a
    channel without a sender, such as voice, or a misconfigured provider): such a message is never
    recorded as sent.
    """
    try:
        provider = provider_for(draft.channel, environ, inbound_provider=draft.inbound_provider)
    except NoSenderForChannel:
        if draft.channel not in READ_FROM_CONVERSATION:
            raise
        return record_delivered(messages, draft, provider=None, delivered_in=DELIVERED_IN_CONVERSATION)
    job = draft.job(provider)
    return Placed(outbound_message(job), enqueue_job(messages, job), queued=True)


def enqueue_job(messages: MessageRepository, job: OutboundJob) -> bool:
    """Store a ready job's message (the relay queues it); False when it was already stored."""
    return messages.put(outbound_message(job), kind=job.kind.value, job=job.to_dict())


def record_delivered(
    messages: MessageRepository, draft: OutboundDraft, *, provider: str | None, delivered_in: str
) -> Placed:
    """An outbound message that needs no sender: already said in the webhook's response, or read by the widget."""
    message = outbound_message(draft, DeliveryStatus.SENT, provider)
    stored = messages.put(message, kind=draft.kind.value, delivered_in=delivered_in)
    return Placed(message, stored, queued=False)
