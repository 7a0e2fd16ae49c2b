"""Amazon Connect's doors: the contact flow's Lambda invocation and EventBridge contact events.

:func:`answer_contact_flow` is what a flow's "Invoke AWS Lambda function" block gets back within
Connect's 8 seconds: a flat map of strings (``STRING_MAP`` validation) describing the caller: name,
language, tier, open case reference, whether a crisis incident is active and its latest status line in
the caller's language, and the queue the routing rules suggest. It never raises: a flow whose Lambda
fails takes its error branch, so anything unreadable or unavailable yields the unknown caller's answer.
On the way it stores the call as an inbox event (the conversation worker folds it into the call's
message, as for Twilio and Vonage). :func:`store_contact_event` stores the ``Amazon Connect Contact
Event`` that completes that message (agent connected, disconnected, recording location).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from chalicelib.adapters.observability import count, logger
from chalicelib.conversations.callers import find_caller
from chalicelib.core.calendar import BusinessCalendar
from chalicelib.core.errors import OmnihubError
from chalicelib.core.model import Channel, InboundEvent
from chalicelib.core.ports import CrisisStore, Repositories
from chalicelib.core.timestamps import format_timestamp
from chalicelib.crisis.surge import current_status_line
from chalicelib.providers.base import PayloadError
from chalicelib.providers.connect import (
    CallerLookup,
    flow_attributes,
    invocation_event,
    parse_contact_event,
    parse_invocation,
)
from chalicelib.routing import RoutingConfig, RoutingFacts, decide_route

FLOW_ENDPOINT = "contact_flow"  # the inbox items' endpoint (there is no webhook)
CONTACT_EVENTS_ENDPOINT = "contact_events"
MAX_EVENT_BYTES = 64 * 1024  # a flow's event is a few KB; anything larger is not one
MAX_CONTACT_EVENT_BYTES = 256 * 1024  # EventBridge's own limit: a larger "event" is not one (nor storable inline)


def _store(repos: Repositories, event: InboundEvent, endpoint: str, raw: Mapping[str, Any], received_at: str) -> bool:
    body = json.dumps(raw, ensure_ascii=False, default=str).encode("utf-8", "replace")
    return repos.inbox.put(event, endpoint=endpoint, received_at=received_at, raw_body=body,
                           content_type="application/json")


def answer_contact_flow(
    raw: Any,
    repos: Repositories,
    routing: Callable[[], RoutingConfig],
    calendar: Callable[[], BusinessCalendar],
    now: datetime | None = None,
    crisis: Callable[[], tuple[CrisisStore, str]] | None = None,
) -> dict[str, str]:
    """The flow's answer; the call stored on the way (best effort: the answer comes first)."""
    moment = now or datetime.now(UTC)
    try:
        if len(json.dumps(raw, default=str)) > MAX_EVENT_BYTES:
            raise PayloadError("the invocation event is too large")
        invocation = parse_invocation(raw)
    except (PayloadError, TypeError, ValueError) as err:
        logger.warning("contact flow invocation unreadable", extra={"error": type(err).__name__})
        return flow_attributes(None)
    try:
        _store(repos, invocation_event(invocation, format_timestamp(moment)), FLOW_ENDPOINT, raw,
               format_timestamp(moment))
    except Exception as err:  # the caller still gets through the flow; EventBridge events complete the call
        count("ContactFlowCallUnstored", channel=Channel.VOICE.value)
        logger.error("contact flow call not stored", extra={"error": type(err).__name__})
    lookup, facts = CallerLookup(), RoutingFacts(channel=Channel.VOICE)
    try:
        caller = find_caller(repos, invocation.caller) if invocation.caller is not None else None
        if caller is not None:
            customer = caller.customer
            lookup = CallerLookup(known=True, customer_name=customer.name, language=customer.language,
                                  tier=customer.tier, reference=caller.reference)
            facts = RoutingFacts(channel=Channel.VOICE, language=customer.language, tier=customer.tier,
                                 customer_tags=customer.tags, consent=customer.consent.get(Channel.VOICE.value))
    except Exception as err:  # the store is unavailable: the unknown caller's answer
        logger.warning("contact flow caller lookup failed", extra={"error": type(err).__name__})
    try:
        if crisis is not None:  # the incidents' store and the fallback language
            store, fallback = crisis()
            line = current_status_line(store, lookup.language, fallback)
            lookup = replace(lookup, crisis_active=line is not None, crisis_status=line or "")
    except Exception as err:  # the caller still gets an answer, without the crisis line
        logger.warning("contact flow crisis lookup failed", extra={"error": type(err).__name__})
    try:
        facts = replace(facts, business_hours=calendar().is_open(moment))
        route = decide_route(routing(), facts)
    except (OmnihubError, ValueError, TypeError) as err:
        logger.warning("contact flow routing unavailable", extra={"error": type(err).__name__})
        route = None
    return flow_attributes(lookup, route)


def store_contact_event(raw: Any, repos: Repositories, now: datetime | None = None) -> int:
    """Store an EventBridge contact event's CALL events; returns how many were new. A store failure raises
    (EventBridge retries the invocation); an event that is not the call's business is ignored."""
    try:
        if len(json.dumps(raw, default=str)) > MAX_CONTACT_EVENT_BYTES:
            raise PayloadError("the contact event is larger than EventBridge delivers")
        events = parse_contact_event(raw)
    except PayloadError as err:
        logger.warning("contact event ignored", extra={"reason": err.reason})
        return 0
    received = format_timestamp(now or datetime.now(UTC))
    return sum(1 for event in events if _store(repos, event, CONTACT_EVENTS_ENDPOINT, raw, received))
