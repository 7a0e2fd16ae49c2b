"""``DELETE /customers/{id}``: erase every copy of what the hub holds about one customer.

Order matters for a crash half-way: the audit record is written first (who, when: no personal data),
then each conversation's messages with their raw payloads (table and bucket) and attachments, the
conversations, the crisis keyword contacts, the identities, and the profile last; then the
``customer_erased`` event, then the audit record is completed with the counts. A DELETE repeated
after a crash finds the audit record unfinished and goes on (every step is idempotent); one repeated
after completion answers the recorded result and does nothing new.

What stays, because it holds no personal data and keeps the hub's promises: the inbox item of each
erased event as a bare dedupe record (provider, kind, received_at, TTL, ``erased_at``), so a provider
redelivering an erased message within the dedupe window is answered as a duplicate rather than stored
as new; the broadcast recipient records (a crisis update is still sent at most once); references,
KPI counters and the audit record itself.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

from chalicelib.adapters.observability import logger
from chalicelib.api.envelopes import lifecycle_event
from chalicelib.conversations.lifecycle import LifecycleType
from chalicelib.core.errors import NotFound
from chalicelib.core.ids import lifecycle_event_id_for
from chalicelib.core.model import Customer, Direction, Message
from chalicelib.privacy.export import inbox_keys_of, sender_inbox_keys
from chalicelib.privacy.ports import ErasureNotices, ErasureRecord, ObjectStore, PrivacyStore

CUSTOMER_ERASED = LifecycleType.CUSTOMER_ERASED.value
COUNTED = ("conversations", "messages", "outbound_messages", "attachments", "raw_payloads", "raw_objects",
           "feedback", "identities", "crisis_contacts")


def erase_customer(
    store: PrivacyStore, objects: ObjectStore, notices: ErasureNotices, customer_id: str, *,
    requested_by: str, now: str,
) -> tuple[dict[str, Any], int]:
    """The erasure's answer and status: 200 with the counts (the first time and every time after)."""
    record = store.erasure(customer_id)
    if record is not None and record.finished:
        return erasure_answer(record), 200
    customer = store.customer(customer_id)
    if customer is None and record is None:
        raise NotFound(f"no customer {customer_id}")
    found = list(store.conversation_ids(customer_id))
    if record is None:  # the conversations are listed on the audit first: a resumed erasure still names them all
        record = store.start_erasure(ErasureRecord(customer_id, requested_by, now, conversation_ids=tuple(found)))
    counts: Counter[str] = Counter({name: 0 for name in COUNTED})
    conversation_ids = list(record.conversation_ids)
    for conversation_id in found:
        for message in list(store.messages(conversation_id)):
            _erase_message(store, objects, message, counts, now)
        if store.feedback(conversation_id) is not None:
            counts["feedback"] += 1
        store.erase_conversation(customer_id, store.conversation(conversation_id), conversation_id)
        counts["conversations"] += 1
        if conversation_id not in conversation_ids:
            conversation_ids.append(conversation_id)
    counts["crisis_contacts"] += store.erase_crisis_contacts(customer_id)
    if customer is not None:
        for inbox_key in sender_inbox_keys(store, customer):  # what no message names: edits, reactions, ...
            _erase_inbox_copy(store, objects, inbox_key, counts, now)
        for identity in customer.identities:
            store.erase_identity(identity.key)
            counts["identities"] += 1
        store.erase_customer(customer_id)
    finished = replace(record, finished_at=now, counts=dict(counts), conversation_ids=tuple(conversation_ids))
    body = customer_erased_event(customer, finished)
    notices.publish(body, group_id=customer_id, dedupe_id=body["event_id"])
    store.finish_erasure(finished)
    # The audit trail in the logs too: ids, the key's name and counts, nothing personal.
    logger.info("customer erased", extra={"customer_id": customer_id, "requested_by": finished.requested_by,
                                          "counts": dict(counts), "resumed": record.started_at != now})
    return erasure_answer(finished), 200


def _erase_message(store: PrivacyStore, objects: ObjectStore, message: Message, counts: Counter[str],
                   now: str) -> None:
    for attachment in message.attachments:
        if attachment.url and attachment.url.startswith("s3://"):
            objects.delete(attachment.url)
            counts["attachments"] += 1
    for inbox_key in inbox_keys_of(store, message):
        _erase_inbox_copy(store, objects, inbox_key, counts, now)
    store.erase_message(message)
    counts["messages"] += 1
    if message.direction is Direction.OUTBOUND:
        counts["outbound_messages"] += 1


def _erase_inbox_copy(store: PrivacyStore, objects: ObjectStore, inbox_key: str, counts: Counter[str],
                      now: str) -> None:
    copy = store.inbox_copy(inbox_key)
    if copy is None or copy.erased:
        return
    if copy.raw_pointer:
        objects.delete(copy.raw_pointer)
        counts["raw_objects"] += 1
    if store.erase_inbox_copy(inbox_key, now):
        counts["raw_payloads"] += 1


def customer_erased_event(customer: Customer | None, record: ErasureRecord) -> dict[str, Any]:
    """``omnihub.event.v1`` type ``customer_erased``: the customer part carries the id only (every
    personal field null or empty); ``detail`` lists the conversations erased (integrators erase their
    copies) and the counts. One event id per customer: a resumed erasure publishes the same id."""
    anonymous = Customer(id=record.customer_id, name=None, language=None,
                         tier=customer.tier if customer is not None else "standard", identities=(),
                         created_at=customer.created_at if customer is not None else record.started_at)
    event_id = lifecycle_event_id_for(record.customer_id, CUSTOMER_ERASED, "erased")
    detail = {"erased_at": record.finished_at, "conversation_ids": list(record.conversation_ids),
              "counts": dict(record.counts)}
    return lifecycle_event(event_id, CUSTOMER_ERASED, record.finished_at or record.started_at, None, anonymous, detail)


def erasure_answer(record: ErasureRecord) -> dict[str, Any]:
    return {
        "customer_id": record.customer_id, "status": "erased", "requested_by": record.requested_by,
        "requested_at": record.started_at, "erased_at": record.finished_at, "counts": dict(record.counts),
        "conversation_ids": list(record.conversation_ids),
    }
