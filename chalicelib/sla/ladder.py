"""The escalation ladder: which levels a conversation's SLA breaches have reached (pure).

A conversation runs up to three SLA clocks (:class:`SlaClock`): ``first_response`` from the moment
it opened, ``next_response`` from the first customer message after an agent reply, and
``resolution`` from the moment it opened (or reopened). Each clock's deadline comes from
:meth:`SlaPolicies.due` for the conversation's priority.

When a deadline passes, the clock climbs the ladder of the routing configuration: ordered levels,
each ``after_minutes`` after the breach (in the SLA's calendar: working minutes under ``business``,
every minute under ``always``; ``0`` means at the breach itself). The sweeper asks
:func:`due_levels` for the levels reached and records each with :func:`record_level`, which
is the pure twin of the conditional update the store writes (``levels_done = n - 1`` → ``n``): a
re-run or a concurrent sweeper never repeats a level, and levels are done one by one, in order.

The lifecycle, as transitions on :class:`SlaState`:

- an agent reply (:func:`agent_reply`) fulfils the response clocks and so cancels their pending
  levels; it does not stop the ``resolution`` clock, whose ladder keeps climbing until resolved;
- ``pending`` (:func:`pause`) stops every clock: no level falls due while paused, and
  :func:`resume` extends every deadline by the paused time counted in the SLA's calendar (paused
  working minutes under ``business``), so the pause never counts against the team — including the
  ladder of a clock that had already breached, whose remaining levels move with it;
- resolve (:func:`resolve`) stops and drops every clock; :func:`reopen` starts a new resolution
  clock, and the next customer message a new response clock (a new cycle: its ladder starts at 1).

Every datetime given must be aware. Every one kept or returned is in UTC, and all arithmetic and
comparison happens there: Python compares and subtracts two datetimes that share a tzinfo by wall
clock, which is an hour off across a daylight-saving change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from chalicelib.core.calendar import BusinessCalendar
from chalicelib.core.errors import Conflict
from chalicelib.core.model import ModelError, Priority
from chalicelib.core.timestamps import format_timestamp, parse_timestamp
from chalicelib.sla.policy import SlaKind, SlaPolicies

RESPONSE_KINDS = frozenset({SlaKind.FIRST_RESPONSE, SlaKind.NEXT_RESPONSE})
_KIND_ORDER = {kind: index for index, kind in enumerate(SlaKind)}


class EscalationAction(StrEnum):
    NOTIFY = "notify"  # put the breach on the escalation queue
    REROUTE = "reroute"  # move the conversation to ``route`` (default: its own) at ``priority`` (never lower)
    NOTIFY_SUPERVISORS = "notify_supervisors"  # the escalation queue, marked for supervisors


@dataclass(frozen=True, slots=True)
class EscalationLevel:
    """One rung: ``action`` once the breach is ``after_minutes`` old (in the SLA's calendar)."""

    after_minutes: int
    action: EscalationAction
    route: str | None = None
    priority: Priority | None = None


# The ladder of a configuration that defines none: the breach goes on the escalation queue as soon
# as the sweeper finds it; an hour later the conversation is raised to urgent on its own route;
# after four hours supervisors are told.
DEFAULT_LADDER: tuple[EscalationLevel, ...] = (
    EscalationLevel(0, EscalationAction.NOTIFY),
    EscalationLevel(60, EscalationAction.REROUTE, priority=Priority.URGENT),
    EscalationLevel(240, EscalationAction.NOTIFY_SUPERVISORS),
)


class LadderConflict(Conflict, ValueError):
    """A level was recorded out of order, twice, or for a clock that is no longer running."""


@dataclass(frozen=True, slots=True)
class SlaClock:
    kind: SlaKind
    started_at: datetime  # identifies the cycle: a new clock of the same kind starts its ladder at 1
    deadline: datetime  # extended by every completed pause
    levels_done: int = 0  # ladder levels climbed for this clock's breach: 1..levels_done
    paused_minutes: float = 0.0  # SLA time paused since the clock started (already in ``deadline``)

    @property
    def reason(self) -> str:
        return f"sla:{self.kind.value}"


@dataclass(frozen=True, slots=True)
class SlaState:
    """What the SLA needs to know of a conversation (stored on it by the worker and the sweeper)."""

    clocks: tuple[SlaClock, ...] = ()
    paused_since: datetime | None = None  # the conversation is pending: every clock is stopped
    last_agent_reply_at: datetime | None = None

    def clock(self, kind: SlaKind) -> SlaClock | None:
        return next((clock for clock in self.clocks if clock.kind is kind), None)

    def deadlines(self) -> dict[SlaKind, datetime]:
        """The due times of the running clocks (the routed envelope's ``sla``)."""
        return {clock.kind: clock.deadline for clock in self.clocks}


@dataclass(frozen=True, slots=True)
class DueLevel:
    """A level the sweeper must carry out now."""

    kind: SlaKind
    clock_started_at: datetime
    level: int  # 1-based
    step: EscalationLevel
    due_at: datetime

    @property
    def reason(self) -> str:
        """The escalation envelope's ``reason``: ``sla:first_response`` and so on."""
        return f"sla:{self.kind.value}"


# ---- clock arithmetic ----------------------------------------------------------------------------


def add_sla_minutes(policies: SlaPolicies, calendar: BusinessCalendar, start: datetime, minutes: float) -> datetime:
    """``start`` plus ``minutes`` in the SLA's calendar, in UTC; zero is ``start`` itself (even when closed)."""
    begin = _utc(start)
    if minutes <= 0:
        return begin
    if policies.calendar_mode == "business":
        return calendar.add_business_minutes(begin, minutes).astimezone(UTC)
    return begin + timedelta(minutes=minutes)


def sla_minutes_between(policies: SlaPolicies, calendar: BusinessCalendar, start: datetime, end: datetime) -> float:
    """The SLA time from ``start`` to ``end`` (working minutes under ``business``), never negative."""
    begin, finish = _utc(start), _utc(end)
    if policies.calendar_mode == "business":
        return calendar.business_minutes_between(begin, finish)
    return max(0.0, (finish - begin) / timedelta(minutes=1))


def start_clock(
    kind: SlaKind, started_at: datetime, priority: Priority, policies: SlaPolicies, calendar: BusinessCalendar
) -> SlaClock:
    start = _utc(started_at)
    return SlaClock(kind, start, _utc(policies.due(start, priority, kind, calendar)))


# ---- lifecycle -----------------------------------------------------------------------------------


def open_conversation(
    opened_at: datetime, priority: Priority, policies: SlaPolicies, calendar: BusinessCalendar
) -> SlaState:
    """A new conversation: the first-response and resolution clocks start."""
    return SlaState(clocks=(
        start_clock(SlaKind.FIRST_RESPONSE, opened_at, priority, policies, calendar),
        start_clock(SlaKind.RESOLUTION, opened_at, priority, policies, calendar),
    ))


def customer_message(
    state: SlaState, at: datetime, priority: Priority, policies: SlaPolicies, calendar: BusinessCalendar
) -> SlaState:
    """A customer message: starts a response clock unless one is already running (it counts from the
    first unanswered message). ``first_response`` until an agent has replied once, then ``next_response``."""
    if any(clock.kind in RESPONSE_KINDS for clock in state.clocks):
        return state
    kind = SlaKind.FIRST_RESPONSE if state.last_agent_reply_at is None else SlaKind.NEXT_RESPONSE
    return _with_clock(state, start_clock(kind, at, priority, policies, calendar))


def agent_reply(state: SlaState, at: datetime) -> SlaState:
    """An agent replied: the response clocks are fulfilled, and their pending levels cancelled."""
    at = _utc(at)
    latest = at if state.last_agent_reply_at is None else max(at, _utc(state.last_agent_reply_at))
    kept = tuple(clock for clock in state.clocks if clock.kind not in RESPONSE_KINDS)
    return replace(state, clocks=kept, last_agent_reply_at=latest)


def pause(state: SlaState, at: datetime) -> SlaState:
    """The conversation is pending (waiting on the customer): every clock stops. Pausing twice keeps the first."""
    return state if state.paused_since is not None else replace(state, paused_since=_utc(at))


def resume(state: SlaState, at: datetime, policies: SlaPolicies, calendar: BusinessCalendar) -> SlaState:
    """Out of pending: every deadline moves later by the SLA time it was paused (a clock started during
    the pause, by a customer message, is paused only from its start)."""
    paused_since = state.paused_since
    if paused_since is None:
        return state
    at, paused_since = _utc(at), _utc(paused_since)
    clocks = []
    for clock in state.clocks:
        paused = sla_minutes_between(policies, calendar, max(paused_since, _utc(clock.started_at)), at)
        clocks.append(replace(
            clock,
            deadline=add_sla_minutes(policies, calendar, clock.deadline, paused),
            paused_minutes=clock.paused_minutes + paused,
        ))
    return replace(state, clocks=tuple(clocks), paused_since=None)


def resolve(state: SlaState) -> SlaState:
    """Resolved: every clock stops for good (a reopen starts new ones)."""
    return replace(state, clocks=(), paused_since=None)


def reopen(
    state: SlaState, at: datetime, priority: Priority, policies: SlaPolicies, calendar: BusinessCalendar
) -> SlaState:
    """Reopened: a new resolution clock (the next customer message starts a response clock)."""
    if state.clock(SlaKind.RESOLUTION) is not None:
        return state
    return _with_clock(replace(state, paused_since=None),
                       start_clock(SlaKind.RESOLUTION, at, priority, policies, calendar))


def reprioritise(state: SlaState, priority: Priority, policies: SlaPolicies, calendar: BusinessCalendar) -> SlaState:
    """A new priority (a re-route, ``/assign``): the clocks not yet breached take its targets, counted
    from their start and still extended by the time already paused. A clock that has started climbing
    its ladder keeps its deadline, so the ladder's timeline does not jump under it."""
    clocks = tuple(
        clock if clock.levels_done else replace(clock, deadline=add_sla_minutes(
            policies, calendar, policies.due(clock.started_at, priority, clock.kind, calendar), clock.paused_minutes
        ))
        for clock in state.clocks
    )
    return replace(state, clocks=clocks)


# ---- the ladder ----------------------------------------------------------------------------------


def due_levels(
    state: SlaState,
    ladder: Sequence[EscalationLevel],
    now: datetime,
    policies: SlaPolicies,
    calendar: BusinessCalendar,
) -> list[DueLevel]:
    """The levels reached by ``now`` and not yet done, in the order to carry them out.

    Nothing while paused. A response clock an agent reply already fulfilled is skipped even when the
    stored state still holds it (the reply and the sweep may race). Each clock's levels come in ladder
    order (a level never falls due before the one below it); clocks interleave by due time.
    """
    now = _utc(now)
    if state.paused_since is not None:
        return []
    due: list[DueLevel] = []
    for clock in state.clocks:
        if _fulfilled(state, clock) or now < _utc(clock.deadline):
            continue
        for level, step, due_at in _timeline(clock, ladder, policies, calendar):
            if level <= clock.levels_done:
                continue
            if due_at > now:
                break
            due.append(DueLevel(clock.kind, clock.started_at, level, step, due_at))
    due.sort(key=lambda d: (d.due_at, _KIND_ORDER[d.kind], d.level))
    return due


def next_attention_at(
    state: SlaState, ladder: Sequence[EscalationLevel], policies: SlaPolicies, calendar: BusinessCalendar
) -> datetime | None:
    """The earliest moment a level not yet done falls due: the key of the sweeper's sparse index.

    ``None`` when nothing can fall due (paused, resolved, every ladder climbed), which removes the
    conversation from the index.
    """
    if state.paused_since is not None:
        return None
    earliest: datetime | None = None
    for clock in state.clocks:
        if _fulfilled(state, clock):
            continue
        for level, _step, due_at in _timeline(clock, ladder, policies, calendar):
            if level > clock.levels_done:
                earliest = due_at if earliest is None else min(earliest, due_at)
                break
    return earliest


def still_running(state: SlaState, kind: SlaKind, started_at: datetime) -> bool:
    """The clock ``kind`` that started at ``started_at`` still runs: not fulfilled, resolved or restarted."""
    clock = state.clock(kind)
    return clock is not None and _utc(clock.started_at) == _utc(started_at) and not _fulfilled(state, clock)


def record_level(state: SlaState, done: DueLevel) -> SlaState:
    """Mark ``done`` as carried out; :class:`LadderConflict` when it is not the clock's next level.

    The pure twin of the store's conditional update: whoever records a level second loses.
    """
    for index, clock in enumerate(state.clocks):
        if clock.kind is done.kind and _utc(clock.started_at) == _utc(done.clock_started_at):
            if done.level != clock.levels_done + 1:
                raise LadderConflict(
                    f"{done.reason} level {done.level}: the clock has done {clock.levels_done} level(s)"
                )
            clocks = list(state.clocks)
            clocks[index] = replace(clock, levels_done=done.level)
            return replace(state, clocks=tuple(clocks))
    raise LadderConflict(f"{done.reason} level {done.level}: that clock is no longer running")


# ---- the stored form ------------------------------------------------------------------------------


def state_to_record(state: SlaState) -> dict[str, Any]:
    """JSON- and DynamoDB-safe: canonical UTC timestamps (milliseconds), integers, no floats."""
    return {
        "clocks": [
            {
                "kind": clock.kind.value,
                "started_at": format_timestamp(clock.started_at),
                "deadline": format_timestamp(clock.deadline),
                "levels_done": clock.levels_done,
                "paused_ms": round(clock.paused_minutes * 60_000),
            }
            for clock in state.clocks
        ],
        "paused_since": _timestamp_or_none(state.paused_since),
        "last_agent_reply_at": _timestamp_or_none(state.last_agent_reply_at),
    }


def state_from_record(record: Mapping[str, Any]) -> SlaState:
    """The inverse of :func:`state_to_record`; ``ValueError`` (a ModelError) for a malformed record."""
    try:
        clocks = tuple(
            SlaClock(
                kind=SlaKind(item["kind"]),
                started_at=parse_timestamp(item["started_at"]),
                deadline=parse_timestamp(item["deadline"]),
                levels_done=int(item["levels_done"]),
                paused_minutes=int(item.get("paused_ms", 0)) / 60_000,
            )
            for item in record.get("clocks", ())
        )
    except (KeyError, TypeError, ValueError) as err:
        raise ModelError(f"not an SLA state record: {type(err).__name__}") from err
    paused, replied = record.get("paused_since"), record.get("last_agent_reply_at")
    return SlaState(
        clocks=clocks,
        paused_since=parse_timestamp(paused) if paused else None,
        last_agent_reply_at=parse_timestamp(replied) if replied else None,
    )


def _timestamp_or_none(moment: datetime | None) -> str | None:
    return format_timestamp(moment) if moment is not None else None


# ---- helpers -------------------------------------------------------------------------------------


def _timeline(
    clock: SlaClock, ladder: Sequence[EscalationLevel], policies: SlaPolicies, calendar: BusinessCalendar
) -> list[tuple[int, EscalationLevel, datetime]]:
    """``(level, step, due_at)`` for every rung of ``clock``'s ladder, due times never decreasing."""
    timeline = []
    previous = _utc(clock.deadline)
    for index, step in enumerate(ladder, start=1):
        due_at = max(previous, add_sla_minutes(policies, calendar, clock.deadline, step.after_minutes))
        timeline.append((index, step, due_at))
        previous = due_at
    return timeline


def _fulfilled(state: SlaState, clock: SlaClock) -> bool:
    return (
        clock.kind in RESPONSE_KINDS
        and state.last_agent_reply_at is not None
        and _utc(state.last_agent_reply_at) > _utc(clock.started_at)  # a message in the same instant came after
    )


def _with_clock(state: SlaState, clock: SlaClock) -> SlaState:
    others = tuple(existing for existing in state.clocks if existing.kind is not clock.kind)
    clocks = sorted((*others, clock), key=lambda c: _KIND_ORDER[c.kind])
    return replace(state, clocks=tuple(clocks))


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"an aware datetime is required, got the naive {moment.isoformat()}")
    return moment.astimezone(UTC)
