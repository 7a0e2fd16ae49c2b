"""Acknowledgments, agent replies and delivery statuses through moto in-process and the provider sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from devstack.sandbox import sandbox_environment, start_sandbox
from tests.conftest import Hub
from tests.helpers import api_event, post_api


@pytest.fixture
def sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    server, url = start_sandbox(0)
    for key, value in sandbox_environment(url).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("META_ACCESS_TOKEN", "test-meta-access")
    monkeypatch.setenv("OMNIHUB_META_PHONE_NUMBER_ID", "106540352242922")
    yield url
    server.shutdown()


@pytest.fixture
def wired(hub: Hub, sandbox: str) -> Hub:
    from chalicelib.adapters import runtime

    runtime.reset()
    hub.app_module._outbound_ports.cache_clear()
    return hub


def outbox(url: str) -> list[dict[str, Any]]:
    import urllib.request

    with urllib.request.urlopen(f"{url}/_sandbox/outbox", timeout=10) as response:
        return list(json.loads(response.read()))


def post_whatsapp(hub: Hub, phone_digits: str, text: str, name: str = "Maria") -> None:
    from devstack.simulators.meta import simulate_meta_message
    from tests.conftest import TEST_SECRETS

    request = simulate_meta_message(TEST_SECRETS, phone_digits, text, name=name)
    response = hub.client.http.post(request.path, body=request.body, headers=request.headers)
    assert response.status_code == 200, response.body


def conversation_of(hub: Hub, channel: str, address: str) -> dict[str, Any]:
    customer = json.loads(hub.client.http.get(
        f"/customers/lookup?channel={channel}&address={address}", headers={"x-api-key": "support-key"}).body)
    return json.loads(hub.client.http.get(
        f"/conversations/{customer['conversation_ids'][-1]}", headers={"x-api-key": "support-key"}).body)


def test_a_whatsapp_message_is_acknowledged_once_through_the_cloud_api(wired: Hub, sandbox: str) -> None:
    post_whatsapp(wired, "393331234567", "Buongiorno")
    wired.pump.drain()
    [sent] = outbox(sandbox)
    assert sent["path"] == "/v21.0/106540352242922/messages" and sent["body"]["to"] == "393331234567"
    conversation = conversation_of(wired, "whatsapp", "%2B393331234567")
    [ack] = [m for m in conversation["messages"] if m["direction"] == "outbound"]
    assert conversation["reference"] in sent["body"]["text"]["body"]
    assert ack["status"] in ("queued", "sent"), ack  # Meta answers "accepted": its "sent" comes by callback
    assert ack["provider_message_id"] == sent["response"]["body"]["messages"][0]["id"]


def test_a_redelivered_outbound_job_never_sends_twice(wired: Hub, sandbox: str) -> None:
    post_whatsapp(wired, "393331234568", "hello")
    handlers = wired.pump._handlers
    wired.pump._handlers = {k: v for k, v in handlers.items() if k != "handle_outbound"}
    wired.pump.drain()
    wired.pump._handlers = handlers
    [job] = wired.receive_all("outbound")
    record = {"messageId": "m1", "receiptHandle": "r", "body": json.dumps(job), "attributes": {
        "MessageGroupId": job["conversation_id"], "ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q",
        "awsRegion": "us-east-1"}
    for attempt in range(3):
        event = {"Records": [{**record, "messageId": f"m{attempt}"}]}
        assert wired.app_module.handle_outbound(event, None) == {"batchItemFailures": []}
    assert len(outbox(sandbox)) == 1


def test_a_delivery_status_moves_the_acknowledgment_forward_only(wired: Hub, sandbox: str) -> None:
    from devstack.simulators.meta import simulate_meta_status
    from tests.conftest import TEST_SECRETS

    post_whatsapp(wired, "393331234569", "hello")
    wired.pump.drain()
    [sent] = outbox(sandbox)
    wamid = sent["response"]["body"]["messages"][0]["id"]
    for status in ("read", "delivered"):  # out of order: read wins
        request = simulate_meta_status(TEST_SECRETS, wamid, status, recipient="393331234569")
        assert wired.client.http.post(request.path, body=request.body, headers=request.headers).status_code == 200
    wired.pump.drain()
    [ack] = [m for m in conversation_of(wired, "whatsapp", "%2B393331234569")["messages"]
             if m["direction"] == "outbound"]
    assert ack["status"] == "read"


def test_an_agent_reply_is_accepted_queued_and_sent(wired: Hub, sandbox: str) -> None:
    post_whatsapp(wired, "393331234570", "help")
    wired.pump.drain()
    conversation = conversation_of(wired, "whatsapp", "%2B393331234570")
    response = wired.client.http.post(
        f"/conversations/{conversation['id']}/messages", body=json.dumps({"text": "Eccomi"}),
        headers={"x-api-key": "support-key", "Content-Type": "application/json", "Idempotency-Key": "k1"},
    )
    assert response.status_code == 202, response.body
    accepted = json.loads(response.body)
    again = wired.client.http.post(
        f"/conversations/{conversation['id']}/messages", body=json.dumps({"text": "Eccomi"}),
        headers={"x-api-key": "support-key", "Content-Type": "application/json", "Idempotency-Key": "k1"},
    )
    assert json.loads(again.body)["id"] == accepted["id"]
    wired.pump.drain()
    replies = [e for e in outbox(sandbox) if e["body"].get("text", {}).get("body") == "Eccomi"]
    assert len(replies) == 1
    detail = conversation_of(wired, "whatsapp", "%2B393331234570")
    [reply] = [m for m in detail["messages"] if m["id"] == accepted["id"]]
    assert reply["provider_message_id"] == replies[0]["response"]["body"]["messages"][0]["id"]


@pytest.mark.parametrize(
    ("body", "status"),
    [({}, 400), ({"text": 5}, 400), ({"text": "x", "channel": "pigeon"}, 400), ({"text": "x", "channel": "sms"}, 409)],
)
def test_bad_agent_replies_are_refused(wired: Hub, body: dict[str, Any], status: int) -> None:
    post_whatsapp(wired, "393331234571", "help")
    wired.pump.drain()
    conversation = conversation_of(wired, "whatsapp", "%2B393331234571")
    response = wired.client.http.post(
        f"/conversations/{conversation['id']}/messages", body=json.dumps(body),
        headers={"x-api-key": "support-key", "Content-Type": "application/json"},
    )
    assert response.status_code == status, response.body
    assert "reason" in json.loads(response.body)


def test_web_chat_acknowledgments_are_stored_on_the_conversation(wired: Hub) -> None:
    post_api(wired.client, api_event(sender="wendy", text="hello", **{"from": {"id": "wendy", "name": "Wendy"}}))
    wired.pump.drain()
    conversation = conversation_of(wired, "webchat", "wendy")
    [ack] = [m for m in conversation["messages"] if m["direction"] == "outbound"]
    assert "Wendy" in ack["text"] and conversation["reference"] in ack["text"]


def test_resolving_opens_a_new_conversation_on_the_next_message(wired: Hub) -> None:
    post_api(wired.client, api_event(sender="xena", text="one"))
    wired.pump.drain()
    first = conversation_of(wired, "webchat", "xena")
    response = wired.client.http.post(f"/conversations/{first['id']}/resolve", headers={"x-api-key": "support-key"})
    assert response.status_code == 200 and json.loads(response.body)["status"] == "resolved"
    post_api(wired.client, api_event(sender="xena", text="one more thing"))
    wired.pump.drain()
    second = conversation_of(wired, "webchat", "xena")
    assert second["id"] != first["id"] and second["reference"] != first["reference"]
    missing = wired.client.http.post("/conversations/cnv_nope/resolve", headers={"x-api-key": "support-key"})
    assert missing.status_code == 404


def test_a_poison_job_ends_in_the_dead_letter_queue(wired: Hub) -> None:
    from chalicelib.adapters.resources import OUTBOUND_QUEUE
    from devstack.pump import LocalPump, app_handlers

    wired.sqs.send_message(QueueUrl=wired.queue_url("outbound"), MessageBody='{"schema": "omnihub.outbound.v1"}',
                           MessageGroupId="g", MessageDeduplicationId="poison")
    pump = LocalPump(wired.session, "local", wired.provisioned.stream_arn, app_handlers(wired.app_module),
                     retry_visibility_seconds=0)
    for _ in range(OUTBOUND_QUEUE.max_receive_count + 2):
        pump.pump_once()
    dead = wired.sqs.receive_message(QueueUrl=wired.queue_url("outbound", dlq=True), WaitTimeSeconds=0)
    assert [m["Body"] for m in dead.get("Messages", [])] == ['{"schema": "omnihub.outbound.v1"}']
    assert pump.stats.sqs_failures == OUTBOUND_QUEUE.max_receive_count


def test_a_rate_limited_send_is_retried_and_then_sent_once(wired: Hub, sandbox: str) -> None:
    import urllib.request

    failure = json.dumps({"provider": "meta", "preset": "rate_limited", "count": 1, "retry_after": 1}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{sandbox}/_sandbox/fail", data=failure, method="POST"), timeout=5)
    post_whatsapp(wired, "393331234572", "hello")
    wired.pump.drain(timeout=30)
    attempts = [e for e in outbox(sandbox) if e["body"].get("to") == "393331234572"]
    # Meta signals throttling as 400 with code 130429: transient, so the job comes back and is sent.
    assert [a["response"]["status"] for a in attempts] == [400, 200]
    assert attempts[0]["response"]["body"]["error"]["code"] == 130429
    [ack] = [m for m in conversation_of(wired, "whatsapp", "%2B393331234572")["messages"]
             if m["direction"] == "outbound"]
    assert ack["provider_message_id"]


def test_a_permanent_refusal_is_recorded_and_not_retried(wired: Hub, sandbox: str) -> None:
    import urllib.request

    failure = json.dumps({"provider": "meta", "preset": "invalid_number", "count": 1}).encode()
    urllib.request.urlopen(urllib.request.Request(f"{sandbox}/_sandbox/fail", data=failure, method="POST"), timeout=5)
    post_whatsapp(wired, "393331234573", "hello")
    wired.pump.drain(timeout=30)
    assert len([e for e in outbox(sandbox) if e["body"].get("to") == "393331234573"]) == 1
    [ack] = [m for m in conversation_of(wired, "whatsapp", "%2B393331234573")["messages"]
             if m["direction"] == "outbound"]
    assert ack["status"] == "failed" and ack["error_code"]


def test_a_status_that_overtakes_the_senders_answer_is_parked_then_applied(wired: Hub) -> None:
    from chalicelib.adapters import runtime
    from chalicelib.core.model import Channel, DeliveryStatus, Direction, Message

    repos = runtime.repositories()
    message = Message(id="out_p", conversation_id="cnv_p", direction=Direction.OUTBOUND, channel=Channel.WHATSAPP,
                      created_at="2026-11-22T10:00:00.000Z", text="hi", status=DeliveryStatus.QUEUED)
    repos.messages.put(message)
    # The provider's "delivered" arrives before the sender has recorded the provider's id.
    assert repos.messages.apply_delivery_status("meta", "wamid.early", DeliveryStatus.DELIVERED, None) is False
    repos.messages.record_outbound_result(message, status=DeliveryStatus.QUEUED, provider="meta",
                                 provider_message_id="wamid.early")
    [item] = [i for i in wired.table_items() if i["sk"].startswith("MSG#")]
    assert item["status"] == "delivered" and item["provider_message_id"] == "wamid.early"


def test_messages_skipped_behind_a_failure_come_back_with_the_same_backoff(wired: Hub) -> None:
    from chalicelib.handlers.outbound import handle_outbound_batch
    from chalicelib.outbound.errors import TransientSendError

    class Bus:
        delays: list[tuple[str, int]] = []

        def delay_retry(self, spec: Any, receipt_handle: str, seconds: int) -> bool:
            self.delays.append((receipt_handle, seconds))
            return True

    class Ports:
        store = None
        senders: dict[str, Any] = {}
        rules = None

    def record(index: int, group: str) -> dict[str, Any]:
        return {"messageId": f"m{index}", "receiptHandle": f"r{index}", "body": "{}", "md5OfBody": "",
                "attributes": {"MessageGroupId": group, "ApproximateReceiveCount": "3"}, "messageAttributes": {},
                "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:q", "awsRegion": "us-east-1"}

    def fail_transiently(body: Any, ports: Any) -> Any:
        raise TransientSendError("busy", provider="meta", retry_after=None)

    import chalicelib.handlers.outbound as workers

    original = workers.deliver_outbound_job
    workers.deliver_outbound_job = fail_transiently
    try:
        event = {"Records": [record(1, "conv-a"), record(2, "conv-a"), record(3, "conv-b")]}
        with pytest.raises(Exception, match="All records failed"):
            handle_outbound_batch(event, Ports(), Bus())  # type: ignore[arg-type]
    finally:
        workers.deliver_outbound_job = original
    # m1 failed after 3 receives → 20 s; m2 was skipped behind it → the same 20 s, not 360 s.
    assert ("r1", 20) in Bus.delays and ("r2", 20) in Bus.delays and ("r3", 20) in Bus.delays


@pytest.mark.parametrize(("mode", "acknowledged"), [("active", True), ("standby", False)])
def test_line_is_acknowledged_with_its_reply_token_unless_in_standby(
    wired: Hub, sandbox: str, mode: str, acknowledged: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    from devstack.simulators.line import simulate_line_message
    from tests.conftest import TEST_SECRETS

    monkeypatch.setenv("LINE_CHANNEL_ACCESS_TOKEN", "test-line-access")
    request = simulate_line_message(dict(TEST_SECRETS), "U" + "a" * 32, "hello", reply_token="rt-" + mode, mode=mode)
    assert wired.client.http.post(request.path, body=request.body, headers=request.headers).status_code == 200
    wired.pump.drain()
    replies = [e for e in outbox(sandbox) if e["path"] == "/v2/bot/message/reply"]
    assert [r["body"]["replyToken"] for r in replies] == (["rt-" + mode] if acknowledged else [])
