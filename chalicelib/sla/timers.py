"""The SLA timers of a conversation, as stored on it: decoded, changed, written back conditionally.

The clocks and the ladder are :mod:`chalicelib.sla.ladder`'s (pure); this module keeps them on the
conversation (:class:`chalicelib.core.sla_record.StoredSla`) and moves them when something happens:

- a customer message (the worker, after routing): the first one opens the first-response and resolution
  clocks, a later one after an agent reply starts the next-response clock, a re-route re-targets the
  clocks not yet breached; it also counts the customer's *contacts* for the repeat-contact escalation;
- an agent reply (the REST API): the response clocks are fulfilled and their pending levels cancelled;
- a status change: ``pending`` pauses every clock, back to ``open`` resumes them (deadlines move later by
  the paused time), ``resolved`` stops them, a reopen starts a new resolution clock. The timers remember
  the status they last followed, so whoever writes next (the worker, the API, the sweeper) catches up
  with a status another writer set;
- the sweeper: a ladder level recorded stays in flight until its publication is confirmed
  (:mod:`chalicelib.sla.in_flight`); every writer keeps the mark, and while it stands the conversation
  stays on the sweeper's index at the moment the mark becomes claimable, paused or not.

Every write is conditional on the revision read (:meth:`ConversationRepository.record_sla`); on a
conflict the change is re-applied to what now stands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from chalicelib.core.calendar import BusinessCalendar
from chalicelib.core.errors import RetryableError
from chalicelib.core.model import Conversation, ConversationStatus
from chalicelib.core.ports import ConversationRepository
from chalicelib.core.sla_record import StoredSla
from chalicelib.core.timestamps import format_timestamp, parse_timestamp
from chalicelib.sla import in_flight, ladder
from chalicelib.sla.in_flight import InFlight
from chalicelib.sla.ladder import EscalationLevel, SlaState
from chalicelib.sla.policy import SlaPolicies
from chalicelib.sla.service_levels import load_service_levels

if TYPE_CHECKING:
    from chalicelib.routing.config import RoutingConfig

WRITE_ATTEMPTS = 8
# Repeat contact: the third contact on the same case within 24 hours escalates at once. A contact is a
# customer message that comes at least CONTACT_GAP after the previous contact: a burst of chat lines is
# one contact, the customer coming back ("any news?") is another.
REPEAT_CONTACTS = 3
REPEAT_WINDOW = timedelta(hours=24)
CONTACT_GAP = timedelta(minutes=10)


@dataclass(frozen=True, slots=True)
class SlaSetup:
    """What the timers are computed with: the SLA policies in force, their calendar, the ladder."""

    policies: SlaPolicies
    calendar: BusinessCalendar
    ladder: tuple[EscalationLevel, ...]


def sla_setup(config: RoutingConfig) -> SlaSetup:
    """The routing configuration's SLA (else the service levels'), the business calendar, its ladder."""
    levels = load_service_levels()
    return SlaSetup(config.sla_policies(levels.sla), levels.calendar, config.escalation)


def current_sla_setup() -> SlaSetup:
    """The setup of the routing configuration in force (the REST write paths: a reply, a status change)."""
    from chalicelib.routing.config import load_routing_config  # lazy: only the write paths need it

    return sla_setup(load_routing_config())


@dataclass(frozen=True, slots=True)
class Timers:
    state: SlaState
    status: ConversationStatus  # the conversation's status these timers last followed
    contacts: tuple[str, ...] = ()  # the customer's contacts within REPEAT_WINDOW of the latest (UTC ISO)
    repeat_escalated: bool = False  # the repeat-contact escalation went out for this case
    in_flight: InFlight | None = None  # a ladder level recorded whose publication is not yet confirmed


@dataclass(frozen=True, slots=True)
class Written:
    conversation: Conversation  # as stored after the write (or as it stood when nothing changed)
    before: Timers | None  # None: the conversation had no timers yet
    after: Timers


def decode(conversation: Conversation) -> Timers | None:
    stored = conversation.sla
    if stored is None:
        return None
    record = stored.record
    return Timers(
        state=ladder.state_from_record(record),
        status=ConversationStatus(record.get("status", conversation.status.value)),
        contacts=tuple(str(at) for at in record.get("contacts") or ()),
        repeat_escalated=bool(record.get("repeat_escalated", False)),
        in_flight=in_flight.from_record(record.get("in_flight")),
    )


def encode(timers: Timers, revision: int, setup: SlaSetup) -> StoredSla:
    state, flight = timers.state, timers.in_flight
    if flight is not None:  # on the index until confirmed: a mark nobody confirms is claimed from then on
        attention: datetime | None = flight.claimable_at
    else:
        attention = ladder.next_attention_at(state, setup.ladder, setup.policies, setup.calendar)
    record = {**ladder.state_to_record(state), "status": timers.status.value, "contacts": list(timers.contacts),
              "repeat_escalated": timers.repeat_escalated}
    if flight is not None:
        record["in_flight"] = in_flight.to_record(flight)
    return StoredSla(
        record=record,
        revision=revision,
        due={kind.value: format_timestamp(deadline) for kind, deadline in state.deadlines().items()},
        paused=state.paused_since is not None,
        attention_at=format_timestamp(attention) if attention is not None else None,
    )


def change_timers(
    conversations: ConversationRepository,
    conversation_id: str,
    setup: SlaSetup,
    change: Callable[[Conversation, Timers | None], Timers | None],
    *,
    known: Conversation | None = None,
) -> Written | None:
    """Apply ``change`` (given the conversation and its timers, the new timers; None: leave them) to what
    stands, conditionally, re-reading on a conflict. None when there is no such conversation.

    ``known``: the conversation as the caller's own write or consistent read just returned it, used
    for the first attempt instead of reading it again (the write is conditional on its SLA revision,
    so a stale one only costs the re-read)."""
    for attempt in range(WRITE_ATTEMPTS):
        conversation = known if attempt == 0 and known is not None and known.id == conversation_id else (
            conversations.get(conversation_id, consistent=True))
        if conversation is None:
            return None
        before = decode(conversation)
        after = change(conversation, before)
        if after is None:
            return Written(conversation, before, before) if before is not None else None
        revision = conversation.sla.revision if conversation.sla is not None else 0
        stored = encode(after, revision + 1, setup)
        if conversation.sla is not None and _same(stored, conversation.sla):
            return Written(conversation, before, after)
        written = conversations.record_sla(conversation_id, stored)
        if written is not None:
            return Written(written, before, after)
    raise RetryableError(f"the SLA timers of {conversation_id} kept changing under the writer")


def _same(stored: StoredSla, current: StoredSla) -> bool:
    return dict(stored.record) == dict(current.record) and stored.attention_at == current.attention_at


# ---- what happens to a conversation ----------------------------------------------------------------


def follow_status(timers: Timers, conversation: Conversation, setup: SlaSetup) -> Timers:
    """Catch up with the conversation's status, as of its last change (``updated_at``)."""
    status = conversation.status
    if status is timers.status:
        return timers
    at = parse_timestamp(conversation.updated_at)
    priority, policies, calendar = conversation.priority, setup.policies, setup.calendar
    state = timers.state
    if timers.status is ConversationStatus.RESOLVED:  # reopened (perhaps straight to pending)
        state = ladder.reopen(state, at, priority, policies, calendar)
    if status is ConversationStatus.PENDING:
        state = ladder.pause(state, at)
    elif status is ConversationStatus.RESOLVED:
        state = ladder.resolve(state)
    elif status is ConversationStatus.OPEN:
        state = ladder.resume(state, at, policies, calendar)
    contacts = () if status is ConversationStatus.RESOLVED else timers.contacts
    return replace(timers, state=state, status=status, contacts=contacts,
                   repeat_escalated=timers.repeat_escalated and status is not ConversationStatus.RESOLVED)


def customer_message(conversation: Conversation, timers: Timers | None, message_at: str, setup: SlaSetup) -> Timers:
    """The timers after a customer message (idempotent: a redelivery changes nothing).

    The first one opens the first-response and resolution clocks from the conversation's opening; a later
    one, after an agent reply, starts the next-response clock. Every one re-targets the clocks not yet
    breached to the conversation's priority (a re-route may have raised it) and counts as a contact when it
    comes CONTACT_GAP after the previous one."""
    priority, policies, calendar = conversation.priority, setup.policies, setup.calendar
    if timers is None:
        opened = parse_timestamp(conversation.created_at)
        timers = Timers(ladder.open_conversation(opened, priority, policies, calendar), ConversationStatus.OPEN)
    timers = follow_status(timers, conversation, setup)
    at = parse_timestamp(message_at)
    state = timers.state
    replied = state.last_agent_reply_at
    if timers.status is not ConversationStatus.RESOLVED and (replied is None or at > replied):
        state = ladder.customer_message(state, at, priority, policies, calendar)
    state = ladder.reprioritise(state, priority, policies, calendar)
    return replace(timers, state=state, contacts=_contacts(timers.contacts, at))


def agent_reply(conversation: Conversation, timers: Timers | None, at: str, setup: SlaSetup) -> Timers | None:
    """An agent replied: the response clocks are fulfilled, their pending levels cancelled."""
    if timers is None:
        return None
    timers = follow_status(timers, conversation, setup)
    return replace(timers, state=ladder.agent_reply(timers.state, parse_timestamp(at)))


def _contacts(contacts: tuple[str, ...], at: datetime) -> tuple[str, ...]:
    moments = sorted(parse_timestamp(contact) for contact in contacts)
    if any(abs(at - moment) < CONTACT_GAP for moment in moments):
        return contacts  # the same contact (or its redelivery)
    latest = max([*moments, at])
    kept = [moment for moment in (*moments, at) if latest - moment < REPEAT_WINDOW]
    return tuple(format_timestamp(moment) for moment in sorted(kept))


# ---- the use cases ---------------------------------------------------------------------------------


def after_customer_message(
    conversations: ConversationRepository, conversation_id: str, message_at: str, setup: SlaSetup,
    *, known: Conversation | None = None,
) -> Written | None:
    return change_timers(conversations, conversation_id, setup,
                         lambda conversation, timers: customer_message(conversation, timers, message_at, setup),
                         known=known)


def repeat_contact_due(timers: Timers) -> bool:
    """The customer's third contact within the window, not yet escalated for."""
    return len(timers.contacts) >= REPEAT_CONTACTS and not timers.repeat_escalated


def mark_repeat_escalated(conversations: ConversationRepository, conversation_id: str, setup: SlaSetup) -> bool:
    """Claim the repeat-contact escalation: True for the one caller whose write set the mark."""
    claimed: list[bool] = []

    def mark(conversation: Conversation, timers: Timers | None) -> Timers | None:
        claimed.clear()
        if timers is None or not repeat_contact_due(timers):
            return None
        claimed.append(True)
        return replace(timers, repeat_escalated=True)

    change_timers(conversations, conversation_id, setup, mark)
    return bool(claimed)


def after_agent_reply(
    conversations: ConversationRepository, conversation_id: str, at: str, setup: SlaSetup
) -> Written | None:
    return change_timers(conversations, conversation_id, setup,
                         lambda conversation, timers: agent_reply(conversation, timers, at, setup))


def after_status_change(conversations: ConversationRepository, conversation_id: str, setup: SlaSetup) -> Written | None:
    """Call after every status or priority change (resolve, pending, reopen, assign): the timers follow it
    at once, so a pending conversation leaves the sweeper's index, a reopened one comes back and a new
    priority re-targets the clocks not yet breached."""
    return change_timers(conversations, conversation_id, setup,
                         lambda conversation, timers: None if timers is None else _follow(conversation, timers, setup))


def _follow(conversation: Conversation, timers: Timers, setup: SlaSetup) -> Timers:
    followed = follow_status(timers, conversation, setup)
    state = ladder.reprioritise(followed.state, conversation.priority, setup.policies, setup.calendar)
    return replace(followed, state=state)
