"""Where the KPIs are counted: one function per event the hub handles, each with a key that names
the event once (a redelivery, a retried request or a re-run counts nothing twice).

- the worker: an inbound message (and the conversation it opened, or the resolved one it reopened), its
  acknowledgment;
- the REST API: an agent's reply (and the conversation's first response, against its SLA target),
  a resolve (resolution time), a reopen; the survey placed (an outbound message) and its answer;
- the SLA sweeper: an escalation published.
"""

from __future__ import annotations

from chalicelib.core.model import Channel, Conversation, ConversationStatus
from chalicelib.core.ports import Repositories
from chalicelib.core.timestamps import parse_timestamp, utc_now
from chalicelib.reports import figures
from chalicelib.reports.recorder import count_event, count_event_softly

FIRST_RESPONSE_CLOCK = "first_response"


def _minutes(start: str, end: str) -> float:
    return (parse_timestamp(end) - parse_timestamp(start)).total_seconds() / 60


def count_inbound(repos: Repositories, inbox_key: str, conversation: Conversation, received_at: str,
                  *, opened: bool, acknowledged: str | None = None) -> None:
    """A customer's message threaded (worker): retried by the queue when the store fails. With the
    acknowledgment's outcome, the acknowledgment is counted in the same event (one marker and one
    update per dimension instead of two of each: the worker's per-message AWS calls)."""
    counts = figures.inbound_message(opened=opened)
    for name, value in (_acknowledgment_counts(acknowledged, received_at) or {}).items():
        counts[name] = counts.get(name, 0) + value
    count_event(repos.kpis, f"inbound#{inbox_key}", received_at, conversation.channel.value, conversation.route,
                counts)


def _acknowledgment_counts(outcome: str | None, received_at: str) -> dict[str, int] | None:
    if outcome == "acknowledged_in_response":
        return figures.acknowledgment(0.0)
    if outcome in ("acknowledgment_queued", "acknowledged_in_conversation"):
        return figures.acknowledgment(max(0.0, _minutes(received_at, utc_now()) * 60))
    return None


def count_agent_reply(repos: Repositories, before: Conversation, outbound_id: str, channel: Channel, at: str) -> None:
    """An agent's reply; the conversation's first one is its first response, met or breached against the
    first-response deadline its SLA clock had (none when the conversation was never routed)."""
    count_event_softly(repos.kpis, f"outbound#{outbound_id}", at, channel.value, before.route,
                       figures.outbound_message())
    due = before.sla.due.get(FIRST_RESPONSE_CLOCK) if before.sla else None
    if before.sla is not None and due is None:
        return  # the first-response clock is not running: this is not the first response
    within = None if due is None else parse_timestamp(at) <= parse_timestamp(due)
    count_event_softly(repos.kpis, f"first_response#{before.id}", at, before.channel.value, before.route,
                       figures.first_response(max(0.0, _minutes(before.created_at, at)), within))


def count_resolution(repos: Repositories, before: Conversation | None, resolved: Conversation, at: str) -> None:
    """A resolve that changed the status (a repeated resolve counts nothing); reopened cases count again."""
    if before is None or before.status is ConversationStatus.RESOLVED:
        return
    count_event_softly(repos.kpis, f"resolved#{resolved.id}#{before.updated_at}", at, resolved.channel.value,
                       resolved.route, figures.resolution(max(0.0, _minutes(resolved.created_at, at))))


def count_reopened(repos: Repositories, conversation: Conversation, at: str) -> None:
    """A resolved conversation reopened by support (POST /conversations/{id}/reopen): once per reopen, the
    status change's event id naming it (a pending conversation resuming is no reopen)."""
    count_event_softly(repos.kpis, f"reopened#{conversation.status_event_id or conversation.id + '#' + at}", at,
                       conversation.channel.value, conversation.route, figures.reopened())


def count_reopened_by_customer(repos: Repositories, conversation: Conversation, change_id: str, at: str) -> None:
    """A resolved conversation the customer's message reopened (worker; ``change_id``: the status change the
    message derives, so a redelivery counts nothing twice; a store failure retries the message)."""
    count_event(repos.kpis, f"reopened#{change_id}", at, conversation.channel.value, conversation.route,
                figures.reopened())


def count_escalation(repos: Repositories, escalation_id: str, conversation: Conversation, at: str) -> None:
    """An escalation the sweeper published (its id is stable per conversation, reason and level)."""
    count_event(repos.kpis, f"escalation#{escalation_id}", at, conversation.channel.value, conversation.route,
                figures.escalation())


def count_answer(repos: Repositories, conversation_id: str, channel: str, route: str, kind: str, score: int,
                 at: str) -> None:
    count_event(repos.kpis, f"answer#{conversation_id}", at, channel, route, figures.survey_answer(kind, score))
