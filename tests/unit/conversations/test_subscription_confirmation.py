"""The worker confirms an SNS subscription by visiting its stored SubscribeURL (through the twin), records
when once, confirms again harmlessly on redelivery, retries a failed visit and never fetches a forged URL."""

from __future__ import annotations

import pytest

from chalicelib.adapters.memory import MemoryBus, memory_repositories
from chalicelib.adapters.memory.subscriptions import MemorySubscriptionConfirmer
from chalicelib.adapters.sns_subscriptions import ConfirmationFailed, ConfirmationRefused
from chalicelib.conversations.inbound import WorkerPorts, handle_inbound_event
from chalicelib.core.model import Channel, EventKind, InboundEvent
from chalicelib.core.ports import Repositories
from tests.unit.conftest import test_id_key

URL = "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:1:t&Token=2336"


def stored(repos: Repositories, url: str | None, event_id: str = "sns#1") -> str:
    metadata = {"lifecycle": "sns_subscription_confirmation", "topic_arn": "arn:aws:sns:us-east-1:1:t"}
    if url is not None:
        metadata["subscribe_url"] = url
    event = InboundEvent(event_id=event_id, provider="ses", channel=Channel.EMAIL, kind=EventKind.LIFECYCLE,
                         occurred_at="2026-11-18T09:00:00.000Z", metadata=metadata)
    repos.inbox.put(event, endpoint="ses", received_at="2026-11-18T09:00:00.000Z", raw_body=b"{}",
                    content_type="text/plain")
    return event.inbox_key


def ports(repos: Repositories, twin: MemorySubscriptionConfirmer | None) -> WorkerPorts:
    return WorkerPorts(repos=repos, bus=MemoryBus(), id_key=test_id_key, subscriptions=twin)  # type: ignore[arg-type]


def test_the_worker_confirms_once_recorded_and_a_redelivery_is_harmless() -> None:
    repos, twin = memory_repositories(), MemorySubscriptionConfirmer()
    key = stored(repos, URL)
    assert handle_inbound_event(key, ports(repos, twin)) == "subscription_confirmed"
    first = repos.inbox.get(key)
    assert twin.confirmed == [URL] and first is not None and first.confirmed_at is not None
    assert handle_inbound_event(key, ports(repos, twin)) == "subscription_confirmed"
    again = repos.inbox.get(key)
    assert twin.confirmed == [URL, URL] and again is not None and again.confirmed_at == first.confirmed_at


def test_a_failed_visit_raises_to_retry_and_records_nothing() -> None:
    repos, twin = memory_repositories(), MemorySubscriptionConfirmer(fail=True)
    key = stored(repos, URL)
    with pytest.raises(ConfirmationFailed):
        handle_inbound_event(key, ports(repos, twin))
    record = repos.inbox.get(key)
    assert record is not None and record.confirmed_at is None


def test_a_forged_url_in_the_store_is_never_fetched() -> None:
    repos, twin = memory_repositories(), MemorySubscriptionConfirmer()
    key = stored(repos, "https://evil.example/?Action=ConfirmSubscription")
    with pytest.raises(ConfirmationRefused):  # permanent: the job goes to the dead-letter queue
        handle_inbound_event(key, ports(repos, twin))
    assert twin.confirmed == []


def test_without_a_url_or_a_confirmer_the_event_is_kept_only() -> None:
    repos, twin = memory_repositories(), MemorySubscriptionConfirmer()
    assert handle_inbound_event(stored(repos, None), ports(repos, twin)) == "subscription_kept"
    assert handle_inbound_event(stored(repos, URL, "sns#2"), ports(repos, None)) == "subscription_kept"
    assert twin.confirmed == []
