"""``./hub renormalize``: after a parser fix, the archived raw payloads give the same conversations again,
with the fixed messages, and nothing new (moto in process, the real command's entry point)."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from typing import Any

import pytest

from devstack.simulators.telegram import simulate_telegram_message
from devstack.simulators.twilio import simulate_twilio_messaging_message
from tests.conftest import TEST_SECRETS, Hub

CARRIER_TAG = " [Sent via FreeSMS]"  # what a carrier appended and the parser of the day kept


def _post(hub: Hub, request: Any) -> None:
    response = hub.client.http.post(request.path, body=request.body, headers=request.headers)
    assert response.status_code == 200, response.body


def _fixed_parse(real: Any) -> Any:
    def parse(request: Any) -> Any:
        return [dataclasses.replace(e, text=e.text.removesuffix(CARRIER_TAG)) if e.text else e
                for e in real(request)]

    return parse


def _shape(items: list[dict[str, Any]]) -> tuple[Counter[str], set[str], set[str]]:
    kinds = Counter(str(i.get("type")) for i in items)
    conversations = {i["id"] for i in items if i.get("type") == "conversation"}
    messages = {i["id"] for i in items if i.get("type") == "message"}
    return kinds, conversations, messages


def _renormalize(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    from devstack.cli import main

    capsys.readouterr()
    assert main(["renormalize", *args]) == 0
    return capsys.readouterr().out


def test_a_parser_fix_rebuilds_the_same_conversations_without_duplicates(
    hub: Hub, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import chalicelib.providers.twilio as twilio

    base = "https://hub.example.com"
    for n, phone in enumerate(("+393331110001", "+393331110002", "+393331110001")):
        _post(hub, simulate_twilio_messaging_message(TEST_SECRETS, phone, f"Order {n} is late{CARRIER_TAG}",
                                                     public_base_url=base))
    _post(hub, simulate_telegram_message(TEST_SECRETS, "5550001", "Hello from Telegram", public_base_url=base))
    hub.pump.drain(timeout=60)
    before = hub.table_items()
    inbound = [i for i in before if i.get("type") == "message" and i.get("direction") == "inbound"]
    assert sum(CARRIER_TAG in (i.get("text") or "") for i in inbound) == 3

    monkeypatch.setenv("AWS_ENDPOINT_URL", "")  # the command runs against the in-process moto
    unchanged = _renormalize(capsys, "--provider", "telegram", "--since", "2000-01-01")
    assert "examined 1, unchanged 1," in unchanged and "skipped none" in unchanged  # its path parameter kept

    monkeypatch.setattr(twilio, "MESSAGING", dataclasses.replace(twilio.MESSAGING,
                                                                 parse=_fixed_parse(twilio.MESSAGING.parse)))
    dry = _renormalize(capsys, "--provider", "twilio", "--since", "2000-01-01", "--dry-run")
    assert "events replaced 3" in dry and hub.table_items() == before
    out = _renormalize(capsys, "--provider", "twilio", "--since", "2000-01-01")
    assert "examined 3, unchanged 0, events replaced 3, messages revised 3; skipped none" in out, out

    after = hub.table_items()
    assert _shape(after) == _shape(before)  # same items, same conversations, same message ids
    texts = sorted(i["text"] for i in after if i.get("type") == "message" and i.get("direction") == "inbound")
    assert texts == ["Hello from Telegram", "Order 0 is late", "Order 1 is late", "Order 2 is late"]
    events = [json.loads(i["event"]) for i in after if i.get("type") == "inbox" and i["provider"] == "twilio"]
    assert all(not e["text"].endswith(CARRIER_TAG) for e in events)
    again = _renormalize(capsys, "--provider", "twilio", "--since", "2000-01-01")
    assert "examined 3, unchanged 3, events replaced 0" in again  # a second run changes nothing
    later = _renormalize(capsys, "--provider", "twilio", "--since", "2999-01-01")
    assert "examined 0" in later
    hub.pump.drain(timeout=30)  # the rewrites are updates: the relay queues nothing new
    assert _shape(hub.table_items()) == _shape(before)
