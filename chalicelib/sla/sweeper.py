"""The SLA sweeper: finds breached clocks on the sparse index and climbs the escalation ladder.

Every minute (and every tick of the local pump) :func:`sweep` asks the index for the conversations whose
next ladder level is due (a query, never a scan) and, for each, carries out the levels reached, in order,
one at a time. Each level takes two writes, both conditional on the timers' revision
(:meth:`ConversationRepository.record_sla`):

1. *record*: the level is marked done and *in flight* (:mod:`chalicelib.sla.in_flight`). Whoever records
   it carries it out; a concurrent sweeper or a re-run finds it done;
2. *confirm*, once published: the in-flight mark is cleared (on a conflict with another writer, such as
   an agent reply, it is re-read and cleared on what stands).

A sweeper that finds a level in flight does not climb past it and leaves the conversation to a later
sweep: so a concurrent sweeper can never publish level n+1 before level n's publication is done, and the
levels reach the queue in order. A level whose publication failed is *released* (a conditional write
again) and the next sweep publishes it; one whose sweeper died before confirming is claimed once its
mark is stale (:data:`~chalicelib.sla.in_flight.STALE_AFTER`). Either way the claimant publishes it again
under its stable envelope id (the queue or the consumer drops a repeat) and confirms it; a level whose
clock an agent reply, resolve or a new cycle stopped meanwhile is dropped instead. The confirmation is
the price of the order: one more DynamoDB write per level.

The levels (``escalation.levels`` in the routing configuration, else the default ladder):

- ``notify``: the escalation queue, reason ``sla:<clock>``, the level's number;
- ``reroute``: the conversation moves to the level's route (default: its own) at its priority (never
  lower), in the same write as the level; a routed envelope goes to that route's queue and the
  escalation envelope (action ``reroute``) to the escalation queue;
- ``notify_supervisors``: the escalation queue, action ``notify_supervisors``.

An agent reply fulfils the response clocks and so cancels their pending levels; ``pending`` pauses every
clock; resolve stops them (:mod:`chalicelib.sla.timers`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from chalicelib.adapters.observability import logger
from chalicelib.adapters.resources import route_queue_spec
from chalicelib.adapters.sqs import Outgoing, SqsBus
from chalicelib.api.envelopes import routed_envelope
from chalicelib.conversations.escalation import escalate
from chalicelib.conversations.lifecycle import LifecycleType, conversation_event, publish_lifecycle
from chalicelib.core.errors import RetryableError
from chalicelib.core.ids import escalation_id_for
from chalicelib.core.model import Conversation, Customer, Priority
from chalicelib.core.ports import Repositories
from chalicelib.core.timestamps import format_timestamp
from chalicelib.reports.events import count_escalation
from chalicelib.routing.config import RoutingConfig
from chalicelib.sla import in_flight, ladder
from chalicelib.sla.in_flight import InFlight
from chalicelib.sla.ladder import DueLevel, EscalationAction
from chalicelib.sla.timers import SlaSetup, Timers, change_timers, decode, encode, follow_status

SWEEP_BATCH = 100  # conversations looked at per sweep; the rest wait for the next minute
MAX_LEVELS_PER_CONVERSATION = 20  # a late sweep may find several levels due; never loop for ever


@dataclass(frozen=True, slots=True)
class ClimbedLevel:
    conversation_id: str
    reason: str
    level: int
    action: str


@dataclass(slots=True)
class SweepReport:
    looked_at: int = 0
    climbed: list[ClimbedLevel] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {"swept": self.looked_at, "levels": len(self.climbed)}


@dataclass(frozen=True, slots=True)
class SweepPorts:
    repos: Repositories
    bus: SqsBus
    setup: SlaSetup
    config: RoutingConfig  # the route queues (a ladder re-routes only to a configured route)


def sweep(ports: SweepPorts, now: datetime, *, batch: int = SWEEP_BATCH) -> SweepReport:
    """One pass: every conversation due by ``now`` climbs the levels it reached."""
    report = SweepReport()
    for conversation_id in ports.repos.conversations.sla_attention_due(format_timestamp(now), batch):
        report.looked_at += 1
        try:
            report.climbed += climb(ports, conversation_id, now)
        except RetryableError:  # this one waits for the next sweep; the others go on
            logger.warning("sla sweep: conversation left for the next sweep",
                           extra={"conversation_id": conversation_id})
    if report.climbed:
        logger.info("sla sweep", extra=report.to_dict())
    return report


def climb(ports: SweepPorts, conversation_id: str, now: datetime) -> list[ClimbedLevel]:
    """Carry out, in order, every level of ``conversation_id`` due by ``now`` that nobody carried out."""
    climbed: list[ClimbedLevel] = []
    conversations, setup = ports.repos.conversations, ports.setup
    for _ in range(MAX_LEVELS_PER_CONVERSATION):
        conversation = conversations.get(conversation_id, consistent=True)
        stored = decode(conversation) if conversation is not None else None
        if conversation is None or stored is None or conversation.sla is None:
            return climbed
        timers = follow_status(stored, conversation, setup)
        revision = conversation.sla.revision
        if timers.in_flight is not None:
            if not timers.in_flight.claimable(now):
                return climbed  # its sweeper is publishing it: nobody climbs past it (the next sweep looks)
            reclaimed = _reclaim(ports, conversation, timers, now)
            climbed += [reclaimed] if reclaimed is not None else []
            continue
        due = ladder.due_levels(timers.state, setup.ladder, now, setup.policies, setup.calendar)
        if not due:  # nothing (more) to do: keep the index true (a status followed, a stale entry)
            settled = encode(timers, revision + 1, setup)
            if settled.record != conversation.sla.record or settled.attention_at != conversation.sla.attention_at:
                conversations.record_sla(conversation_id, settled)
            return climbed
        level = due[0]
        after = replace(timers, state=ladder.record_level(timers.state, level), in_flight=in_flight.mark(level, now))
        route, priority = _reroute_target(conversation, level, ports)
        if priority is not None:
            after = replace(after, state=ladder.reprioritise(after.state, priority, setup.policies, setup.calendar))
        written = conversations.record_sla(
            conversation_id, encode(after, revision + 1, setup), route=route, priority=priority
        )
        if written is None:
            continue  # someone else moved the timers: look again
        _publish_and_confirm(ports, written, level, after)
        climbed.append(_climbed(conversation_id, level))
    return climbed


def _reclaim(ports: SweepPorts, conversation: Conversation, timers: Timers, now: datetime) -> ClimbedLevel | None:
    """A level in flight that nobody will confirm (released, or its sweeper died): claim it conditionally,
    publish it again under its stable envelope id and confirm it; or drop the mark when the level's clock
    no longer runs (an agent reply cancelled it, resolve stopped it, a new cycle replaced it)."""
    flight, setup = timers.in_flight, ports.setup
    assert flight is not None and conversation.sla is not None
    revision = conversation.sla.revision
    level = in_flight.due_level(flight, setup.ladder)
    if level is None or not ladder.still_running(timers.state, flight.kind, flight.clock_started_at):
        ports.repos.conversations.record_sla(conversation.id, encode(replace(timers, in_flight=None), revision + 1,
                                                                     setup))  # lost: another writer moved on
        return None
    claimed = replace(timers, in_flight=in_flight.mark(level, now))
    written = ports.repos.conversations.record_sla(conversation.id, encode(claimed, revision + 1, setup))
    if written is None:
        return None  # another sweeper claimed it (or the timers moved): look again
    logger.warning("sla sweep: publishing again a level nobody confirmed",
                   extra={"conversation_id": conversation.id, "reason": level.reason, "level": level.level,
                          "released": flight.released})
    _publish_and_confirm(ports, written, level, claimed)
    return _climbed(conversation.id, level)


def _publish_and_confirm(ports: SweepPorts, written: Conversation, level: DueLevel, recorded: Timers) -> None:
    """Carry out the level just recorded in flight, then clear the mark (the confirmation); a failed
    publication releases the mark instead, so the next sweep publishes the level again."""
    flight = recorded.in_flight
    assert flight is not None
    try:
        _carry_out(ports, written, level)
    except Exception:
        try:
            _settle_mark(ports, written, recorded, in_flight.release(flight))
        except Exception:  # the mark stays: claimed once stale
            logger.exception("sla sweep: a level whose publication failed could not be released",
                             extra={"conversation_id": written.id})
        raise
    _settle_mark(ports, written, recorded, None)


def _settle_mark(ports: SweepPorts, written: Conversation, recorded: Timers, settled: InFlight | None) -> None:
    """Replace the mark ``recorded`` carries by ``settled`` (None: confirmed): one conditional write on the
    revision just written; on a conflict (an agent reply, a message, a status change came in between), on
    what now stands, as long as it still carries this sweeper's mark."""
    assert written.sla is not None
    mine = recorded.in_flight
    conversations, setup = ports.repos.conversations, ports.setup
    if conversations.record_sla(written.id, encode(replace(recorded, in_flight=settled), written.sla.revision + 1,
                                                   setup)) is not None:
        return
    change_timers(conversations, written.id, setup,
                  lambda _conversation, timers: replace(timers, in_flight=settled)
                  if timers is not None and in_flight.same(timers.in_flight, mine) else None)


def _climbed(conversation_id: str, level: DueLevel) -> ClimbedLevel:
    return ClimbedLevel(conversation_id, level.reason, level.level, level.step.action.value)


def _reroute_target(
    conversation: Conversation, level: DueLevel, ports: SweepPorts
) -> tuple[str | None, Priority | None]:
    step = level.step
    if step.action is not EscalationAction.REROUTE:
        return None, None
    route = step.route or conversation.route
    if route not in ports.config.routes:  # a route the configuration no longer has
        route = ports.config.default.route
    wanted = step.priority or conversation.priority
    return route, max(wanted, conversation.priority, key=lambda p: p.rank)


def _carry_out(ports: SweepPorts, conversation: Conversation, level: DueLevel) -> None:
    customer = ports.repos.customers.get(conversation.customer_id)
    if customer is None:
        raise RetryableError(f"the customer of {conversation.id} is not readable")
    cycle = format_timestamp(level.clock_started_at)
    deadline = _missed_deadline(conversation, level)
    if level.step.action is EscalationAction.REROUTE:
        level_id = escalation_id_for(conversation.id, f"{level.reason}@{cycle}", level.level)
        _publish_rerouted(ports, conversation, customer, level_id)
        # The move itself is a change integrators see: `rerouted` by the SLA (before its `escalated`).
        publish_lifecycle(ports.bus, [conversation_event(
            LifecycleType.REROUTED, conversation, customer, change=level_id, at=format_timestamp(level.due_at),
            by="sla", reason=level.reason, level=level.level)])
    envelope_id = escalate(ports.bus, conversation, customer, reason=level.reason, level=level.level,
                           at=format_timestamp(level.due_at), action=level.step.action.value, deadline=deadline,
                           cycle=cycle)
    count_escalation(ports.repos, envelope_id, conversation, format_timestamp(level.due_at))


def _missed_deadline(conversation: Conversation, level: DueLevel) -> str | None:
    stored = conversation.sla
    return stored.due.get(level.kind.value) if stored is not None else None


def _publish_rerouted(ports: SweepPorts, conversation: Conversation, customer: Customer, dedupe_id: str) -> None:
    """The conversation's standing message, on the new route's queue: that route's support tool sees the
    case (deduplicated on the level's escalation id, not the message's: the old route already had that)."""
    routing = conversation.routing
    message = ports.repos.messages.find(conversation.id, routing.message_id) if routing is not None else None
    if message is None:
        logger.warning("sla reroute: no message to show on the new route", extra={"conversation_id": conversation.id})
        return
    ports.bus.publish(
        route_queue_spec(conversation.route, ports.config),
        Outgoing(routed_envelope(conversation, customer, message, opened=False), group_id=conversation.id,
                 dedupe_id=dedupe_id),
    )

