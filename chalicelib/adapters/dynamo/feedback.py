"""Surveys on the single table: one item per conversation, a pointer per customer, a due list.

The due list is read from a cursor (how far the scheduler has sent) to now, in due order; a sent
survey moves the cursor past it, so the list needs no delete (only the sender deletes items) and its
entries expire by TTL.
"""

from __future__ import annotations

from typing import Any

from chalicelib.adapters.dynamo import keys
from chalicelib.adapters.dynamo.table import Table, to_item
from chalicelib.core.feedback_record import FeedbackRecord
from chalicelib.core.timestamps import parse_timestamp

DUE_RETENTION_SECONDS = 8 * 24 * 3600  # a week's delay at most, then a day to send it
_FIELDS = ("customer_id", "kind", "channel", "route", "asked_at", "language", "sent", "delayed", "score", "comment",
           "answered_at", "answer_message_id", "comment_message_id")


def record_of(conversation_id: str, item: dict[str, Any]) -> FeedbackRecord:
    """The one mapping from a stored item to a record."""
    score = item.get("score")
    return FeedbackRecord(
        conversation_id=conversation_id,
        customer_id=str(item["customer_id"]),
        kind=str(item["kind"]),
        channel=str(item["channel"]),
        route=str(item.get("route") or "default"),
        asked_at=str(item["asked_at"]),
        language=item.get("language"),
        sent=bool(item.get("sent")),
        delayed=bool(item.get("delayed")),
        score=None if score is None else int(score),
        comment=item.get("comment"),
        answered_at=item.get("answered_at"),
        answer_message_id=item.get("answer_message_id"),
        comment_message_id=item.get("comment_message_id"),
    )


class DynamoFeedback:
    def __init__(self, table: Table) -> None:
        self._table = table

    def claim_customer_survey(self, customer_id: str, conversation_id: str, at: str, since: str | None) -> bool:
        item = to_item({**keys.customer_survey(customer_id), "conversation_id": conversation_id, "asked_at": at})
        if since is None:  # no limit: the pointer only says which survey is the latest
            self._table.call("put_item", Item=item)
            return True
        return self._table.conditionally(
            "put_item", Item=item,
            ConditionExpression="attribute_not_exists(pk) OR conversation_id = :me OR asked_at <= :since",
            ExpressionAttributeValues=to_item({":me": conversation_id, ":since": since}),
        )

    def customer_survey(self, customer_id: str) -> str | None:
        item = self._table.get(keys.customer_survey(customer_id), consistent=True)
        return str(item["conversation_id"]) if item else None

    def create(self, record: FeedbackRecord, *, due: bool) -> bool:
        values = {name: getattr(record, name) for name in _FIELDS}
        if not self._table.put_if_absent({**keys.feedback(record.conversation_id), **values}):
            return False
        if due and record.delayed:
            expires_at = int(parse_timestamp(record.asked_at).timestamp()) + DUE_RETENTION_SECONDS
            self._table.call("put_item", Item=to_item(
                {**keys.survey_due(record.asked_at, record.conversation_id), "conversation_id": record.conversation_id,
                 "expires_at": expires_at}
            ))
        return True

    def get(self, conversation_id: str) -> FeedbackRecord | None:
        item = self._table.get(keys.feedback(conversation_id), consistent=True)
        return record_of(conversation_id, item) if item else None

    def mark_sent(self, record: FeedbackRecord) -> None:
        self._table.call("update_item", Key=to_item(keys.feedback(record.conversation_id)),
                         UpdateExpression="SET sent = :t", ExpressionAttributeValues=to_item({":t": True}))
        if record.delayed:  # the scheduler's cursor moves past it (never back)
            position = keys.survey_due_sort_key(record.asked_at, record.conversation_id)
            self._table.update(
                keys.survey_due_cursor(), UpdateExpression="SET #p = :p",
                ConditionExpression="attribute_not_exists(#p) OR #p < :p",
                ExpressionAttributeNames={"#p": "position"}, ExpressionAttributeValues=to_item({":p": position}),
            )

    def due(self, now: str, limit: int) -> list[str]:
        cursor = self._table.get(keys.survey_due_cursor(), consistent=True)
        after = str(cursor["position"]) if cursor else ""
        found: list[str] = []
        for item in self._table.query(
            KeyConditionExpression="pk = :p AND sk BETWEEN :after AND :through",
            ExpressionAttributeValues=to_item({":p": keys.SURVEY_DUE_PARTITION, ":after": after or "0",
                                               ":through": keys.survey_due_through(now)}),
            Limit=limit + 1,
        ):
            if str(item["sk"]) == after:
                continue  # the cursor's own position was sent
            found.append(keys.conversation_id_of_survey_due(str(item["sk"])))
            if len(found) >= limit:
                break
        return found

    def record_answer(
        self, conversation_id: str, *, score: int, comment: str | None, at: str, message_id: str
    ) -> bool:
        values: dict[str, Any] = {":score": score, ":at": at, ":mid": message_id}
        update = "SET score = :score, answered_at = :at, answer_message_id = :mid"
        if comment:
            update += ", #c = :comment, comment_message_id = :mid"
            values[":comment"] = comment
        return self._table.update(
            keys.feedback(conversation_id),
            UpdateExpression=update,
            ConditionExpression="attribute_exists(pk) AND attribute_not_exists(score)",
            ExpressionAttributeValues=to_item(values),
            **({"ExpressionAttributeNames": {"#c": "comment"}} if comment else {}),
        )

    def record_comment(self, conversation_id: str, *, comment: str, message_id: str) -> bool:
        return self._table.update(
            keys.feedback(conversation_id),
            UpdateExpression="SET #c = :comment, comment_message_id = :mid",
            ConditionExpression="attribute_exists(score) AND attribute_not_exists(#c)",
            ExpressionAttributeNames={"#c": "comment"},
            ExpressionAttributeValues=to_item({":comment": comment, ":mid": message_id}),
        )
