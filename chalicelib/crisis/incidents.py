"""The crisis API's use cases: create (or dry-run), post an update, cancel, show and list incidents."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from chalicelib.adapters.resources import BROADCAST_QUEUE
from chalicelib.adapters.sqs import Outgoing
from chalicelib.api.reply_body import validated_idempotency_key
from chalicelib.core.errors import Conflict, IdempotencyKeyReused, NotFound
from chalicelib.core.incident import Incident, IncidentUpdate
from chalicelib.core.timestamps import parse_timestamp, utc_now
from chalicelib.crisis.dry_run import dry_run
from chalicelib.crisis.ports import BROADCAST_SCHEMA, CrisisPorts
from chalicelib.crisis.requests import validated_incident, validated_update

IDEMPOTENCY_SCOPE = "crisis"
MAX_LISTED = 100


def create_incident(ports: CrisisPorts, body: Any, *, idempotency_key: str | None = None) -> tuple[dict[str, Any], int]:
    """``201`` with the incident and its first update (planned for broadcast), or ``200`` with the
    dry run's count; the same ``Idempotency-Key`` again returns the same incident, sending nothing new."""
    request = validated_incident(body)
    key = validated_idempotency_key(idempotency_key)
    if request.dry_run:
        return dry_run(ports, request.audience), 200
    now = utc_now()
    if key:
        first = ports.repos.idempotency.remember(IDEMPOTENCY_SCOPE, key, now, request.fingerprint)
        if first.fingerprint != request.fingerprint:
            raise IdempotencyKeyReused("this Idempotency-Key was used for a different incident")
        now = first.created_at
    incident = Incident(
        id=_time_ordered_id("inc", now, key), title=request.title, status=request.first.status,
        keywords=request.keywords, audience=request.audience, created_at=now, updated_at=now,
    )
    ports.store.create_incident(incident)
    stored = ports.store.get_incident(incident.id) or incident
    update = IncidentUpdate(stored.id, first_update_id(stored.id), request.first.status,
                            request.first.message, now)
    _add_and_plan(ports, update)
    return stored.to_api(tuple(ports.store.updates(stored.id))), 201


def post_update(
    ports: CrisisPorts, incident_id: str, body: Any, *, idempotency_key: str | None = None
) -> tuple[dict[str, Any], int]:
    """``202`` with the update: the same audience, plus customers who wrote in with the keywords since."""
    request = validated_update(body)
    key = validated_idempotency_key(idempotency_key)
    incident = _incident(ports, incident_id)
    now = utc_now()
    if key:
        first = ports.repos.idempotency.remember(f"{IDEMPOTENCY_SCOPE}-{incident.id}", key, now, request.fingerprint)
        if first.fingerprint != request.fingerprint:
            raise IdempotencyKeyReused("this Idempotency-Key was used for a different update")
        now = first.created_at
    update_id = _time_ordered_id("upd", now, f"{incident.id}:{key}" if key else None)
    if ports.store.get_update(incident.id, update_id) is None and incident.cancelled_at is not None:
        raise Conflict("the incident was cancelled: open a new one")
    update = IncidentUpdate(incident.id, update_id, request.status, request.message, now)
    _add_and_plan(ports, update)
    ports.store.set_incident_status(incident.id, request.status.value, now)
    stored = ports.store.get_update(incident.id, update_id) or update
    return stored.to_api(), 202


def cancel_incident(ports: CrisisPorts, incident_id: str) -> dict[str, Any]:
    """Stop sending: every worker checks once per batch; recipients not yet sent are counted cancelled."""
    incident = _incident(ports, incident_id)
    ports.store.cancel_incident(incident.id, utc_now())
    return show_incident(ports, incident.id)


def show_incident(ports: CrisisPorts, incident_id: str) -> dict[str, Any]:
    incident = _incident(ports, incident_id)
    return incident.to_api(tuple(ports.store.updates(incident.id)))


def list_incidents(ports: CrisisPorts, params: Any = None) -> dict[str, Any]:
    """Active incidents first, newest first within each group."""
    incidents = ports.store.list_incidents(MAX_LISTED)
    ordered = sorted(incidents, key=lambda i: (not i.active, _negated(i.created_at)))
    return {"items": [i.to_api() for i in ordered]}


def plan_job(incident_id: str, update_id: str) -> Outgoing:
    body = {"schema": BROADCAST_SCHEMA, "type": "plan", "incident_id": incident_id, "update_id": update_id}
    return Outgoing(body, group_id=incident_id, dedupe_id=f"plan-{update_id}")


def _add_and_plan(ports: CrisisPorts, update: IncidentUpdate) -> None:
    ports.store.add_update(update)
    # Queued again on a retried request unless planned: a request that died before queueing it is
    # finished by its retry; a second planner is harmless (the cursor and recipients are conditional).
    if not ports.store.plan_state(update.incident_id, update.id).done:
        ports.bus.publish_batch(BROADCAST_QUEUE, [plan_job(update.incident_id, update.id)])


def first_update_id(incident_id: str) -> str:
    """The update that comes with the incident: its id follows from the incident's."""
    return "upd-" + incident_id.removeprefix("inc-")


def _incident(ports: CrisisPorts, incident_id: str) -> Incident:
    if not isinstance(incident_id, str) or not 0 < len(incident_id) <= 100 or not incident_id.isascii():
        raise NotFound("no such incident")
    incident = ports.store.get_incident(incident_id)
    if incident is None:
        raise NotFound("no such incident")
    return incident


def _time_ordered_id(prefix: str, at: str, key: str | None) -> str:
    """Ids sort by creation; with an Idempotency-Key the same key and time give the same id."""
    moment = parse_timestamp(at).strftime("%Y%m%dT%H%M%S%f")
    suffix = hashlib.sha256(key.encode()).hexdigest()[:10] if key else secrets.token_hex(5)
    return f"{prefix}-{moment}-{suffix}"


def _negated(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)
