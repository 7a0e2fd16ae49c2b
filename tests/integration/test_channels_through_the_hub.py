"""Every provider endpoint through the app: duplicates, forgeries, batches and unknown kinds."""

from __future__ import annotations

import hashlib
import hmac
import json
from argparse import Namespace
from pathlib import Path
from typing import Any

import pytest

from devstack.cli import SIMULATORS
from tests.conftest import TEST_SECRETS, Hub

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PROVIDERS = {  # simulator → a sender address it takes
    "api": "hub-user", "twilio-sms": "+393330000001", "twilio-whatsapp": "+393330000002",
    "whatsapp": "393330000003", "telegram": "9007199254740993", "line": "U4af4980629a1b2c3d4e5f607182930ab",
    "viber": "01234567890A=", "vonage-sms": "447700900011", "vonage-whatsapp": "447700900012",
    "messenger": "6543210987654321", "instagram": "1254459154682919", "x": "1497230178432225283",
}


def build(provider: str, secrets: dict[str, str], *, event_id: str | None = None) -> Any:
    builder, _ = SIMULATORS[provider]
    args = Namespace(sender=PROVIDERS[provider], text="hello there", name="Ada", language="en",
                     event_id=event_id, option=None)
    return builder(args, secrets)


def post(hub: Hub, request: Any) -> Any:
    return hub.client.http.post(request.path, body=request.body, headers=request.headers)


def inbox(hub: Hub) -> list[dict[str, Any]]:
    return [item for item in hub.table_items() if item["sk"] == "INBOX"]


@pytest.fixture(autouse=True)
def inbound_only(hub: Hub) -> None:
    # These tests are about the webhooks and the conversation worker; acknowledgments are sent by
    # the outbound worker, tested with the provider sandbox in test_outbound_flow.py.
    hub.pump._handlers = {k: v for k, v in hub.pump._handlers.items() if k != "handle_outbound"}


@pytest.fixture(autouse=True)
def public_url(aws_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    # The simulators sign the URL the provider calls (OMNIHUB_URL for ./hub); the hub rebuilds it
    # from PUBLIC_BASE_URL, which tests/conftest.py sets to this.
    monkeypatch.setenv("OMNIHUB_URL", "https://hub.example.com")


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_the_same_delivery_three_times_is_one_inbox_event_and_one_message(hub: Hub, provider: str) -> None:
    from chalicelib.adapters import runtime

    runtime.reset()
    request = build(provider, dict(TEST_SECRETS), event_id=None)
    for _ in range(3):
        response = post(hub, request)
        assert 200 <= response.status_code < 300, (provider, response.body)
    assert len(inbox(hub)) == 1
    hub.pump.drain()
    messages = [i for i in hub.table_items() if i["sk"].startswith("MSG#") and i.get("direction") == "inbound"]
    assert len(messages) == 1 and messages[0]["text"] == "hello there"


@pytest.mark.parametrize("provider", sorted(PROVIDERS))
def test_a_forged_delivery_is_refused_and_stores_nothing(hub: Hub, provider: str) -> None:
    from chalicelib.adapters import runtime

    runtime.reset()
    forged = {name: value + "-forged" for name, value in TEST_SECRETS.items()}
    response = post(hub, build(provider, forged))
    assert response.status_code in (401, 403), (provider, response.status_code)
    assert "reason" in json.loads(response.body)
    assert hub.table_items() == []


def meta_signed(body: bytes) -> dict[str, str]:
    mac = hmac.new(TEST_SECRETS["META_APP_SECRET"].encode(), body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={mac}"}


def test_a_batch_with_one_new_and_one_seen_event_adds_exactly_one_message(hub: Hub) -> None:
    payload = json.loads((FIXTURES / "meta" / "text_message.json").read_text())
    body = json.dumps(payload).encode()
    assert hub.client.http.post("/webhooks/meta", body=body, headers=meta_signed(body)).status_code == 200
    hub.pump.drain()
    second = json.loads(json.dumps(payload))
    new_message = json.loads(json.dumps(second["entry"][0]["changes"][0]["value"]["messages"][0]))
    new_message["id"] = new_message["id"] + "NEW"
    new_message["text"]["body"] = "a second question"
    second["entry"][0]["changes"][0]["value"]["messages"].append(new_message)
    body = json.dumps(second).encode()
    assert hub.client.http.post("/webhooks/meta", body=body, headers=meta_signed(body)).status_code == 200
    hub.pump.drain()
    texts = [i["text"] for i in hub.table_items() if i["sk"].startswith("MSG#") and i.get("direction") == "inbound"]
    assert len(texts) == 2 and "a second question" in texts
    assert len(inbox(hub)) == 2


def test_an_unknown_event_kind_is_200_stored_raw_and_crashes_nothing(hub: Hub) -> None:
    body = (FIXTURES / "meta" / "account_update.json").read_bytes()
    response = hub.client.http.post("/webhooks/meta", body=body, headers=meta_signed(body))
    assert response.status_code == 200
    [item] = inbox(hub)
    assert item["kind"] == "unknown" and bytes(item["raw"]) == body
    hub.pump.drain()
    assert not [i for i in hub.table_items() if i["sk"].startswith("MSG#")]


def test_the_meta_verification_handshake(hub: Hub) -> None:
    token = TEST_SECRETS["META_VERIFY_TOKEN"]
    good = hub.client.http.get(f"/webhooks/meta?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=42")
    assert good.status_code == 200 and good.body == b"42"
    bad = hub.client.http.get("/webhooks/meta?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=42")
    assert bad.status_code == 403
    assert hub.table_items() == []


def test_a_twilio_status_callback_moves_an_outbound_message_forward_only(hub: Hub) -> None:
    from chalicelib.adapters import runtime
    from chalicelib.core.model import Channel, DeliveryStatus, Direction, Message
    from devstack.simulators.twilio import simulate_twilio_status

    repos = runtime.repositories()
    message = Message(id="out_1", conversation_id="cnv_x", direction=Direction.OUTBOUND, channel=Channel.SMS,
                      created_at="2026-11-22T10:00:00.000Z", text="hi", status=DeliveryStatus.QUEUED,
                      provider="twilio", provider_message_id="SM" + "a" * 32)
    repos.messages.put(message)
    for status in ("delivered", "sent", "failed"):  # out of order; delivered then no going back
        request = simulate_twilio_status(
            dict(TEST_SECRETS), "SM" + "a" * 32, status, public_base_url="https://hub.example.com"
        )
        assert post(hub, request).status_code == 200
    hub.pump.drain()
    [item] = [i for i in hub.table_items() if i["sk"].startswith("MSG#")]
    assert item["status"] == "failed"  # sent after delivered is ignored; failed (a carrier report) is terminal
