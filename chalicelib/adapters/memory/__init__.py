"""In-memory twins of every port: the same behaviour as the DynamoDB, SQS, S3 and secret adapters,
proven by the contract tests in ``tests/contract``, so use cases can be tested without moto.

    store = MemoryStore()
    repos = memory_repositories(store, payloads=MemoryPayloadArchive())
    ...
    store.scan()        # every stored record, like runtime.table().scan() on moto
    store.jobs()        # every job the stream relay would have queued
"""

from __future__ import annotations

from chalicelib.adapters.memory.bus import DelayedRetry, MemoryBus, Queued
from chalicelib.adapters.memory.calls import MemoryCalls
from chalicelib.adapters.memory.claims import MemoryDeliveryClaims, MemoryExpiringClaims, MemoryIdempotencyKeys
from chalicelib.adapters.memory.conversations import MemoryConversations
from chalicelib.adapters.memory.customers import MemoryCustomers
from chalicelib.adapters.memory.feedback import MemoryFeedback, MemoryKpis
from chalicelib.adapters.memory.inbox import MemoryInbox
from chalicelib.adapters.memory.mail_threads import MemoryMailThreads
from chalicelib.adapters.memory.messages import MemoryMessages
from chalicelib.adapters.memory.payloads import MemoryMediaStore, MemoryPayloadArchive, MemorySecrets
from chalicelib.adapters.memory.references import MemoryReferences
from chalicelib.adapters.memory.store import InboxWritten, JobWritten, MemoryStore, Stored
from chalicelib.core.ports import MediaStore, PayloadArchive, Repositories


def memory_repositories(
    store: MemoryStore | None = None,
    *,
    payloads: PayloadArchive | None = None,
    media: MediaStore | None = None,
    inline_payload_limit: int = 256 * 1024,
    retention_days: int = 30,
) -> Repositories:
    """Every repository over one store (a new one unless given), as ``dynamo_repositories`` builds them."""
    state = MemoryStore() if store is None else store
    return Repositories(
        inbox=MemoryInbox(
            state, payloads=payloads, inline_payload_limit=inline_payload_limit, retention_days=retention_days
        ),
        customers=MemoryCustomers(state),
        references=MemoryReferences(state),
        conversations=MemoryConversations(state),
        messages=MemoryMessages(state, retention_days=retention_days),
        deliveries=MemoryDeliveryClaims(state, retention_days=retention_days),
        idempotency=MemoryIdempotencyKeys(state, retention_days=retention_days),
        feedback=MemoryFeedback(state),
        kpis=MemoryKpis(state),
        calls=MemoryCalls(state),
        mail_threads=MemoryMailThreads(state),
        media=MemoryMediaStore() if media is None else media,
        claims=MemoryExpiringClaims(state),
    )


__all__ = [
    "DelayedRetry",
    "InboxWritten",
    "JobWritten",
    "MemoryBus",
    "MemoryConversations",
    "MemoryCustomers",
    "MemoryDeliveryClaims",
    "MemoryFeedback",
    "MemoryIdempotencyKeys",
    "MemoryInbox",
    "MemoryKpis",
    "MemoryMediaStore",
    "MemoryMessages",
    "MemoryPayloadArchive",
    "MemoryReferences",
    "MemorySecrets",
    "MemoryStore",
    "Queued",
    "Stored",
    "memory_repositories",
]
