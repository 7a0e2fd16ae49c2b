"""Conversations on the single table, listed by status (gsi1) or by customer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters.cursors import CursorCodec, start_key, whole_number
from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.items import (
    conversation_attributes,
    conversation_from_item,
    message_from_item,
    sla_attributes,
)
from chalicelib.adapters.dynamo.table import Table, from_item, to_item
from chalicelib.adapters.listing import MAX_PAGE, customer_listing
from chalicelib.core.errors import Conflict, NotFound
from chalicelib.core.model import Conversation, ConversationStatus, Message, Priority
from chalicelib.core.records import Page
from chalicelib.core.routing_record import ConversationRouting, SupportAssignment
from chalicelib.core.sla_record import StoredSla

_INDEX_KEY_NAMES = ("pk", "sk", "gsi1pk", "gsi1sk")


class DynamoConversations:
    def __init__(self, table: Table, cursors: CursorCodec) -> None:
        self._table = table
        self._cursors = cursors

    def create(self, conversation: Conversation) -> bool:
        created = self._table.put_if_absent(
            {**keys.conversation(conversation.id), "type": "conversation", **conversation_attributes(conversation)}
        )
        self._table.put_if_absent(
            {
                **keys.customer_conversation(conversation.customer_id, conversation.created_at, conversation.id),
                "type": "customer_conversation",
                "conversation_id": conversation.id,
            }
        )
        return created

    def get(self, conversation_id: str, *, consistent: bool = False) -> Conversation | None:
        item = self._table.get(keys.conversation(conversation_id), consistent=consistent)
        return None if item is None else conversation_from_item(item)

    def get_with_messages(self, conversation_id: str) -> tuple[Conversation, list[Message]] | None:
        conversation: Conversation | None = None
        messages: list[Message] = []
        meta_sort_key = keys.conversation(conversation_id)["sk"]
        for item in self._table.query(
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_item({":pk": keys.conversation_partition(conversation_id)}),
        ):
            if item["sk"] == meta_sort_key:
                conversation = conversation_from_item(item)
            elif keys.is_message_sort_key(item["sk"]):
                messages.append(message_from_item(item))
        return None if conversation is None else (conversation, messages)

    def record_inbound_activity(self, conversation_id: str, at: str) -> Conversation | None:
        """Move ``last_inbound_at``/``updated_at`` forward, never back (a late retry changes nothing);
        the new image when it moved (the worker need not read the conversation again)."""
        index = keys.status_index("", at, conversation_id)
        try:
            response = self._table.call(
                "update_item",
                Key=to_item(keys.conversation(conversation_id)),
                UpdateExpression="SET last_inbound_at = :t, updated_at = :t, gsi1sk = :g",
                ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(last_inbound_at) "
                "OR last_inbound_at < :t)",
                ExpressionAttributeValues=to_item({":t": at, ":g": index["gsi1sk"]}),
                ReturnValues="ALL_NEW",
            )
        except ClientError:  # only a failed condition gets here: the table re-raises nothing else
            return None
        return conversation_from_item(from_item(response["Attributes"]))

    def record_thread_owner(self, conversation_id: str, owner: str, at: str) -> bool:
        return self._table.update(
            keys.conversation(conversation_id),
            UpdateExpression="SET thread_owner = :o, thread_owner_at = :t",
            ConditionExpression="attribute_exists(pk) AND (attribute_not_exists(thread_owner_at) "
            "OR thread_owner_at < :t)",
            ExpressionAttributeValues=to_item({":o": owner, ":t": at}),
        )

    def set_status(
        self,
        conversation_id: str,
        status: ConversationStatus,
        at: str,
        *,
        expected: Sequence[ConversationStatus] | None = None,
        event_id: str | None = None,
    ) -> Conversation:
        index = keys.status_index(status.value, at, conversation_id)
        values: dict[str, Any] = {":s": status.value, ":t": at, ":g": index["gsi1pk"], ":k": index["gsi1sk"]}
        update = "SET #s = :s, updated_at = :t, gsi1pk = :g, gsi1sk = :k"
        if event_id is not None:
            update += ", status_event_id = :e, status_changed_at = :t"
            values[":e"] = event_id
        update += ", resolved_at = :t" if status is ConversationStatus.RESOLVED else " REMOVE resolved_at"
        condition = "attribute_exists(pk)"
        if expected is not None:
            names = [f":from{i}" for i in range(len(expected))]
            values.update({name: state.value for name, state in zip(names, expected, strict=True)})
            condition += f" AND #s IN ({', '.join(names)})" if names else " AND attribute_not_exists(pk)"
        try:
            response = self._table.call(
                "update_item",
                Key=to_item(keys.conversation(conversation_id)),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as err:  # only a failed condition gets here: the table re-raises nothing else
            if expected is not None and self.get(conversation_id, consistent=True) is not None:
                raise Conflict(f"conversation {conversation_id} is not {' or '.join(expected)}") from err
            raise NotFound(f"no conversation {conversation_id}") from err
        return conversation_from_item(from_item(response["Attributes"]))

    def record_routing(
        self,
        conversation_id: str,
        *,
        route: str,
        priority: Priority,
        tags: Sequence[str],
        routing: ConversationRouting,
        surge_tag: str | None = None,
    ) -> Conversation | None:
        """First routing: none recorded yet. A re-route: a strictly higher priority rank than the stored
        one, so the same decision (a redelivery) never applies twice and racing ones apply once each way up."""
        values: dict[str, Any] = {
            ":route": route, ":priority": priority.value, ":rank": priority.rank, ":rule": routing.rule,
            ":reason": routing.reason, ":by": routing.message_id, ":escalate": routing.escalate,
        }
        update = ("SET #route = :route, #priority = :priority, priority_rank = :rank, routing_reason = :reason, "
                  "routed_by = :by, routing_escalate = :escalate")
        update += ", routing_rule = :rule" if routing.rule is not None else ""
        update += ", #tags = :tags" if tags else ""
        removed = [name for name, absent in (("routing_rule", routing.rule is None), ("#tags", not tags)) if absent]
        update += f" REMOVE {', '.join(removed)}" if removed else ""
        if tags:
            values[":tags"] = list(tags)
        # An incident's keywords move a routed conversation to the crisis route once: not when it is there
        # with the tag already (a second message, a racing worker).
        surge = " OR #route <> :route OR NOT contains(#tags, :surge)" if surge_tag else ""
        if surge_tag:
            values[":surge"] = surge_tag
        try:
            response = self._table.call(
                "update_item",
                Key=to_item(keys.conversation(conversation_id)),
                UpdateExpression=update,
                ConditionExpression="attribute_exists(pk) AND "
                f"(attribute_not_exists(routed_by) OR priority_rank < :rank{surge})",
                ExpressionAttributeNames={"#route": "route", "#priority": "priority", "#tags": "tags"},
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_NEW",
            )
        except ClientError:  # only a failed condition gets here: the table re-raises nothing else
            return None
        return conversation_from_item(from_item(response["Attributes"]))

    def record_sla(
        self, conversation_id: str, sla: StoredSla, *, route: str | None = None, priority: Priority | None = None
    ) -> Conversation | None:
        """Write the timers (and, for a ladder's re-route, the route and priority) if the stored revision is
        still ``sla.revision - 1``; None when it is not (another writer came first) or the conversation is gone."""
        written = sla_attributes(conversation_id, sla)
        values = {name: value for name, value in written.items() if value is not None}
        cleared = [name for name in (*written, *keys.SLA_INDEX_ATTRIBUTES) if name not in values]
        names = {"#" + name: name for name in (*values, *cleared)}
        update = "SET " + ", ".join(f"#{name} = :{name}" for name in values)
        if route is not None:
            names["#route"], values["route"] = "route", route
            update += ", #route = :route"
        if priority is not None:
            names["#priority"], values["priority"] = "priority", priority.value
            values["priority_rank"] = priority.rank
            update += ", #priority = :priority, priority_rank = :priority_rank"
        update += f" REMOVE {', '.join('#' + name for name in dict.fromkeys(cleared))}" if cleared else ""
        expected = sla.revision - 1
        condition = "attribute_exists(pk) AND " + (
            "attribute_not_exists(sla_rev)" if expected == 0 else "sla_rev = :expected_rev"
        )
        if expected:
            values["expected_rev"] = expected
        try:
            response = self._table.call(
                "update_item",
                Key=to_item(keys.conversation(conversation_id)),
                UpdateExpression=update,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item({f":{name}": value for name, value in values.items()}),
                ReturnValues="ALL_NEW",
            )
        except ClientError:  # only a failed condition gets here: the table re-raises nothing else
            return None
        return conversation_from_item(from_item(response["Attributes"]))

    def sla_attention_due(self, now: str, limit: int) -> list[str]:
        """Conversations with an SLA level due at or before ``now``, earliest first (the sparse index)."""
        response = self._table.call(
            "query",
            IndexName="gsi_sla",
            KeyConditionExpression="sla_pk = :pk AND sla_sk <= :through",
            ExpressionAttributeValues=to_item(
                {":pk": keys.SLA_INDEX_PARTITION, ":through": keys.sla_index_through(now)}
            ),
            ProjectionExpression="sla_sk",
            Limit=max(1, limit),
        )
        return [keys.conversation_id_of_sla_key(from_item(item)["sla_sk"]) for item in response.get("Items", [])]

    def assign(
        self,
        conversation_id: str,
        *,
        route: str,
        priority: Priority,
        routing: ConversationRouting,
        assignment: SupportAssignment,
    ) -> Conversation:
        """Unconditional but for existence: support decides; ``priority_rank`` keeps re-routes upwards."""
        values: dict[str, Any] = {
            ":route": route, ":priority": priority.value, ":rank": priority.rank, ":reason": routing.reason,
            ":by": routing.message_id, ":escalate": False, ":at": assignment.at,
            ":from_route": assignment.previous_route, ":from_priority": assignment.previous_priority,
        }
        update = ("SET #route = :route, #priority = :priority, priority_rank = :rank, routing_reason = :reason, "
                  "routed_by = :by, routing_escalate = :escalate, assigned_at = :at, "
                  "assigned_from_route = :from_route, assigned_from_priority = :from_priority REMOVE routing_rule")
        try:
            response = self._table.call(
                "update_item",
                Key=to_item(keys.conversation(conversation_id)),
                UpdateExpression=update,
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#route": "route", "#priority": "priority"},
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as err:  # only a failed condition gets here: the table re-raises nothing else
            raise NotFound(f"no conversation {conversation_id}") from err
        return conversation_from_item(from_item(response["Attributes"]))

    def customer_conversation_ids(self, customer_id: str) -> list[str]:
        items = self._table.query(
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=to_item(
                {":pk": keys.customer_partition(customer_id), ":prefix": keys.Prefix.CONVERSATION.value}
            ),
            ProjectionExpression="conversation_id",
        )
        return [item["conversation_id"] for item in items]

    def list(
        self,
        *,
        status: ConversationStatus | None,
        route: str | None,
        customer_id: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page:
        limit = max(1, min(limit, MAX_PAGE))
        if customer_id:
            return self._list_for_customer(customer_id, status, route, limit, cursor)
        statuses = [status] if status else list(ConversationStatus)
        query = f"status={status or ''}&route={route or ''}"
        state = self._cursors.decode(query, cursor) if cursor else {"s": 0}
        index = whole_number(state, "s", low=0, high=len(statuses) - 1)
        exclusive = start_key(state, _INDEX_KEY_NAMES)
        found: list[dict[str, Any]] = []
        while index < len(statuses) and len(found) < limit:
            kwargs: dict[str, Any] = {
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :pk",
                "ExpressionAttributeValues": to_item({":pk": keys.status_partition(statuses[index].value)}),
                "ScanIndexForward": False,
                "Limit": limit - len(found),
            }
            if route:
                kwargs["FilterExpression"] = "#r = :route"
                kwargs["ExpressionAttributeNames"] = {"#r": "route"}
                kwargs["ExpressionAttributeValues"].update(to_item({":route": route}))
            if exclusive:
                kwargs["ExclusiveStartKey"] = exclusive
            response = self._table.call("query", **kwargs)
            found.extend(conversation_from_item(from_item(i)).to_api() for i in response.get("Items", []))
            exclusive = response.get("LastEvaluatedKey")
            if not exclusive:
                index += 1
        more = index < len(statuses)
        return Page(found, self._cursors.encode(query, {"s": index, "k": exclusive}) if more else None)

    def _list_for_customer(
        self, customer_id: str, status: ConversationStatus | None, route: str | None, limit: int, cursor: str | None
    ) -> Page:
        return customer_listing(
            customer_id, self.customer_conversation_ids(customer_id), self.get,
            status=status, route=route, limit=limit, cursor=cursor, cursors=self._cursors,
        )
