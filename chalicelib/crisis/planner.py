"""The broadcast planner: pages an update's audience and queues one message per recipient.

Resumable: each page is queued (SendMessageBatch, ten recipients a call) and then the cursor moves
on together with the page's counters, in one conditional write. A planner that dies between the two
re-queues that page when it runs again; the worker's recipient records drop the duplicates, and the
counters were not added twice because the cursor did not move. A planner that runs out of time
queues its own continuation.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime

from chalicelib.adapters.resources import BROADCAST_QUEUE
from chalicelib.adapters.sqs import Outgoing, PublishFailed
from chalicelib.core.incident import Audience, Incident, IncidentUpdate, PlanState, ProgressCounter
from chalicelib.core.model import Customer
from chalicelib.crisis.audience import NO_CHANNEL, admits, recipient_channel
from chalicelib.crisis.incidents import first_update_id, plan_job
from chalicelib.crisis.ports import BROADCAST_SCHEMA, CrisisPorts

AUDIENCE, KEYWORDS, DONE = "audience", "keywords", "done"


def plan_update(
    ports: CrisisPorts, incident_id: str, update_id: str, *, time_left: Callable[[], float] | None = None,
    max_pages: int | None = None,
) -> PlanState:
    """Plan pages until the update is planned, or time runs short (then a continuation is queued).

    ``max_pages`` stops after that many pages without a continuation (a test's planner that dies)."""
    incident = ports.store.get_incident(incident_id)
    update = ports.store.get_update(incident_id, update_id)
    if incident is None or update is None:
        return PlanState(DONE)
    pages = 0
    while True:
        state = ports.store.plan_state(incident_id, update_id)
        if state.done:
            return state
        if max_pages is not None and pages >= max_pages:
            return state
        if time_left is not None and time_left() < 10:
            ports.bus.publish_batch(BROADCAST_QUEUE, [plan_job(incident_id, update_id)])
            return state
        plan_page(ports, incident, update, state)
        pages += 1


def plan_page(ports: CrisisPorts, incident: Incident, update: IncidentUpdate, state: PlanState) -> bool:
    """Queue one page of recipients and move the cursor past it; False when another planner moved it."""
    customers, reached = _page(ports, incident, update, state)
    if incident.cancelled_at is not None:
        customers, reached = [], PlanState(DONE)
    now = datetime.fromtimestamp(ports.clock(), tz=UTC)
    counts: Counter[tuple[str, str]] = Counter()
    skipped: Counter[tuple[str, str]] = Counter()
    jobs: list[Outgoing] = []
    for customer in customers:
        in_audience = admits(incident.audience, customer, now)
        if state.phase == KEYWORDS and in_audience:
            continue  # planned with the audience already
        if state.phase == AUDIENCE and not in_audience:
            continue
        audience = incident.audience if in_audience else Audience(channels=incident.audience.channels)
        channel, reason = recipient_channel(audience, customer, ports.has_sender)
        channel_name = channel.value if channel is not None else NO_CHANNEL
        if reason is not None:
            skipped[(reason, channel_name)] += 1
            continue
        counts[(ProgressCounter.PLANNED.value, channel_name)] += 1
        jobs.append(recipient_job(incident.id, update.id, customer, channel_name))
    refused = ports.bus.publish_batch(BROADCAST_QUEUE, jobs) if jobs else []
    if refused:
        raise PublishFailed(f"SQS refused {len(refused)} broadcast recipients; the page is planned again")
    return ports.store.advance_plan(incident.id, update.id, state, reached, counts, skipped)


def recipient_job(incident_id: str, update_id: str, customer: Customer, channel: str) -> Outgoing:
    body = {"schema": BROADCAST_SCHEMA, "type": "recipient", "incident_id": incident_id, "update_id": update_id,
            "customer_id": customer.id, "channel": channel}
    return Outgoing(body, group_id=customer.id, dedupe_id=f"{update_id}:{customer.id}")


def _page(
    ports: CrisisPorts, incident: Incident, update: IncidentUpdate, state: PlanState
) -> tuple[list[Customer], PlanState]:
    size = ports.config.page_size
    if state.phase == AUDIENCE:
        if incident.audience.customer_ids is not None:
            start = int(state.cursor or 0)
            ids = list(incident.audience.customer_ids[start : start + size])
            end = start + size >= len(incident.audience.customer_ids)
            return ports.store.customers_by_id(ids), _after_audience(ports, incident, update) if end else PlanState(
                AUDIENCE, str(start + size))
        customers, cursor = ports.store.audience_page(state.cursor, size)
        return customers, PlanState(AUDIENCE, cursor) if cursor else _after_audience(ports, incident, update)
    ids, cursor = ports.store.keyword_contacts_page(incident.id, state.cursor, size)
    return ports.store.customers_by_id(ids), PlanState(KEYWORDS, cursor) if cursor else PlanState(DONE)


def _after_audience(_ports: CrisisPorts, incident: Incident, update: IncidentUpdate) -> PlanState:
    """The first update goes to the audience only; later ones also to who wrote in with the keywords."""
    first = update.id == first_update_id(incident.id)
    return PlanState(DONE) if first or not incident.keywords else PlanState(KEYWORDS)
