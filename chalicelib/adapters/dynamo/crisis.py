"""Crisis incidents, updates, recipients and the audience index on the single table.

Progress counters are top-level numbers on the update item (``c#{counter}#{channel}`` and
``s#{reason}#{channel}`` for skips), added with ADD so concurrent workers never lose a count.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.customers import customer_from_item
from chalicelib.adapters.dynamo.table import Table, from_item, to_item
from chalicelib.core.errors import StoreUnavailable
from chalicelib.core.incident import (
    Audience,
    Incident,
    IncidentStatus,
    IncidentUpdate,
    PlanState,
    Progress,
    RecipientClaim,
)
from chalicelib.core.model import Customer

COUNT_PREFIX = "c#"
SKIP_PREFIX = "s#"
CLAIMED = "claimed"
_CUSTOMERS_INDEX = "gsi_customers"


class DynamoCrisis:
    def __init__(self, table: Table) -> None:
        self._table = table

    # ----------------------------------------------------------------- incidents
    def create_incident(self, incident: Incident) -> bool:
        return self._table.put_if_absent({**keys.incident(incident.id), "type": "incident", **_incident_item(incident)})

    def get_incident(self, incident_id: str) -> Incident | None:
        item = self._table.get(keys.incident(incident_id), consistent=True)
        return None if item is None else _incident(item)

    def list_incidents(self, limit: int) -> list[Incident]:
        items = self._table.query(
            KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
            ExpressionAttributeValues=to_item({":p": keys.INCIDENTS_PARTITION, ":s": keys.Prefix.INCIDENT.value}),
            ScanIndexForward=False,
        )
        found = []
        for item in items:
            found.append(_incident(item))
            if len(found) >= limit:
                break
        return found

    def set_incident_status(self, incident_id: str, status: str, at: str) -> None:
        self._table.update(
            keys.incident(incident_id),
            UpdateExpression="SET #s = :s, updated_at = :t",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues=to_item({":s": status, ":t": at}),
        )

    def cancel_incident(self, incident_id: str, at: str) -> bool:
        return self._table.update(
            keys.incident(incident_id),
            UpdateExpression="SET cancelled_at = :t, updated_at = :t",
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(cancelled_at)",
            ExpressionAttributeValues=to_item({":t": at}),
        )

    # ----------------------------------------------------------------- updates
    def add_update(self, update: IncidentUpdate) -> bool:
        return self._table.put_if_absent({
            **keys.incident_update(update.incident_id, update.id), "type": "incident_update",
            "id": update.id, "incident_id": update.incident_id, "status": update.status.value,
            "message": dict(update.message), "created_at": update.created_at,
            "plan_phase": "audience", "plan_cursor": "",
        })

    def get_update(self, incident_id: str, update_id: str) -> IncidentUpdate | None:
        item = self._table.get(keys.incident_update(incident_id, update_id), consistent=True)
        return None if item is None else _update(item)

    def updates(self, incident_id: str) -> list[IncidentUpdate]:
        items = self._table.query(
            KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
            ExpressionAttributeValues=to_item({":p": keys.incident_partition(incident_id),
                                               ":s": keys.Prefix.UPDATE.value}),
            ConsistentRead=True,
        )
        return [_update(item) for item in items]

    def plan_state(self, incident_id: str, update_id: str) -> PlanState:
        item = self._table.get(keys.incident_update(incident_id, update_id), consistent=True)
        if item is None:
            raise StoreUnavailable("the update to plan is not readable")
        return PlanState(str(item.get("plan_phase", "audience")), item.get("plan_cursor") or None)

    def advance_plan(
        self, incident_id: str, update_id: str, expected: PlanState, reached: PlanState,
        counts: Mapping[tuple[str, str], int], skipped: Mapping[tuple[str, str], int],
    ) -> bool:
        names: dict[str, str] = {}
        values: dict[str, Any] = {":ep": expected.phase, ":ec": expected.cursor or "",
                                  ":p": reached.phase, ":c": reached.cursor or ""}
        adds = []
        figures = [*_named(COUNT_PREFIX, counts), *_named(SKIP_PREFIX, skipped)]
        for index, ((what, channel), number) in enumerate(figures):
            names[f"#a{index}"] = f"{what}#{channel}"
            values[f":a{index}"] = number
            adds.append(f"#a{index} :a{index}")
        expression = "SET plan_phase = :p, plan_cursor = :c" + (" ADD " + ", ".join(adds) if adds else "")
        extra: dict[str, Any] = {"ExpressionAttributeNames": names} if names else {}
        return self._table.update(
            keys.incident_update(incident_id, update_id),
            UpdateExpression=expression,
            ConditionExpression="plan_phase = :ep AND plan_cursor = :ec",
            ExpressionAttributeValues=to_item(values),
            **extra,
        )

    # ----------------------------------------------------------------- recipients
    def claim_recipient(
        self, incident_id: str, update_id: str, customer_id: str, outbound_id: str, created_at: str
    ) -> RecipientClaim:
        key = keys.broadcast_recipient(incident_id, update_id, customer_id)
        if self._table.put_if_absent({**key, "type": "broadcast_recipient", "state": CLAIMED,
                                      "outbound_id": outbound_id, "created_at": created_at}):
            return RecipientClaim(True, CLAIMED, outbound_id, created_at)
        item = self._table.get(key, consistent=True)
        if item is None:
            raise StoreUnavailable("a recipient claim was lost and is unreadable")
        return RecipientClaim(False, str(item["state"]), str(item["outbound_id"]), str(item["created_at"]))

    def settle_recipient(
        self, incident_id: str, update_id: str, customer_id: str, state: str, channel: str,
        reason: str | None = None, at: str | None = None,
    ) -> bool:
        settled = self._table.update(
            keys.broadcast_recipient(incident_id, update_id, customer_id),
            UpdateExpression="SET #s = :s, channel = :c" + (", reason = :r" if reason else ""),
            ConditionExpression="#s = :claimed",
            ExpressionAttributeNames={"#s": "state"},
            ExpressionAttributeValues=to_item({":s": state, ":c": channel, ":claimed": CLAIMED, ":r": reason}),
        )
        if settled:
            counter = f"{SKIP_PREFIX}{reason}#{channel}" if state == "skipped" else counter_attribute(state, channel)
            self._table.update(
                keys.incident_update(incident_id, update_id),
                UpdateExpression="ADD #n :one" + (" SET last_sent_at = :t" if state == "sent" and at else ""),
                ExpressionAttributeNames={"#n": counter},
                ExpressionAttributeValues=to_item({":one": 1, ":t": at if state == "sent" else None}),
            )
        return settled

    # ----------------------------------------------------------------- the audience
    def audience_page(self, cursor: str | None, limit: int) -> tuple[list[Customer], str | None]:
        kwargs: dict[str, Any] = {
            "IndexName": _CUSTOMERS_INDEX, "Limit": limit,
            "KeyConditionExpression": "cust_pk = :p",
            "ExpressionAttributeValues": to_item({":p": keys.CUSTOMERS_INDEX_PARTITION}),
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = json.loads(cursor)
        response = self._table.call("query", **kwargs)
        customers = [customer_from_item(from_item(item)) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return customers, json.dumps(last, sort_keys=True) if last else None

    def audience_size(self) -> int | None:
        try:
            table = self._table.call("describe_table").get("Table", {})
        except StoreUnavailable:  # no DescribeTable permission, or a blip: the caller estimates otherwise
            return None
        index = next((i for i in table.get("GlobalSecondaryIndexes") or () if i.get("IndexName") == _CUSTOMERS_INDEX),
                     None)
        count = index.get("ItemCount") if index else None
        return int(count) if isinstance(count, int) and count > 0 else None

    def customers_by_id(self, customer_ids: Sequence[str]) -> list[Customer]:
        found: list[Customer] = []
        for start in range(0, len(customer_ids), 100):
            items = self._table.batch_get([keys.customer(c) for c in customer_ids[start : start + 100]])
            found += [customer_from_item(item) for item in items]
        return sorted(found, key=lambda c: (c.created_at, c.id))

    def record_keyword_contact(self, incident_id: str, customer_id: str, at: str) -> None:
        self._table.put_if_absent({**keys.incident_contact(incident_id, customer_id), "type": "incident_contact",
                                   "customer_id": customer_id, "created_at": at})

    def keyword_contacts_page(self, incident_id: str, cursor: str | None, limit: int) -> tuple[list[str], str | None]:
        kwargs: dict[str, Any] = {
            "Limit": limit, "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
            "ExpressionAttributeValues": to_item({":p": keys.incident_partition(incident_id),
                                                  ":s": keys.Prefix.CONTACT.value}),
        }
        if cursor:
            kwargs["ExclusiveStartKey"] = json.loads(cursor)
        response = self._table.call("query", **kwargs)
        ids = [item["customer_id"]["S"] for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return ids, json.dumps(last, sort_keys=True) if last else None


def counter_attribute(counter: str, channel: str) -> str:
    """The update item's attribute holding one progress counter of one channel."""
    return f"{COUNT_PREFIX}{counter}#{channel}"


def _named(prefix: str, figures: Mapping[tuple[str, str], int]) -> list[tuple[tuple[str, str], int]]:
    return [((f"{prefix}{what}", channel), n) for (what, channel), n in figures.items() if n]


def _incident_item(incident: Incident) -> dict[str, Any]:
    return {"id": incident.id, "title": incident.title, "status": incident.status.value,
            "keywords": list(incident.keywords), "audience": json.dumps(incident.audience.to_dict()),
            "created_at": incident.created_at, "updated_at": incident.updated_at}


def _incident(item: Mapping[str, Any]) -> Incident:
    return Incident(
        id=item["id"], title=item["title"], status=IncidentStatus(item["status"]),
        keywords=tuple(item.get("keywords") or ()), audience=Audience.from_dict(json.loads(item["audience"])),
        created_at=item["created_at"], updated_at=item["updated_at"], cancelled_at=item.get("cancelled_at"),
    )


def _update(item: Mapping[str, Any]) -> IncidentUpdate:
    counts: dict[tuple[str, str], int] = {}
    skipped: dict[tuple[str, str], int] = {}
    for name, value in item.items():
        if name.startswith(COUNT_PREFIX):
            what, _, channel = name.removeprefix(COUNT_PREFIX).partition("#")
            counts[(what, channel)] = int(value)
        elif name.startswith(SKIP_PREFIX):
            reason, _, channel = name.removeprefix(SKIP_PREFIX).partition("#")
            skipped[(reason, channel)] = int(value)
    progress = Progress(counts, skipped, item.get("last_sent_at"), item.get("plan_phase") == "done")
    return IncidentUpdate(item["incident_id"], item["id"], IncidentStatus(item["status"]), dict(item["message"]),
                          item["created_at"], progress)
