"""Surveys and KPI aggregates in memory: the same conditions as the DynamoDB repositories."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from chalicelib.adapters.memory.store import MemoryStore
from chalicelib.core.feedback_record import FeedbackRecord
from chalicelib.core.kpi_record import KpiCounts, KpiDimension


class MemoryFeedback:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def claim_customer_survey(self, customer_id: str, conversation_id: str, at: str, since: str | None) -> bool:
        with self.store.lock:
            held = self.store.customer_surveys.get(customer_id)
            if since is not None and held is not None and held[0] != conversation_id and held[1] > since:
                return False
            self.store.customer_surveys[customer_id] = (conversation_id, at)
            return True

    def customer_survey(self, customer_id: str) -> str | None:
        held = self.store.customer_surveys.get(customer_id)
        return held[0] if held else None

    def create(self, record: FeedbackRecord, *, due: bool) -> bool:
        with self.store.lock:
            if record.conversation_id in self.store.feedback:
                return False
            self.store.feedback[record.conversation_id] = record
            if due:
                self.store.surveys_due.add((record.asked_at, record.conversation_id))
            return True

    def get(self, conversation_id: str) -> FeedbackRecord | None:
        return self.store.feedback.get(conversation_id)

    def mark_sent(self, record: FeedbackRecord) -> None:
        with self.store.lock:
            held = self.store.feedback.get(record.conversation_id)
            if held is not None:
                self.store.feedback[record.conversation_id] = replace(held, sent=True)
            if record.delayed:
                position = (record.asked_at, record.conversation_id)
                self.store.survey_cursor["sent"] = max(self.store.survey_cursor.get("sent", position), position)

    def due(self, now: str, limit: int) -> list[str]:
        with self.store.lock:
            cursor = self.store.survey_cursor.get("sent")
            return [conversation for at, conversation in sorted(self.store.surveys_due)
                    if at <= now and (cursor is None or (at, conversation) > cursor)][:limit]

    def record_answer(
        self, conversation_id: str, *, score: int, comment: str | None, at: str, message_id: str
    ) -> bool:
        with self.store.lock:
            held = self.store.feedback.get(conversation_id)
            if held is None or held.score is not None:
                return False
            self.store.feedback[conversation_id] = replace(
                held, score=score, answered_at=at, answer_message_id=message_id,
                **({"comment": comment, "comment_message_id": message_id} if comment else {}),
            )
            return True

    def record_comment(self, conversation_id: str, *, comment: str, message_id: str) -> bool:
        with self.store.lock:
            held = self.store.feedback.get(conversation_id)
            if held is None or held.score is None or held.comment is not None:
                return False
            self.store.feedback[conversation_id] = replace(held, comment=comment, comment_message_id=message_id)
            return True


class MemoryKpis:
    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    def record(self, event_key: str, day: str, dimensions: Sequence[KpiDimension], counts: KpiCounts) -> bool:
        with self.store.lock:
            if event_key in self.store.kpi_events:
                return False
            self.store.kpi_events.add(event_key)
            additions = {name: int(value) for name, value in counts.items() if int(value)}
            for dimension in dimensions if additions else ():
                key = (dimension.kind, day, dimension.value)
                item = dict(self.store.kpis.get(key, {}))
                for name, value in additions.items():
                    item[name] = item.get(name, 0) + value
                self.store.kpis[key] = item
            return True

    def counted(self, event_key: str) -> bool:
        return event_key in self.store.kpi_events

    def read(self, dimension_kind: str, first_day: str, last_day: str) -> list[tuple[str, str, KpiCounts]]:
        with self.store.lock:
            return [(day, value, dict(counts)) for (kind, day, value), counts in sorted(self.store.kpis.items())
                    if kind == dimension_kind and first_day <= day <= last_day]
