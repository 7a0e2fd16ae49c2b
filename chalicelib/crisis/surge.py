"""The inbound surge: while an incident is active, a new message with its keywords is tagged
``incident:<id>``, acknowledged with the latest status line (the acknowledgment policy's crisis
template) and routed to the ``crisis`` route when the routing configuration has one.

The active incidents and their latest updates are read at most every ten seconds per container (a handful of
items in one partition), not once per message.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from chalicelib.core.incident import Incident, IncidentUpdate
from chalicelib.core.ports import CrisisStore
from chalicelib.crisis.audience import matches_keywords, message_language

CRISIS_ROUTE = "crisis"
_CACHE_SECONDS = 10.0
_cache: dict[int, tuple[float, list[tuple[Incident, IncidentUpdate]]]] = {}


@dataclass(frozen=True, slots=True)
class SurgeMatch:
    incident_id: str
    tag: str
    status_line: str


def match_surge(
    active: list[tuple[Incident, IncidentUpdate]], text: str | None, language: str | None, fallback: str
) -> SurgeMatch | None:
    """The newest active incident whose keywords the text contains, with its latest status line (pure)."""
    for incident, latest in active:
        if incident.active and matches_keywords(text, incident.keywords):
            chosen = message_language(language, tuple(latest.message), fallback)
            return SurgeMatch(incident.id, f"incident:{incident.id}", latest.message[chosen])
    return None


def active_incidents(store: CrisisStore, now: float | None = None) -> list[tuple[Incident, IncidentUpdate]]:
    moment = time.time() if now is None else now
    cached = _cache.get(id(store))
    if cached is not None and moment - cached[0] < _CACHE_SECONDS:
        return cached[1]
    found = []
    for incident in store.list_incidents(20):
        if incident.active and incident.keywords:
            updates = store.updates(incident.id)
            if updates:
                found.append((incident, updates[-1]))
    _cache[id(store)] = (moment, found)
    return found


def surge_for(store: CrisisStore | None, threaded: Any, fallback: str) -> SurgeMatch | None:
    """The surge match of a threaded inbound message, recording the customer as a keyword contact
    (the incident's next update reaches them)."""
    if store is None:
        return None
    match = match_surge(active_incidents(store), threaded.event.text, threaded.customer.language, fallback)
    if match is not None:
        store.record_keyword_contact(match.incident_id, threaded.customer.id, threaded.message.created_at)
    return match


def clear_surge_cache() -> None:
    _cache.clear()


def current_status_line(store: CrisisStore, language: str | None, fallback: str) -> str | None:
    """The latest update's status line of the newest active incident, in ``language`` (else the fallback):
    what a caller hears about while a crisis runs (Amazon Connect's ``crisis_status``); None: no crisis."""
    for incident in store.list_incidents(20):
        if incident.active:
            updates = store.updates(incident.id)
            if updates:
                latest = updates[-1]
                return latest.message[message_language(language, tuple(latest.message), fallback)]
    return None
