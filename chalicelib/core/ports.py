"""The ports: what the use cases need from storage, queues and secrets, as small Protocols.

One repository per aggregate. The DynamoDB adapters (``chalicelib.adapters.dynamo``) implement
them, and so can an in-memory twin in a test; the use cases take the ports they use, never a
concrete store. Every write a retry could repeat is conditional, so each
method says what it returns when its condition did not hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.core.calls import CallLog

# The ports of the crisis broadcast and of feedback/KPIs live beside their records; re-exported here.
from chalicelib.core.crisis_ports import CrisisStore as CrisisStore
from chalicelib.core.crisis_ports import SendPacer as SendPacer
from chalicelib.core.feedback_ports import FeedbackRepository as FeedbackRepository
from chalicelib.core.feedback_ports import KpiRepository as KpiRepository
from chalicelib.core.model import (
    Channel,
    Conversation,
    ConversationStatus,
    Customer,
    DeliveryStatus,
    Identity,
    InboundEvent,
    Message,
    Priority,
)
from chalicelib.core.records import (
    CarriedAcknowledgment,
    IdempotencyRecord,
    InboxRecord,
    LastInbound,
    Page,
    ThreadDecision,
)
from chalicelib.core.routing_record import ConversationRouting, SupportAssignment
from chalicelib.core.sla_record import StoredSla
from chalicelib.core.transcript_ports import TranscriptFetcher as TranscriptFetcher


class InboxRepository(Protocol):
    """One item per provider event: the dedupe record, the raw payload and the outbox."""

    def put(
        self,
        event: InboundEvent,
        *,
        endpoint: str,
        received_at: str,
        raw_body: bytes,
        content_type: str | None,
        raw_pointer: str | None = None,
        now: float | None = None,
        acknowledgment: CarriedAcknowledgment | None = None,
        path: str | None = None,
    ) -> bool:
        """True for a new event, False for a duplicate (nothing written). ``path``: the request's path
        (kept with the raw payload, so that it can be normalized again: ``./hub renormalize``)."""
        ...

    def needs_payload_pointer(self, raw_body: bytes, events: Sequence[InboundEvent]) -> bool: ...
    def archive_payload(self, provider: str, received_at: str, raw_body: bytes) -> str:
        """Keep a body too large for an item; each request gets its own object."""
        ...

    def discard_payload(self, pointer: str) -> None:
        """Remove an archived body no stored event points at (a refused or duplicate request)."""
        ...
    def get(self, inbox_key: str) -> InboxRecord | None: ...
    def raw_payload(self, inbox_key: str) -> bytes | None: ...

    def record_thread_decision(self, inbox_key: str, decision: ThreadDecision) -> ThreadDecision:
        """Record the decision once; returns the one that stands (ours or an earlier one)."""
        ...

    def record_confirmation(self, inbox_key: str, confirmed_at: str) -> str:
        """Record once that the subscription this event asked for was confirmed; returns the time that
        stands (ours or an earlier redelivery's)."""
        ...


class CustomerRepository(Protocol):
    """Customers and the identities they own (an identity is claimed once, race-free)."""

    def identity_owner(self, identity: Identity) -> str | None: ...
    def identity_owners(self, identities: Sequence[Identity]) -> dict[Identity, str]: ...
    def claim_identity(self, identity: Identity, customer_id: str) -> str:
        """Give the identity to ``customer_id`` unless someone holds it; returns the owner that stands."""
        ...

    def create(self, customer: Customer) -> bool: ...
    def add_identity(self, customer_id: str, identity: Identity) -> None: ...
    def fill_profile(self, customer_id: str, *, name: str | None, language: str | None) -> None: ...
    def set_consent(self, customer_id: str, channel: Channel, state: str, at: str) -> None: ...
    def record_last_inbound(self, customer_id: str, channel: Channel, at: str) -> None:
        """Where and when the customer last wrote (a crisis broadcast goes there); never backwards."""
        ...

    def record_inbound(
        self, customer_id: str, channel: Channel, at: str, *, name: str | None, language: str | None
    ) -> Customer | None:
        """``fill_profile`` and ``record_last_inbound`` in one write; the customer as it now stands, or
        None when the message is older than the last one recorded (its profile is still filled)."""
        ...

    def get(self, customer_id: str, *, consistent: bool = False) -> Customer | None: ...
    def update_profile(self, customer_id: str, changes: Mapping[str, Any], *, expected_version: int) -> Customer | None:
        """Set profile fields (``tier``, ``tags``, ``name``, ``language``; None or ``()`` clears one) and
        bump ``profile_version``, if it is still ``expected_version``: None when another update came
        first (read again), NotFound when there is no such customer."""
        ...

    def claim_open_conversation(self, customer_id: str, conversation_id: str, expected: str | None) -> bool: ...
    def release_open_conversation(self, customer_id: str, conversation_id: str) -> None: ...


class ReferenceRepository(Protocol):
    """Short human references (``OH-7K3Q9``), each reserved for one conversation."""

    def reserve(self, reference: str, conversation_id: str) -> bool:
        """True when the reference is now (or already was) this conversation's."""
        ...

    def move(self, reference: str, from_conversation: str, to_conversation: str) -> None: ...
    def conversation_for(self, reference: str) -> str | None: ...


class ConversationRepository(Protocol):
    def create(self, conversation: Conversation) -> bool:
        """Create it (and list it under its customer); False when it already existed."""
        ...

    def get(self, conversation_id: str, *, consistent: bool = False) -> Conversation | None: ...
    def get_with_messages(self, conversation_id: str) -> tuple[Conversation, list[Message]] | None: ...
    def record_inbound_activity(self, conversation_id: str, at: str) -> Conversation | None:
        """Move ``last_inbound_at`` forward: the conversation as it now stands, None if nothing moved."""
        ...

    def record_thread_owner(self, conversation_id: str, owner: str, at: str) -> bool:
        """Who owns a Messenger/Instagram thread (Handover Protocol) as of ``at``; an older change than
        the one recorded changes nothing (False), nor does an unknown conversation."""
        ...

    def set_status(
        self,
        conversation_id: str,
        status: ConversationStatus,
        at: str,
        *,
        expected: Sequence[ConversationStatus] | None = None,
        event_id: str | None = None,
    ) -> Conversation:
        """Move the conversation to ``status`` (NotFound when it does not exist). With ``expected``,
        only from one of those statuses (Conflict otherwise, nothing written); ``event_id`` records
        the lifecycle event of this change with its time (``status_event_id``, ``status_changed_at``)."""
        ...

    def record_routing(
        self,
        conversation_id: str,
        *,
        route: str,
        priority: Priority,
        tags: Sequence[str],
        routing: ConversationRouting,
        surge_tag: str | None = None,
    ) -> Conversation | None:
        """Route a conversation never routed, or re-route one whose priority ``priority`` outranks; with
        ``surge_tag`` (an active incident's keywords), also one not yet on ``route`` with that tag.

        Conditional: a conversation routed meanwhile (or again, by a redelivery of the same message)
        is left as it stands and None is returned; otherwise the conversation as now stored."""
        ...

    def record_sla(
        self, conversation_id: str, sla: StoredSla, *, route: str | None = None, priority: Priority | None = None
    ) -> Conversation | None:
        """Store the SLA timers (with a ladder's re-route: the route and priority too), conditional on the
        stored revision being ``sla.revision - 1``: None when another writer came first (or no conversation).
        While ``sla.attention_at`` is set the conversation is on the sweeper's sparse index, else off it."""
        ...

    def sla_attention_due(self, now: str, limit: int) -> list[str]:
        """Ids of conversations whose next SLA level falls due at or before ``now``, earliest first (an
        index query, never a scan)."""
        ...

    def assign(
        self,
        conversation_id: str,
        *,
        route: str,
        priority: Priority,
        routing: ConversationRouting,
        assignment: SupportAssignment,
    ) -> Conversation:
        """Support's choice of route and priority, recorded with ``assignment``, whatever was decided before
        (NotFound when missing); a later message re-routes it only with a higher priority, as after any routing."""
        ...

    def customer_conversation_ids(self, customer_id: str) -> list[str]: ...

    def list(
        self,
        *,
        status: ConversationStatus | None,
        route: str | None,
        customer_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page: ...


class MessageRepository(Protocol):
    def put(
        self,
        message: Message,
        *,
        kind: str | None = None,
        delivered_in: str | None = None,
        job: Mapping[str, Any] | None = None,
    ) -> bool:
        """Store a message once (False when it was already stored). An outbound message stored
        with its ``job`` is the outbox: the stream relay queues the job."""
        ...

    def find(self, conversation_id: str, message_id: str) -> Message | None: ...
    def last_inbound_on_channel(self, conversation_id: str, channel: Channel) -> LastInbound | None: ...

    def apply_delivery_status(
        self, provider: str, provider_message_id: str, status: DeliveryStatus, error_code: str | None
    ) -> bool:
        """Monotonic (sent < delivered < read, failed terminal); a status for an unknown id is parked."""
        ...

    def revise_message(self, provider: str, provider_message_id: str, *, text: str | None, deleted: bool,
                       at: str) -> bool:
        """Apply a customer's edit or unsend to the message the provider id names
        (:func:`chalicelib.core.revisions.revised`); False for an unknown id or a change that changes nothing."""
        ...

    def record_reaction(self, provider: str, provider_message_id: str, *, emoji: str | None, at: str) -> bool:
        """The customer's reaction to a message (None: removed), :func:`chalicelib.core.revisions.reacted`."""
        ...

    def record_outbound_result(
        self,
        message: Message,
        *,
        status: DeliveryStatus,
        provider: str | None,
        provider_message_id: str | None,
        error_code: str | None = None,
        error_reason: str | None = None,
    ) -> None: ...


class DeliveryClaims(Protocol):
    """A leased claim per outbound id: a job is sent at most once, a crashed claim is taken over."""

    def claim(self, outbound_id: str, lease_seconds: int, now: float | None = None) -> bool: ...
    def finish(self, outbound_id: str, state: str, detail: Mapping[str, Any]) -> None: ...
    def release(self, outbound_id: str) -> None: ...


class IdempotencyKeys(Protocol):
    def remember(self, scope: str, key: str, created_at: str, fingerprint: str) -> IdempotencyRecord:
        """What was first recorded for (scope, key): ours if new, the original on a retry."""
        ...


class PayloadArchive(Protocol):
    """Raw payloads too large for an item."""

    def put(self, key: str, body: bytes) -> str: ...
    def get(self, pointer: str) -> bytes: ...
    def delete(self, pointer: str) -> None: ...


class MailThreadIndex(Protocol):
    """Which conversation an email ``Message-ID`` belongs to: the mail the hub received and the mail it
    sent, so a reply's ``In-Reply-To``/``References`` finds its conversation. Ids are normalized
    (``chalicelib.email.normalize_message_id``: no angle brackets, domain lower-cased)."""

    def remember(self, message_id: str, conversation_id: str, *, now: float | None = None) -> bool:
        """Record the Message-ID once; True when it is (or already was) this conversation's."""
        ...

    def conversations_for(self, message_ids: Sequence[str]) -> dict[str, str]:
        """The known ones among ``message_ids``: Message-ID → conversation id."""
        ...


class ExpiringClaims(Protocol):
    """Short-lived claims on a key (a webhook's one-time token, an address's acknowledgment window),
    each held by one holder until it expires: one conditional put."""

    def claim(self, key: str, holder: str, expires_at: int, *, now: float | None = None) -> bool:
        """True when the key was free (or its claim expired at ``now``) and ``holder`` now holds it until
        ``expires_at``, or ``holder`` already held it (a retry); False while another holder does."""
        ...


class MediaStore(Protocol):
    """Media bytes the hub keeps itself (email attachments), in the payload bucket: one object per key,
    handed to people only as short-lived links."""

    def put(self, key: str, body: bytes, *, content_type: str | None = None) -> str:
        """Store (or overwrite with the same bytes) the object; returns its pointer (``s3://bucket/key``)."""
        ...

    def link(self, pointer: str, *, filename: str | None, content_type: str | None, expires_in: int) -> str | None:
        """A URL that downloads the object for ``expires_in`` seconds; None for a pointer not in this store."""
        ...


class SubscriptionConfirmer(Protocol):
    """Visits the ``SubscribeURL`` of an Amazon SNS ``SubscriptionConfirmation`` (an HTTPS GET)."""

    def confirm(self, url: str) -> None:
        """Confirm, or raise: :class:`~chalicelib.core.errors.PermanentError` for a URL it must never
        fetch, :class:`~chalicelib.core.errors.RetryableError` when SNS did not answer 200."""
        ...


class SecretReader(Protocol):
    def get(self, name: str) -> str | None: ...
    def get_many(self, names: Iterable[str]) -> Mapping[str, str]: ...


class CallRepository(Protocol):
    """One call's log (its callbacks' inbox keys, its message's place) and its one message."""

    def record_event(self, provider: str, call_id: str, inbox_key: str) -> CallLog:
        """Add the callback (idempotent) and return the log as it now stands (a strongly consistent read)."""
        ...

    def place(self, provider: str, call_id: str, conversation_id: str, message_created_at: str) -> CallLog:
        """Set where the call's message lives, once; returns the placement in force."""
        ...

    def write_message(self, message: Message, version: int) -> bool:
        """Create or replace the call's message unless a fold of more callbacks (a greater ``version``) is
        already there (then False). An equal fold is written again: the same callbacks fold into the same
        message, and the retry of a worker that failed after writing it must go on to route the call."""
        ...

    def tag_conversation(self, conversation_id: str, tag: str) -> None:
        """Add ``tag`` to the conversation's tags unless there (a conditional write: races keep both)."""
class MentionLookup(Protocol):
    """Reads what an Instagram ``mentions`` webhook only names (Graph API: the IG user's
    ``mentioned_comment`` / ``mentioned_media``)."""

    def lookup(self, ig_user_id: str, *, comment_id: str | None, media_id: str | None) -> Mapping[str, Any] | None:
        """The IG user node Graph answers (``{"mentioned_comment": {...}}`` or ``{"mentioned_media": {...}}``);
        None when Graph refuses the lookup for good (a 4xx: deleted, private, no permission). Raises
        :class:`~chalicelib.core.errors.RetryableError` when it may work later (timeouts, 5xx, throttling)."""
        ...


@dataclass(frozen=True, slots=True)
class Repositories:
    """Every repository of the single table, built together (DynamoDB or in memory)."""

    inbox: InboxRepository
    customers: CustomerRepository
    references: ReferenceRepository
    conversations: ConversationRepository
    messages: MessageRepository
    deliveries: DeliveryClaims
    idempotency: IdempotencyKeys
    calls: CallRepository | None = None  # phone calls (chalicelib/conversations/call_messages.py)
    mail_threads: MailThreadIndex | None = None  # None: no email threading by header (a test's partial set)
    media: MediaStore | None = None  # None: attachment bytes are not kept (metadata only)
    claims: ExpiringClaims | None = None  # None: no replay or rate claims (a test's partial set)
    # None where a test builds the spine alone: surveys and KPIs are then off.
    feedback: FeedbackRepository | None = None
    kpis: KpiRepository | None = None
