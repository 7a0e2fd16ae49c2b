"""End to end through `make run`: a Telegram customer's case answered and resolved by an agent gets a
CSAT survey with an inline keyboard in the provider sandbox, answers "5" through the signed webhook, and
the conversation (still resolved) and /reports/kpis show it."""

from __future__ import annotations

import secrets
import time
import urllib.request
from typing import Any

import pytest

from chalicelib.core.timestamps import utc_now
from chalicelib.reports.recorder import business_day
from devstack.simulators.base import send
from devstack.simulators.telegram import simulate_telegram_message
from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.e2e


def write(stack: LocalStack, chat: str, text: str) -> None:
    request = simulate_telegram_message(stack.secrets(), chat, text, name="Giulia Rossi", language="it",
                                        public_base_url=stack.api_url)
    assert 200 <= send(stack.api_url, request).status < 300


def wait_for_feedback(stack: LocalStack, conversation_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, conversation = stack.get(f"/conversations/{conversation_id}")
        if status == 200 and (conversation.get("feedback") or {}).get("score") is not None:
            return conversation
        time.sleep(0.3)
    raise AssertionError(f"no answer stored on {conversation_id} within {timeout} s")


def test_a_resolved_telegram_case_is_surveyed_answered_and_counted(local_stack: LocalStack) -> None:
    day = business_day(utc_now())
    _, before = local_stack.get(f"/reports/kpis?from={day}&to={day}&group_by=channel")
    chat = str(7_000_000_000 + secrets.randbelow(10**9))
    write(local_stack, chat, "Buongiorno, il mio ordine non è arrivato")
    conversation = local_stack.wait_for_conversation("telegram", chat)

    status, _ = local_stack.post(f"/conversations/{conversation['id']}/messages", {"text": "Spedito oggi, scusi!"})
    assert status == 202
    local_stack.wait_for_outbox(lambda e: e["provider"] == "telegram" and e["body"].get("chat_id") == chat
                                and e["body"].get("text") == "Spedito oggi, scusi!")
    status, resolved = local_stack.post(f"/conversations/{conversation['id']}/resolve", {})
    assert status == 200 and resolved["survey"] == "asked"

    survey = local_stack.wait_for_outbox(lambda e: e["provider"] == "telegram" and e["body"].get("chat_id") == chat
                                         and "reply_markup" in e["body"])
    assert "Quanto sei soddisfatto" in survey["body"]["text"]  # the customer's language
    [buttons] = survey["body"]["reply_markup"]["inline_keyboard"]
    assert [b["callback_data"] for b in buttons] == [f"omnihub-feedback:csat:{s}" for s in range(1, 6)]

    write(local_stack, chat, "5")
    answered = wait_for_feedback(local_stack, conversation["id"])
    thanks = local_stack.wait_for_outbox(lambda e: e["provider"] == "telegram" and e["body"].get("chat_id") == chat
                                         and str(e["body"].get("text", "")).startswith("Grazie"))
    assert "reply_markup" not in thanks["body"]
    assert answered["status"] == "resolved"
    assert answered["feedback"]["kind"] == "csat" and answered["feedback"]["score"] == 5
    assert answered["feedback"]["answered_at"] >= answered["feedback"]["asked_at"]
    assert "5" in [m["text"] for m in answered["messages"] if m["direction"] == "inbound"]
    _, customer = local_stack.get(f"/customers/lookup?channel=telegram&address={chat}")
    assert customer["conversation_ids"] == [conversation["id"]]  # the answer opened nothing

    status, report = local_stack.get(f"/reports/kpis?from={day}&to={day}&group_by=channel")
    assert status == 200
    assert report["csat"]["distribution"]["5"] == before["csat"]["distribution"]["5"] + 1
    telegram, earlier = report["groups"]["telegram"], before["groups"].get("telegram")
    assert telegram["csat"]["responses"] == (earlier["csat"]["responses"] if earlier else 0) + 1
    assert telegram["conversations"]["resolved"] >= 1 and telegram["first_response_minutes"]["median"] is not None
    request = urllib.request.Request(f"{local_stack.api_url}/reports/kpis.csv?from={day}&to={day}",
                                     headers={"x-api-key": "dev-support-key"})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/csv")
        lines = response.read().decode().splitlines()
    assert lines[0].startswith("group,from,to,conversations_opened") and lines[1].startswith(f"total,{day},{day},")
