"""The REST API's conversation actions: resolve, reopen, pending, assign; each answers the conversation
as ``GET /conversations/{id}`` shows it and reports its change on the conversation-events queue.

A status change is one conditional write from the statuses it may leave (a race loses with 409,
nothing written) that records its lifecycle event's id and time on the conversation. Asking for the
status a conversation already has changes nothing and answers 200 (a retried request); when that
status came from a recorded change, its event is published again under the same id, so a request
whose event SQS refused (503) publishes it on its retry. An impossible move (``pending`` on a resolved
conversation, reopening a resolved one whose customer has opened another since) is 409.

Every change is followed by the SLA timers (:func:`chalicelib.sla.timers.after_status_change`): resolve
stops the clocks, pending pauses them, reopen resumes them, an assignment re-targets them to the new
priority. A public conversation (comments on one post) is never the customer's direct open
conversation: reopening it claims no pointer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.resources import route_queue_spec
from chalicelib.adapters.sqs import Outgoing, SqsBus
from chalicelib.api.envelopes import routed_envelope
from chalicelib.api.queries import conversation_detail
from chalicelib.conversations.lifecycle import (
    LifecycleEvent,
    LifecycleType,
    last_status_event,
    publish_lifecycle,
    status_change_id,
)
from chalicelib.core.errors import BadRequest, Conflict, NotFound
from chalicelib.core.ids import lifecycle_event_id_for
from chalicelib.core.model import Conversation, ConversationStatus, Customer, Direction, Message, Priority
from chalicelib.core.ports import Repositories
from chalicelib.core.routing_record import ConversationRouting, SupportAssignment
from chalicelib.core.timestamps import utc_now
from chalicelib.sla.timers import after_status_change, current_sla_setup, sla_setup

if TYPE_CHECKING:
    from chalicelib.routing import RoutingConfig

OPEN, PENDING, RESOLVED = ConversationStatus.OPEN, ConversationStatus.PENDING, ConversationStatus.RESOLVED
# The statuses each one may be reached from.
_REACHABLE_FROM = {RESOLVED: (OPEN, PENDING), OPEN: (RESOLVED, PENDING), PENDING: (OPEN,)}
ASSIGN_FIELDS = ("route", "priority")


def resolve_conversation(
    repos: Repositories, conversation_id: str, *, bus: SqsBus, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Resolve a case: the customer's next message opens a new conversation with a new reference, and the
    customer is asked for feedback (chalicelib.feedback: ``survey`` says what was done)."""
    from chalicelib.feedback.asking import ask_on_resolve
    from chalicelib.feedback.config import load_feedback_config
    from chalicelib.reports.events import count_resolution

    before = repos.conversations.get(conversation_id, consistent=True)
    conversation = _change_status(repos, bus, conversation_id, RESOLVED)
    repos.customers.release_open_conversation(conversation.customer_id, conversation_id)
    timed = after_status_change(repos.conversations, conversation_id, current_sla_setup())  # the clocks stop
    resolved = timed.conversation if timed is not None else conversation
    now = resolved.resolved_at or resolved.updated_at
    count_resolution(repos, before, resolved, now)
    survey = ask_on_resolve(repos, resolved, environ=environ or {}, config=load_feedback_config(), now=now)
    return {**conversation_detail(repos, conversation_id), "survey": survey}


def reopen_conversation(repos: Repositories, conversation_id: str, *, bus: SqsBus) -> dict[str, Any]:
    """Open a resolved or pending conversation again. A resolved direct one becomes the customer's open
    conversation again (their next message joins it): 409 when they have opened another since. A public
    one claims nothing: its customer's public messages about the post find it by its derived id."""
    from chalicelib.reports.events import count_reopened

    before = repos.conversations.get(conversation_id, consistent=True)
    reopened = _change_status(repos, bus, conversation_id, OPEN)
    after_status_change(repos.conversations, conversation_id, current_sla_setup())  # the clocks run again
    if before is not None and before.status is RESOLVED:  # a pending one resuming is no reopen
        count_reopened(repos, reopened, reopened.updated_at)
    return conversation_detail(repos, conversation_id)


def set_pending(repos: Repositories, conversation_id: str, *, bus: SqsBus) -> dict[str, Any]:
    """Waiting on the customer: their next message makes it open again (``reopened``)."""
    _change_status(repos, bus, conversation_id, PENDING)
    after_status_change(repos.conversations, conversation_id, current_sla_setup())  # the clocks pause
    return conversation_detail(repos, conversation_id)


def assign_conversation(
    repos: Repositories, conversation_id: str, body: Any, *, bus: SqsBus, config: RoutingConfig | None = None
) -> dict[str, Any]:
    """Support moves a conversation to a configured route and/or priority (``rerouted``, by support);
    ``config``: the routing configuration in force unless given.

    On a new route, the department's queue gets the routed envelope of the customer's last message
    (unless the conversation is resolved) under the assignment's event id (a new ``envelope_id``:
    that department never saw it), so its tool learns of the case without waiting for the customer.
    Asking for what stands changes nothing; when it stands by support's last assignment, that
    assignment's event and hand-over are published again (a retry after SQS refused them). A later
    customer message moves the conversation again only when it matches a rule of higher priority."""
    if config is None:
        from chalicelib.routing import load_routing_config  # lazy: the API's other routes never load it

        config = load_routing_config()
    route, priority = validated_assignment(body, config.routes)
    conversation, customer = _read(repos, conversation_id)
    route = route or conversation.route
    priority = priority or conversation.priority
    if (route, priority) == (conversation.route, conversation.priority):
        if _stands_by_assignment(conversation):  # a retry: the clocks as the first attempt left them, again
            _publish_assignment(repos, bus, config, _timed(repos, conversation, config), customer)
        return conversation_detail(repos, conversation_id)
    assignment = SupportAssignment(utc_now(), conversation.route, conversation.priority.value)
    reason = f"assigned by support: route {route}, priority {priority.value}"
    event_id = _assignment_event_id(conversation_id, route, priority, assignment)
    assigned = repos.conversations.assign(conversation_id, route=route, priority=priority,
                                          routing=ConversationRouting(None, reason, event_id), assignment=assignment)
    # The clocks not yet breached re-target to the new priority before the hand-over shows them.
    _publish_assignment(repos, bus, config, _timed(repos, assigned, config), customer)
    return conversation_detail(repos, conversation_id)


def _assignment_event_id(conversation_id: str, route: str, priority: Priority, assignment: SupportAssignment) -> str:
    change = "\x1f".join(("support", assignment.previous_route, assignment.previous_priority, route, priority.value,
                          assignment.at))
    return lifecycle_event_id_for(conversation_id, LifecycleType.REROUTED.value, change)


def _stands_by_assignment(conversation: Conversation) -> bool:
    """The route and priority are those support's last assignment set (no rule moved it since)."""
    assignment, routing = conversation.assignment, conversation.routing
    return assignment is not None and routing is not None and routing.message_id == _assignment_event_id(
        conversation.id, conversation.route, conversation.priority, assignment)


def _publish_assignment(
    repos: Repositories, bus: SqsBus, config: RoutingConfig, assigned: Conversation, customer: Customer
) -> None:
    """The hand-over to a new route's queue, then the ``rerouted`` event; the same ids every time."""
    assignment = assigned.assignment
    assert assignment is not None
    event_id = _assignment_event_id(assigned.id, assigned.route, assigned.priority, assignment)
    last = _last_inbound(repos, assigned.id) if assigned.status is not RESOLVED else None
    if assigned.route != assignment.previous_route and last is not None:  # a resolved case is nobody's work
        envelope = {**routed_envelope(assigned, customer, last, opened=False), "envelope_id": event_id}
        bus.publish(route_queue_spec(assigned.route, config), Outgoing(envelope, group_id=assigned.id,
                                                                       dedupe_id=event_id))
    event = LifecycleEvent(LifecycleType.REROUTED, event_id, assignment.at, customer, assigned,
                           {"by": "support", "previous_route": assignment.previous_route,
                            "previous_priority": assignment.previous_priority})
    publish_lifecycle(bus, [event])


def _last_inbound(repos: Repositories, conversation_id: str) -> Message | None:
    found = repos.conversations.get_with_messages(conversation_id)
    inbound = [m for m in found[1] if m.direction is Direction.INBOUND] if found else []
    return inbound[-1] if inbound else None


def validated_assignment(body: Any, routes: Mapping[str, Any]) -> tuple[str | None, Priority | None]:
    """``{"route", "priority"}``, at least one: a configured route, a known priority."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object with route and/or priority")
    if set(body) - set(ASSIGN_FIELDS):
        raise BadRequest("only route and priority can be assigned")
    if not body:
        raise BadRequest("give a route, a priority or both")
    route, priority = body.get("route"), body.get("priority")
    if route is not None and (not isinstance(route, str) or route not in routes):
        raise BadRequest(f"route must be one of the configured routes: {', '.join(sorted(routes))}")
    if priority is not None and (not isinstance(priority, str) or priority not in set(Priority)):
        raise BadRequest(f"priority must be one of {', '.join(p.value for p in Priority)}")
    return route, Priority(priority) if priority is not None else None


# ------------------------------------------------------------------ status changes
def _change_status(repos: Repositories, bus: SqsBus, conversation_id: str, to: ConversationStatus) -> Conversation:
    conversation, customer = _read(repos, conversation_id)
    if conversation.status is to:  # a retry, or asking for what stands: the recorded change's event again
        event = last_status_event(conversation, customer)
        publish_lifecycle(bus, [event] if event else [])
        return conversation
    if conversation.status not in _REACHABLE_FROM[to]:
        raise Conflict(f"a {conversation.status.value} conversation cannot become {to.value}"
                       + ("; reopen it first" if conversation.status is RESOLVED else ""))
    claims_pointer = conversation.status is RESOLVED and not conversation.public  # public: no pointer
    if claims_pointer and not repos.customers.claim_open_conversation(conversation.customer_id, conversation_id, None):
        raise Conflict("the customer has opened another conversation since; it cannot be reopened")
    at = utc_now()
    changed = repos.conversations.set_status(conversation_id, to, at, expected=(conversation.status,),
                                             event_id=status_change_id(conversation_id, to, f"support\x1f{at}"))
    event = last_status_event(changed, customer, by="support", previous_status=conversation.status.value)
    publish_lifecycle(bus, [event] if event else [])
    return changed


def _timed(repos: Repositories, conversation: Conversation, config: RoutingConfig) -> Conversation:
    """The conversation once its SLA timers followed its (new) priority."""
    timed = after_status_change(repos.conversations, conversation.id, sla_setup(config))
    return timed.conversation if timed is not None else conversation


def _read(repos: Repositories, conversation_id: str) -> tuple[Conversation, Customer]:
    conversation = repos.conversations.get(conversation_id, consistent=True)
    if conversation is None:
        raise NotFound(f"no conversation {conversation_id}")
    customer = repos.customers.get(conversation.customer_id)
    if customer is None:
        raise NotFound(f"the customer of {conversation_id} is gone")
    return conversation, customer

