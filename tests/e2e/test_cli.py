"""./hub against the local stack: simulate, queues, tail, replay, outbox, lookup."""

from __future__ import annotations

import json
import uuid

import pytest

from devstack.cli import main
from tests.e2e.conftest import LocalStack

pytestmark = pytest.mark.e2e


@pytest.fixture
def hub_env(local_stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> LocalStack:
    monkeypatch.setenv("OMNIHUB_URL", local_stack.api_url)
    monkeypatch.setenv("AWS_ENDPOINT_URL", local_stack.aws_url)
    monkeypatch.setenv("OMNIHUB_SANDBOX_URL", local_stack.sandbox_url)
    monkeypatch.setenv("OMNIHUB_STAGE", "local")
    return local_stack


def test_simulate_lookup_and_queues(hub_env: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    sender = "cli-" + uuid.uuid4().hex[:8]
    assert main(["simulate", "api", "--from", sender, "--text", "hello from the cli"]) == 0
    assert "→ 200" in capsys.readouterr().out
    hub_env.wait_for_conversation("webchat", sender)
    assert main(["lookup", "webchat", sender]) == 0
    assert json.loads(capsys.readouterr().out)["identities"] == [{"channel": "webchat", "address": sender}]
    assert main(["queues"]) == 0
    table = capsys.readouterr().out
    for name in ("inbound", "inbound-dlq", "route-default", "outbound", "outbound-dlq", "escalation"):
        assert f"omnihub-local-{name}.fifo" in table


def test_a_forged_simulation_fails_with_the_reason(hub_env: LocalStack, monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("OMNIHUB_API_SIGNING_SECRET", "not-the-hub-secret")
    assert main(["simulate", "api", "--from", "mallory", "--text", "hi"]) == 1
    assert "401" in capsys.readouterr().out


def test_tail_prints_routed_envelopes(hub_env: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    hub_env.route_envelopes()  # start from an empty route queue
    text = "tail me " + uuid.uuid4().hex[:6]
    main(["simulate", "api", "--from", "tail-" + uuid.uuid4().hex[:6], "--text", text])
    capsys.readouterr()
    assert main(["tail", "route-default", "--count", "1", "--timeout", "20"]) == 0
    assert json.loads(capsys.readouterr().out)["message"]["text"] == text


def test_replay_moves_dead_letters_back(hub_env: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    sqs = hub_env.sqs()
    dlq = sqs.get_queue_url(QueueName="omnihub-local-escalation-dlq.fifo")["QueueUrl"]
    sqs.send_message(QueueUrl=dlq, MessageBody='{"schema": "test"}', MessageGroupId="g",
                     MessageDeduplicationId=uuid.uuid4().hex)
    assert main(["replay", "escalation-dlq"]) == 0
    assert "moved 1 message(s)" in capsys.readouterr().out
    queue = sqs.get_queue_url(QueueName="omnihub-local-escalation.fifo")["QueueUrl"]
    [message] = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1)["Messages"]
    assert json.loads(message["Body"]) == {"schema": "test"}
    with pytest.raises(SystemExit):
        main(["replay", "route-default"])  # not a dead-letter queue


def test_outbox_shows_what_the_providers_received(hub_env: LocalStack, capsys: pytest.CaptureFixture[str]) -> None:
    number = "39333" + str(uuid.uuid4().int)[:7]
    main(["simulate", "whatsapp", "--from", number, "--text", "ciao", "--name", "Pia"])
    hub_env.wait_for_outbox(lambda e: e["body"].get("to") == number)
    capsys.readouterr()
    assert main(["outbox"]) == 0
    assert number in capsys.readouterr().out


@pytest.mark.parametrize(("command", "channel"), [
    (("messenger", "comment"), "messenger"), (("instagram", "comment"), "instagram"), (("x", "mention"), "x"),
])
def test_simulated_comments_and_mentions_open_public_conversations(
    hub_env: LocalStack, capsys: pytest.CaptureFixture[str], command: tuple[str, str], channel: str
) -> None:
    sender = str(10**15 + uuid.uuid4().int % 10**14)
    assert main(["simulate", *command, "--from", sender, "--text", "my parcel never arrived"]) == 0
    assert "→ 200" in capsys.readouterr().out
    conversation = hub_env.wait_for_conversation(channel, sender)
    assert conversation["public"] is True and conversation["post_id"]
@pytest.mark.parametrize("action", ["sns", "s3"])
def test_simulate_ses_plays_both_receipt_actions(hub_env: LocalStack, action: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """SES's SNS action (the mail in a signed notification) and its S3 action (the mail written to the
    local bucket, whose notification reaches receive_mail_objects through the pump, plus the SNS
    notification naming the object): either way one conversation."""
    sender = f"ses-{action}-{uuid.uuid4().hex[:8]}@example.com"
    command = ["simulate", "ses", "--from", sender, "--text", f"hello through {action}", "-o", f"action={action}"]
    assert main(command) == 0
    assert "→ 200" in capsys.readouterr().out
    conversation = hub_env.wait_for_conversation("email", sender)
    assert conversation["channel"] == "email"
