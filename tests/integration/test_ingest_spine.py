"""The ingest spine through the real AWS APIs (moto in-process) and the Chalice test client."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import jsonschema
import pytest

from tests.conftest import Hub, load_schema
from tests.helpers import api_event, post_api, signed_headers


def inbox_items(hub: Hub) -> list[dict[str, Any]]:
    return [item for item in hub.table_items() if item["sk"] == "INBOX"]


def messages_of(hub: Hub, conversation_id: str, direction: str = "inbound") -> list[dict[str, Any]]:
    response = hub.client.http.get(f"/conversations/{conversation_id}", headers={"x-api-key": "support-key"})
    assert response.status_code == 200, response.body
    return [m for m in json.loads(response.body)["messages"] if m["direction"] == direction]


def lookup(hub: Hub, channel: str, address: str) -> Any:
    return hub.client.http.get(
        f"/customers/lookup?channel={channel}&address={address}", headers={"x-api-key": "support-key"}
    )


# ------------------------------------------------------------------ rejection paths store nothing
def test_a_signed_event_is_stored_once_in_the_inbox(hub: Hub) -> None:
    response = post_api(hub.client, api_event())
    assert response.status_code == 200
    assert len(inbox_items(hub)) == 1


@pytest.mark.parametrize(
    ("headers_for", "reason"),
    [
        (lambda body: signed_headers(body, secret="wrong"), "signature mismatch"),
        (lambda body: signed_headers(body, timestamp=int(time.time()) - 301), "tolerance"),
        (lambda body: {"Content-Type": "application/json"}, "missing"),
    ],
)
def test_forged_stale_or_unsigned_is_401_and_stores_nothing(hub: Hub, headers_for: Any, reason: str) -> None:
    body = json.dumps(api_event()).encode()
    response = hub.client.http.post("/webhooks/api", body=body, headers=headers_for(body))
    assert response.status_code == 401
    assert reason in json.loads(response.body)["reason"]
    assert hub.table_items() == []


def test_oversize_body_is_413_and_stores_nothing(hub: Hub) -> None:
    body = json.dumps(api_event(text="x" * (1024 * 1024 + 1))).encode()
    response = hub.client.http.post("/webhooks/api", body=body, headers=signed_headers(body))
    assert response.status_code == 413
    assert json.loads(response.body)["error"] == "payload_too_large"
    assert hub.table_items() == []


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (json.dumps({"type": "message", "from": {"id": "a"}, "text": "x"}).encode(), "event_id"),
        (json.dumps({"event_id": "e", "type": "message", "from": {"id": "a"}}).encode(), "text or attachments"),
        (json.dumps({"event_id": "e", "type": "message", "text": "x"}).encode(), "from.id"),
        (json.dumps({"event_id": "e", "type": "typing", "from": {"id": "a"}}).encode(), "type"),
    ],
)
def test_invalid_event_is_400_with_a_reason_and_stores_nothing(hub: Hub, body: bytes, reason: str) -> None:
    response = hub.client.http.post("/webhooks/api", body=body, headers=signed_headers(body))
    assert response.status_code == 400
    assert reason in json.loads(response.body)["reason"]
    assert hub.table_items() == []


# ------------------------------------------------------------------ dedupe and idempotency
def test_the_same_webhook_delivered_three_times_yields_one_message(hub: Hub) -> None:
    event = api_event(sender="bob", text="where is my order?")
    for _ in range(3):
        assert post_api(hub.client, event).status_code == 200
    hub.pump.drain()
    customer = json.loads(lookup(hub, "webchat", "bob").body)
    [conversation_id] = customer["conversation_ids"]
    assert [m["text"] for m in messages_of(hub, conversation_id)] == ["where is my order?"]
    assert len(hub.receive_all("route-default")) == 1


def test_a_redelivered_queue_message_changes_nothing(hub: Hub) -> None:
    post_api(hub.client, api_event(sender="carol", text="hi"))
    # Relay only: capture the inbound message instead of letting the pump consume it.
    stream_only = {k: v for k, v in hub.pump._handlers.items() if k == "relay_inbox_stream"}
    handlers, hub.pump._handlers = hub.pump._handlers, stream_only
    hub.pump.drain()
    hub.pump._handlers = handlers
    [body] = hub.receive_all("inbound")
    sqs_event = {
        "Records": [
            {"messageId": f"m-{attempt}", "receiptHandle": "r", "body": json.dumps(body), "attributes": {
                "MessageGroupId": "g", "ApproximateReceiveCount": str(attempt + 1)},
             "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
             "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1"}
            for attempt in range(1)
        ]
    }
    for _ in range(3):
        assert hub.app_module.handle_inbound(sqs_event, None) == {"batchItemFailures": []}
    before = sorted(json.dumps(i, sort_keys=True, default=str) for i in hub.table_items())
    hub.app_module.handle_inbound(sqs_event, None)
    after = sorted(json.dumps(i, sort_keys=True, default=str) for i in hub.table_items())
    assert before == after
    customer = json.loads(lookup(hub, "webchat", "carol").body)
    assert len(customer["conversation_ids"]) == 1
    assert len(messages_of(hub, customer["conversation_ids"][0])) == 1
    envelopes = hub.receive_all("route-default")
    assert len({e["envelope_id"] for e in envelopes}) == 1  # SQS FIFO dedupe, or the stable id for consumers


def test_a_crash_between_inbox_write_and_relay_loses_nothing(hub: Hub) -> None:
    post_api(hub.client, api_event(sender="dave", text="are you there?"))
    # The relay "crashed": nothing consumed the stream. A new pump starts from the stream's
    # trim horizon, as Lambda's event source mapping resumes from its last checkpoint.
    from devstack.pump import LocalPump, app_handlers

    fresh_pump = LocalPump(hub.session, "local", hub.provisioned.stream_arn, app_handlers(hub.app_module))
    fresh_pump.drain()
    customer = json.loads(lookup(hub, "webchat", "dave").body)
    assert [m["text"] for m in messages_of(hub, customer["conversation_ids"][0])] == ["are you there?"]
    # And the old pump reading the same records again duplicates nothing.
    hub.pump.drain()
    assert len(messages_of(hub, customer["conversation_ids"][0])) == 1


def test_a_failing_record_is_retried_alone_and_then_succeeds(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.conversations import threading as conversations

    post_api(hub.client, api_event(sender="erin", text="first"))
    post_api(hub.client, api_event(sender="frank", text="second"))
    real = conversations.thread_message
    calls: dict[str, int] = {}

    def flaky(store: Any, record: Any, **kwargs: Any) -> Any:
        address = record.event.sender.identity.address
        calls[address] = calls.get(address, 0) + 1
        if address == "erin" and calls["erin"] == 1:
            raise conversations.RetryableError("DynamoDB throttled")
        return real(store, record, **kwargs)

    monkeypatch.setattr("chalicelib.conversations.inbound.thread_message", flaky)
    hub.pump.drain(timeout=60)  # the retry waits for the queue's visibility: generous under a loaded machine
    assert calls["frank"] == 1  # the healthy record was not redone
    assert calls["erin"] == 2
    for sender in ("erin", "frank"):
        customer = json.loads(lookup(hub, "webchat", sender).body)
        assert len(messages_of(hub, customer["conversation_ids"][0])) == 1


# ------------------------------------------------------------------ threading
def test_two_customers_writing_at_once_never_share_a_conversation(hub: Hub) -> None:
    from chalicelib.adapters import runtime
    from chalicelib.adapters.id_keys import id_key
    from chalicelib.conversations.inbound import WorkerPorts, handle_inbound_event

    for index in range(6):
        post_api(hub.client, api_event(sender="paula", text=f"p{index}"))
        post_api(hub.client, api_event(sender="quinn", text=f"q{index}"))
    stream_only = {k: v for k, v in hub.pump._handlers.items() if k == "relay_inbox_stream"}
    handlers, hub.pump._handlers = hub.pump._handlers, stream_only
    hub.pump.drain()
    hub.pump._handlers = handlers
    bodies = hub.receive_all("inbound")
    ports = WorkerPorts(runtime.repositories(), runtime.bus(), id_key=id_key)
    by_sender: dict[str, list[dict[str, Any]]] = {}
    for body in bodies:
        record = runtime.repositories().inbox.get(body["inbox_key"])
        by_sender.setdefault(record.event.sender.identity.address, []).append(body)
    errors: list[BaseException] = []

    def work(items: list[dict[str, Any]]) -> None:
        try:
            for item in items:
                handle_inbound_event(item["inbox_key"], ports)
        except BaseException as err:  # surfaced below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(items,)) for items in by_sender.values()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    paula = json.loads(lookup(hub, "webchat", "paula").body)
    quinn = json.loads(lookup(hub, "webchat", "quinn").body)
    assert len(paula["conversation_ids"]) == 1 and len(quinn["conversation_ids"]) == 1
    assert paula["conversation_ids"] != quinn["conversation_ids"]
    assert sorted(m["text"] for m in messages_of(hub, paula["conversation_ids"][0])) == [f"p{i}" for i in range(6)]
    assert sorted(m["text"] for m in messages_of(hub, quinn["conversation_ids"][0])) == [f"q{i}" for i in range(6)]


def test_one_customer_racing_on_two_workers_gets_one_conversation(hub: Hub) -> None:
    """Same identity processed concurrently (a redelivery overlapping the first try)."""
    from chalicelib.adapters import runtime
    from chalicelib.adapters.id_keys import id_key
    from chalicelib.conversations.inbound import WorkerPorts, handle_inbound_event

    post_api(hub.client, api_event(sender="rita", text="one"))
    stream_only = {k: v for k, v in hub.pump._handlers.items() if k == "relay_inbox_stream"}
    handlers, hub.pump._handlers = hub.pump._handlers, stream_only
    hub.pump.drain()
    hub.pump._handlers = handlers
    [body] = hub.receive_all("inbound")
    ports = WorkerPorts(runtime.repositories(), runtime.bus(), id_key=id_key)
    threads = [threading.Thread(target=handle_inbound_event, args=(body["inbox_key"], ports)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rita = json.loads(lookup(hub, "webchat", "rita").body)
    assert len(rita["conversation_ids"]) == 1
    assert len(messages_of(hub, rita["conversation_ids"][0])) == 1


def test_messages_thread_into_the_open_conversation_with_a_reference(hub: Hub) -> None:
    profile = {"id": "sam", "name": "Sam", "language": "it"}
    post_api(hub.client, api_event(sender="sam", text="one", **{"from": profile}))
    post_api(hub.client, api_event(sender="sam", text="two"))
    hub.pump.drain()
    customer = json.loads(lookup(hub, "webchat", "sam").body)
    assert customer["name"] == "Sam" and customer["language"] == "it"
    [conversation_id] = customer["conversation_ids"]
    detail = json.loads(
        hub.client.http.get(f"/conversations/{conversation_id}", headers={"x-api-key": "support-key"}).body
    )
    assert detail["status"] == "open" and detail["reference"].startswith("OH-") and len(detail["reference"]) == 8
    inbound = [m for m in detail["messages"] if m["direction"] == "inbound"]
    assert [m["text"] for m in inbound] == ["one", "two"]
    assert all(m["channel"] == "webchat" for m in detail["messages"])


def test_the_routed_envelope_validates_against_its_schema(hub: Hub) -> None:
    post_api(hub.client, api_event(sender="tina", text="a photo", attachments=[
        {"url": "https://cdn.example.com/p.jpg", "content_type": "image/jpeg", "name": "p.jpg"}]))
    hub.pump.drain()
    [envelope] = hub.receive_all("route-default")
    jsonschema.validate(envelope, load_schema("omnihub.routed.v1"))
    assert envelope["conversation"]["opened"] is True
    assert envelope["message"]["attachments"][0]["kind"] == "image"


def test_a_large_payload_is_kept_in_s3_with_a_pointer(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.adapters import runtime

    monkeypatch.setenv("OMNIHUB_INLINE_PAYLOAD_LIMIT", "1000")
    runtime.reset()
    event = api_event(sender="uma", text="y" * 5000)
    assert post_api(hub.client, event).status_code == 200
    [item] = inbox_items(hub)
    assert item["raw_pointer"].startswith("s3://") and "raw" not in item
    assert json.loads(runtime.repositories().inbox.raw_payload(f"api#{event['event_id']}"))["text"] == "y" * 5000


def test_an_unavailable_store_answers_503_so_the_provider_retries(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.adapters import runtime
    from chalicelib.core.errors import StoreUnavailable

    def broken(*args: Any, **kwargs: Any) -> bool:
        raise StoreUnavailable("DynamoDB put_item failed: ProvisionedThroughputExceededException")

    monkeypatch.setattr(runtime.repositories().inbox, "put", broken)
    response = post_api(hub.client, api_event())
    assert response.status_code == 503


# ------------------------------------------------------------------ REST API
def test_the_rest_api_needs_a_key_with_the_right_scope(hub: Hub) -> None:
    assert hub.client.http.get("/customers/lookup?channel=webchat&address=x").status_code == 401
    assert hub.client.http.get(
        "/customers/lookup?channel=webchat&address=x", headers={"x-api-key": "nope"}
    ).status_code == 401
    assert hub.client.http.get(
        "/customers/lookup?channel=webchat&address=x", headers={"x-api-key": "crisis-key"}
    ).status_code == 403
    assert hub.client.http.get(
        "/customers/lookup?channel=webchat&address=x", headers={"x-api-key": "admin-key"}
    ).status_code == 404
    assert hub.client.http.get("/health").status_code == 200


def test_lookup_normalizes_addresses_and_rejects_bad_ones(hub: Hub) -> None:
    assert lookup(hub, "sms", "not-a-phone").status_code == 400
    assert lookup(hub, "pigeon", "x").status_code == 400
    assert hub.client.http.get("/customers/lookup?channel=sms", headers={"x-api-key": "support-key"}).status_code == 400


def test_conversations_are_listed_by_status_with_pagination(hub: Hub) -> None:
    for index in range(5):
        post_api(hub.client, api_event(sender=f"user{index}", text="hello"))
    hub.pump.drain()
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        query = "/conversations?status=open&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = json.loads(hub.client.http.get(query, headers={"x-api-key": "support-key"}).body)
        seen += [c["id"] for c in page["conversations"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 5 == len(set(seen))
    everything = json.loads(hub.client.http.get("/conversations", headers={"x-api-key": "support-key"}).body)
    assert len(everything["conversations"]) == 5
    one = json.loads(lookup(hub, "webchat", "user3").body)
    mine = json.loads(hub.client.http.get(
        f"/conversations?customer_id={one['id']}", headers={"x-api-key": "support-key"}).body)
    assert [c["id"] for c in mine["conversations"]] == one["conversation_ids"]
    assert hub.client.http.get("/conversations?status=nope", headers={"x-api-key": "support-key"}).status_code == 400
    assert hub.client.http.get("/conversations?cursor=%%%", headers={"x-api-key": "support-key"}).status_code == 400
    assert hub.client.http.get("/conversations/cnv_missing", headers={"x-api-key": "support-key"}).status_code == 404


def test_an_event_too_large_for_an_item_is_413_and_stores_nothing(hub: Hub) -> None:
    response = post_api(hub.client, api_event(sender="vera", text="z" * 500_000))
    assert response.status_code == 413, response.body
    assert "reason" in json.loads(response.body)
    assert inbox_items(hub) == []


def test_a_large_event_keeps_its_body_in_s3_and_fits(hub: Hub) -> None:
    event = api_event(sender="walt", text="w" * 250_000)
    assert post_api(hub.client, event).status_code == 200
    [item] = inbox_items(hub)
    assert item["raw_pointer"].startswith("s3://")


def test_an_open_conversation_claimed_by_a_message_that_died_is_taken_over(hub: Hub) -> None:
    from chalicelib.adapters import runtime
    from devstack.pump import LocalPump, app_handlers

    post_api(hub.client, api_event(sender="yuri", text="first"))
    hub.pump.drain()
    repos = runtime.repositories()
    customer_id = json.loads(lookup(hub, "webchat", "yuri").body)["id"]
    # A later message claimed a new conversation and then died before creating it.
    resolved = json.loads(lookup(hub, "webchat", "yuri").body)["conversation_ids"][0]
    hub.client.http.post(f"/conversations/{resolved}/resolve", headers={"x-api-key": "support-key"})
    assert repos.customers.claim_open_conversation(customer_id, "cnv_ghost", None)
    post_api(hub.client, api_event(sender="yuri", text="are you there?"))
    handlers = app_handlers(hub.app_module)
    quick = LocalPump(hub.session, "local", hub.provisioned.stream_arn, handlers, retry_visibility_seconds=0)
    for _ in range(3):
        quick.pump_once()
    assert len(json.loads(lookup(hub, "webchat", "yuri").body)["conversation_ids"]) == 1  # waiting, not stolen
    # Once the claim is older than every retry of its message, the next attempt takes over.
    hub.dynamodb.update_item(
        TableName=hub.provisioned.table_name, Key={"pk": {"S": f"CUSTOMER#{customer_id}"}, "sk": {"S": "PROFILE"}},
        UpdateExpression="SET open_claimed_at = :t",
        ExpressionAttributeValues={":t": {"S": "2020-01-01T00:00:00.000Z"}},
    )
    quick.drain(timeout=10)
    ids = json.loads(lookup(hub, "webchat", "yuri").body)["conversation_ids"]
    assert len(ids) == 2
    assert [m["text"] for m in messages_of(hub, ids[1])] == ["are you there?"]
