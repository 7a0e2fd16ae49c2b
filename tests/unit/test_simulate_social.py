"""``./hub simulate messenger|instagram|x <kind>``: DMs, comments and mentions, signed as the providers
sign them, and read by the hub's own parsers as what they imitate."""

from __future__ import annotations

import pytest

from chalicelib.core.model import Channel, EventKind, InboundEvent
from chalicelib.providers.base import WebhookRequest
from chalicelib.providers.meta import parse_meta_event
from chalicelib.providers.meta.signature import verify_meta_signature
from chalicelib.providers.x import parse_x_event, verify_x_signature
from devstack.cli import SIMULATORS, build_parser, cmd_simulate
from tests.conftest import TEST_SECRETS


def simulated(*argv: str) -> list[InboundEvent]:
    args = build_parser().parse_args(["simulate", *argv])
    builder, _ = SIMULATORS[args.provider]
    request = builder(args, dict(TEST_SECRETS))
    headers = {name.lower(): value for name, value in request.headers.items()}
    webhook = WebhookRequest(method="POST", path=request.path, headers=headers, body=request.body,
                             received_at="2026-12-07T03:00:00.000Z")
    if args.provider == "x":
        verify_x_signature(webhook, TEST_SECRETS, 0)
        return parse_x_event(webhook)
    verify_meta_signature(webhook, TEST_SECRETS, 0)
    return parse_meta_event(webhook)


@pytest.mark.parametrize(("argv", "channel", "public"), [
    (("messenger", "--from", "6543210987654321"), Channel.MESSENGER, False),
    (("messenger", "dm", "--from", "6543210987654321"), Channel.MESSENGER, False),
    (("messenger", "comment", "--from", "7418529630147258"), Channel.MESSENGER, True),
    (("instagram", "dm", "--from", "1254459154682919"), Channel.INSTAGRAM, False),
    (("instagram", "comment", "--from", "232323232"), Channel.INSTAGRAM, True),
    (("x", "dm", "--from", "1497230178432225283"), Channel.X, False),
    (("x", "mention", "--from", "1497230178432225283"), Channel.X, True),
    (("x", "reply", "--from", "1497230178432225283"), Channel.X, True),
])
def test_each_kind_is_the_event_it_imitates(argv: tuple[str, ...], channel: Channel, public: bool) -> None:
    [event] = simulated(*argv, "--text", "my parcel never arrived")
    assert event.kind is EventKind.MESSAGE and event.channel is channel
    assert (event.metadata.get("public") == "true") is public
    assert event.text is not None and "my parcel never arrived" in event.text


def test_an_instagram_mention_carries_ids_only_as_meta_sends_it() -> None:
    [event] = simulated("instagram", "mention", "--from", "232323232", "--text", "ignored")
    assert event.kind is EventKind.UNKNOWN and event.metadata["type"] == "mention"
    assert event.metadata["needs_lookup"] == "true" and event.metadata["public"] == "true"


def test_a_kind_the_channel_does_not_have_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(["simulate", "messenger", "mention", "--from", "1", "--text", "x"])
    assert cmd_simulate(args) == 2
    assert "messenger simulates dm|comment, not 'mention'" in capsys.readouterr().err
    args = build_parser().parse_args(["simulate", "api", "comment", "--from", "1", "--text", "x"])
    assert cmd_simulate(args) == 2
