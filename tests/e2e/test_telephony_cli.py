"""./hub simulate voice twilio|vonage plays a whole call against the local stack, and ./hub simulate
connect invokes the Connect contact flow's function (in its own process, on the stack's embedded AWS)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from typing import Any
from urllib.parse import quote

import pytest

from devstack.cli import main
from tests.conftest import ROOT
from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.e2e


@pytest.fixture
def hub_env(local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    monkeypatch.setenv("OMNIHUB_URL", local_stack.api_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_stack.aws_url)
    monkeypatch.setenv("OMNIHUB_STAGE", "local")
    return local_stack


def a_phone() -> str:
    return "+3933" + "".join(random.choices("0123456789", k=8))


def voice_messages(stack: LocalStack, phone: str, timeout: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        status, customer = stack.get(f"/customers/lookup?channel=voice&address={quote(phone)}")
        if status == 200 and customer["conversation_ids"]:
            _, conversation = stack.get(f"/conversations/{customer['conversation_ids'][0]}")
            found = [m for m in conversation["messages"] if m["channel"] == "voice"]
            if found and found[0].get("call", {}).get("ended") == "true":
                return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no ended call message for {phone}")
        time.sleep(0.3)


@pytest.mark.parametrize("provider", ["twilio", "vonage"])
def test_simulate_voice_plays_a_whole_call_into_one_message(hub_env: LocalStack, provider: str,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    phone = a_phone()
    assert main(["simulate", "voice", provider, "--from", phone]) == 0
    out = capsys.readouterr().out
    assert out.count("→ 200") == 6, out
    [message] = voice_messages(hub_env, phone)
    assert message["call"]["outcome"] == "voicemail"


def test_simulate_connect_invokes_the_contact_flow_function(hub_env: LocalStack) -> None:
    phone = a_phone()
    env = {**os.environ, "OMNIHUB_URL": hub_env.api_url, "AWS_ENDPOINT_URL": hub_env.aws_url}
    done = subprocess.run([sys.executable, "-m", "devstack.cli", "simulate", "connect", "--from", phone],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert '"known": "false"' in done.stdout and '"crisis_active": "false"' in done.stdout
    [message] = voice_messages(hub_env, phone)
    assert message["text"] == "missed call, no voicemail"
