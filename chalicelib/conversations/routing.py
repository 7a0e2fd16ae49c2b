"""The conversation worker's routing step: where a threaded message's conversation goes, recorded once.

A conversation that opens takes the decision of its first message (route, priority, tags); a later
message moves it only when it matches a rule of higher priority (:func:`should_reroute`). The
decision is recorded with a conditional write naming the message that took it, so a redelivery
recognises its own routing and publishes again what it may not have published (the same envelope
ids: SQS drops them within five minutes, consumers dedupe on ``envelope_id`` beyond).

Every message goes to its conversation's route queue (group = conversation id); a rule with
``"escalate": true`` also puts the conversation on the escalation queue, once per conversation and rule.
Every message also moves the conversation's SLA timers (:mod:`chalicelib.sla.timers`) before its envelope
is published, so the envelope carries the due times; the customer's third contact on the same case within
24 hours escalates with the reason ``repeat_contact``, once per case.
What the message changed is reported on the conversation-events queue (conversations/lifecycle_worker.py),
in order: opened, reopened, routed/rerouted, then each escalation's ``escalated`` (emitted by
:func:`~chalicelib.conversations.escalation.escalate`, the one place every escalation goes through).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import timedelta

from chalicelib.adapters.observability import logger
from chalicelib.adapters.resources import QueueSpec, route_queue_spec
from chalicelib.adapters.sqs import Outgoing, SqsBus
from chalicelib.api.envelopes import routed_envelope
from chalicelib.conversations.escalation import REPEAT_CONTACT_REASON, escalate
from chalicelib.conversations.lifecycle import publish_lifecycle
from chalicelib.conversations.lifecycle_worker import reopen_by_customer, routing_events
from chalicelib.conversations.threading import Threaded
from chalicelib.core.errors import RetryableError
from chalicelib.core.model import Channel, Conversation
from chalicelib.core.ports import ConversationRepository
from chalicelib.core.routing_record import ConversationRouting
from chalicelib.core.timestamps import format_timestamp, parse_timestamp
from chalicelib.crisis.surge import CRISIS_ROUTE
from chalicelib.routing import (
    RoutingConfig,
    RoutingDecision,
    RoutingFacts,
    decide_route,
    priority_rank,
    should_reroute,
)
from chalicelib.sla import load_service_levels
from chalicelib.sla.timers import after_customer_message, mark_repeat_escalated, repeat_contact_due, sla_setup

IMMEDIATE_ESCALATION_LEVEL = 1
_SURGE_REASON = ": the message names the incident's keywords"
CRISIS_ESCALATED_TIERS = frozenset({"vip"})  # tiers whose crisis-tagged conversation escalates at once


@dataclass(frozen=True, slots=True)
class Routed:
    conversation: Conversation  # as it stands after this message
    applied: bool  # this message's decision is the conversation's routing (now, or by an earlier attempt)
    escalated: bool  # an escalation envelope was published


def route_threaded(
    threaded: Threaded, conversations: ConversationRepository, bus: SqsBus, config: RoutingConfig,
    *, surge_tag: str | None = None,
) -> Routed:
    """Decide, record (once), publish the routed envelope and, for an escalating rule, the escalation."""
    conversation, reopened = reopen_by_customer(threaded, conversations)
    message = threaded.message
    applied = conversation.routing is not None and conversation.routing.message_id == message.id
    if not applied:
        decision = decide_route(config, routing_facts(threaded, conversations))
        surge_moves = False
        if surge_tag is not None:  # an active incident's keywords: kept apart on the crisis route, tagged
            crisis_route = CRISIS_ROUTE in config.routes
            decision = replace(decision, route=CRISIS_ROUTE if crisis_route else decision.route,
                               tags=(*decision.tags, surge_tag), rule=decision.rule or surge_tag,
                               reason=surge_reason(surge_tag),
                               # a VIP caught by a crisis is escalated at once (reason: the rule, else the tag)
                               escalate=decision.escalate or threaded.customer.tier in CRISIS_ESCALATED_TIERS)
            # An open conversation routed before the incident moves to the crisis route too (never to a
            # lower priority); one already there with this incident's tag stays put.
            surge_moves = conversation.routing is not None and crisis_route and (
                conversation.route != CRISIS_ROUTE or surge_tag not in conversation.tags)
            if surge_moves and priority_rank(conversation.priority) > priority_rank(decision.priority):
                decision = replace(decision, priority=conversation.priority)
        if conversation.routing is None or surge_moves or should_reroute(conversation.priority, decision):
            recorded = conversations.record_routing(
                conversation.id,
                route=decision.route,
                priority=decision.priority,
                tags=_merged(conversation.tags if conversation.routing else (), decision.tags),
                routing=ConversationRouting(decision.rule, decision.reason, message.id, decision.escalate),
                surge_tag=surge_tag if surge_moves else None,
            )
            conversation = recorded or _reread(conversations, conversation.id)
            applied = recorded is not None
            _log_decision(decision, rerouted=threaded.conversation.routing is not None, applied=applied)
    timed = after_customer_message(conversations, conversation.id, message.created_at, sla_setup(config),
                                   known=conversation)  # as threading or the routing write just returned it
    conversation = timed.conversation if timed is not None else conversation
    bus.publish(
        _queue_of(conversation.route, config),
        Outgoing(routed_envelope(conversation, threaded.customer, message, opened=threaded.opened),
                 group_id=conversation.id, dedupe_id=message.id),
    )
    routing = conversation.routing
    escalated = applied and routing is not None and routing.escalate and routing.rule is not None
    # The routing's events first, then the escalations': their ``escalated`` events follow in the same group.
    publish_lifecycle(bus, routing_events(threaded, conversation, reopened=reopened, applied=applied,
                                          reason=surge_of(routing.reason if routing else None)))
    if escalated:
        assert routing is not None and routing.rule is not None
        escalate(bus, conversation, threaded.customer, reason=routing.rule, level=IMMEDIATE_ESCALATION_LEVEL,
                 at=message.created_at)
    if timed is not None and repeat_contact_due(timed.after):
        # Published before it is marked: a crash in between republishes the same envelope id on redelivery.
        escalate(bus, conversation, threaded.customer, reason=REPEAT_CONTACT_REASON, level=IMMEDIATE_ESCALATION_LEVEL,
                 at=message.created_at)
        mark_repeat_escalated(conversations, conversation.id, sla_setup(config))
        escalated = True
    return Routed(conversation, applied, escalated)


def surge_reason(surge_tag: str) -> str:
    """The routing reason of a message an active incident's keywords caught (``incident:<id>: ...``)."""
    return f"{surge_tag}{_SURGE_REASON}"


def surge_of(reason: str | None) -> str | None:
    """The incident tag a routing reason names, when an incident's keywords routed the conversation: the
    ``reason`` of its routed/rerouted event, read from what was recorded (a redelivery publishes the same)."""
    return reason.removesuffix(_SURGE_REASON) if reason and reason.endswith(_SURGE_REASON) else None


def routing_facts(threaded: Threaded, conversations: ConversationRepository) -> RoutingFacts:
    """What the rules may look at, from what threading read: the event, the customer, the clock of the
    message's arrival (a redelivery an hour later decides as the first attempt would have)."""
    event, customer = threaded.event, threaded.customer
    metadata = event.metadata
    received = parse_timestamp(threaded.message.created_at)
    sender_language = event.sender.language if event.sender else None
    return RoutingFacts(
        channel=event.channel,
        text=event.text,
        subject=metadata.get("subject"),
        public=metadata.get("public") == "true",
        language=customer.language or sender_language,
        tier=customer.tier,
        customer_tags=customer.tags,
        mailbox=(metadata.get("mailbox") or metadata.get("to")) if event.channel is Channel.EMAIL else None,
        business_hours=load_service_levels().calendar.is_open(received),
        recent_conversations=_recent_conversations(conversations, customer.id, threaded.message.created_at,
                                                   threaded.conversation),
        consent=customer.consent.get(event.channel.value),
    )


def _recent_conversations(
    conversations: ConversationRepository, customer_id: str, now: str, current: Conversation
) -> Callable[[int], int]:
    """The customer's conversations opened within ``days`` before ``now``, this one included; asked only
    when a rule gets as far as ``repeat_contact``. Newest first, stopping at the first older one; the
    message's own conversation is the one threading returned (its creation time never changes)."""

    def within(days: int) -> int:
        since = format_timestamp(parse_timestamp(now) - timedelta(days=days))
        found = 0
        for conversation_id in reversed(conversations.customer_conversation_ids(customer_id)):
            conversation = current if conversation_id == current.id else conversations.get(conversation_id)
            if conversation is None:
                continue
            if conversation.created_at < since:
                break
            found += 1
        return found

    return within


def _queue_of(route: str, config: RoutingConfig) -> QueueSpec:
    try:
        return route_queue_spec(route, config)
    except KeyError:  # a route the configuration no longer has: its conversations still reach someone
        logger.warning("route not configured; publishing on the default route", extra={"route": route})
        return route_queue_spec(config.default.route, config)


def _merged(kept: tuple[str, ...], added: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*kept, *added)))


def _reread(conversations: ConversationRepository, conversation_id: str) -> Conversation:
    conversation = conversations.get(conversation_id, consistent=True)
    if conversation is None:
        raise RetryableError(f"conversation {conversation_id} is not readable yet")
    return conversation


def _log_decision(decision: RoutingDecision, *, rerouted: bool, applied: bool) -> None:
    logger.info(
        "conversation rerouted" if rerouted else "conversation routed",
        extra={"route": decision.route, "priority": decision.priority.value, "rule": decision.rule,
               "applied": applied, "escalate": decision.escalate},
    )
