"""``./hub``: the command line a new user runs beside ``make run``.

  ./hub simulate api --from alice --text "Hello"     a webhook signed as the provider would sign it
  ./hub simulate voice twilio --from +393331234567   a whole phone call (also: voice vonage, connect)
  ./hub simulate x mention --from 1497230178432225283 --text "@acmecare hi"   a DM, comment or mention
  ./hub queues                                        depth of every queue and DLQ
  ./hub tail route-default                            print envelopes as they arrive
  ./hub replay inbound-dlq                            move dead letters back to their queue
  ./hub renormalize --provider twilio --since 2026-12-01   parse stored raw payloads again (parser fix)
  ./hub conversation cnv_...                          a conversation and its messages (REST API)
  ./hub rules test --channel whatsapp --text "..."    which routing rule matches, and why
  ./hub backfill customers                            old customer profiles into the broadcast index

It talks to the hub at OMNIHUB_URL (default http://127.0.0.1:8000) and to the embedded AWS at
AWS_ENDPOINT_URL (default http://127.0.0.1:4566), stage OMNIHUB_STAGE (default local), with the
secrets from the environment or, failing that, the development values ``make run`` prints.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

from chalicelib.adapters import resources
from chalicelib.providers.registry import Simulator, load, simulators
from devstack.backfill_cli import add_backfill_parser
from devstack.dead_letters import replay_dead_letters
from devstack.local_aws import local_aws_client
from devstack.renormalize_cli import add_renormalize_parser
from devstack.rules_cli import add_rules_parser
from devstack.run import DEV_SECRETS
from devstack.simulators.base import send


def _secrets() -> dict[str, str]:
    return {name: os.environ.get(name) or value for name, value in DEV_SECRETS.items()}


def _hub_url() -> str:
    return os.environ.get("OMNIHUB_URL", "http://127.0.0.1:8000").rstrip("/")


def _stage() -> str:
    return os.environ.get("OMNIHUB_STAGE", "local")


def _sqs() -> Any:
    return local_aws_client("sqs")


# ---------------------------------------------------------------- simulate
# A builder returns one signed request, a whole call's requests in order, or a Lambda event (a dict).
SimulatorBuilder = Callable[[argparse.Namespace, dict[str, str]], Any]


class SimulateUsageError(ValueError):
    """A kind the provider's simulator does not have (``./hub simulate sms comment``)."""


def _simulator(simulator: Simulator) -> SimulatorBuilder:
    def build(args: argparse.Namespace, secrets: dict[str, str]) -> Any:
        simulate = load(simulator.target)  # imported when this command runs
        kwargs: dict[str, Any] = {"name": args.name, "language": args.language, "public_base_url": _hub_url()}
        if args.event_id:
            kwargs["event_id"] = args.event_id
        kwargs.update(simulator.options)
        kind = getattr(args, "kind", None)
        if kind is not None:
            if kind not in simulator.kinds:
                choices = "|".join(simulator.kinds) or "none"
                raise SimulateUsageError(f"{simulator.command} simulates {choices}, not {kind!r}")
            kwargs["kind"] = kind
        for extra in args.option or []:
            key, _, value = extra.partition("=")
            kwargs[key.replace("-", "_")] = value
        text = getattr(args, "text", None)
        if text is None:
            if inspect.signature(simulate).parameters["text"].default is inspect.Parameter.empty:
                raise SystemExit(f"./hub simulate {simulator.command} needs --text")
            return simulate(secrets, args.sender, **kwargs)
        return simulate(secrets, args.sender, text, **kwargs)

    return build


# ``./hub simulate <command>`` → (builder, help line): a view of the provider registry.
SIMULATORS: dict[str, tuple[SimulatorBuilder, str]] = {
    command: (_simulator(simulator), simulator.summary) for command, simulator in simulators().items()
}


def simulate_command(args: argparse.Namespace) -> str:
    """The simulator a command line names. Its second word is either part of the simulator's name
    (``simulate voice twilio`` is ``voice-twilio``) or what the customer does (``simulate x mention``:
    the simulator ``x``, kind ``mention``); ``simulate twilio-sms`` is itself. Sets ``args.kind``."""
    second = args.kind
    joined = f"{args.provider}-{second}" if second else None
    if joined is not None and joined in SIMULATORS:
        args.kind = None
        return joined
    if args.provider not in SIMULATORS:
        raise SystemExit(f"unknown simulator {args.provider!r}; known: {', '.join(sorted(SIMULATORS))}")
    return args.provider


def cmd_simulate(args: argparse.Namespace) -> int:
    builder, _ = SIMULATORS[simulate_command(args)]
    try:
        built = builder(args, _secrets())
    except SimulateUsageError as err:
        print(f"hub simulate: {err}", file=sys.stderr)
        return 2
    if isinstance(built, dict):
        return _invoke_contact_flow(built)
    failed = 0
    for request in built if isinstance(built, list) else [built]:  # a phone call: its callbacks in order
        response = send(_hub_url(), request)
        print(f"{request.method} {request.path.partition('?')[0]} → {response.status}")
        if response.body:
            print(response.body.decode("utf-8", "replace"))
        failed += not 200 <= response.status < 300
    return 1 if failed else 0


def _invoke_contact_flow(event: dict[str, Any]) -> int:
    """Amazon Connect: the flow's function, then the contact's end (no agent took it), both in this
    process against the running stack (devstack/invoke.py says why and how)."""
    from devstack.invoke import invoke_app_function
    from devstack.simulators.voice import simulate_connect_contact_event

    answer = invoke_app_function(resources.CONTACT_FLOW_FUNCTION, event)
    print(f"{resources.CONTACT_FLOW_FUNCTION} → {json.dumps(answer, ensure_ascii=False)}")
    contact_id = event["Details"]["ContactData"]["ContactId"]
    ended = invoke_app_function(resources.CONTACT_EVENTS_CONSUMER, simulate_connect_contact_event(contact_id))
    print(f"{resources.CONTACT_EVENTS_CONSUMER} (DISCONNECTED) → {json.dumps(ended)}")
    return 0


# ---------------------------------------------------------------- queues
def _all_queue_names() -> list[str]:
    names = []
    for spec in resources.all_queues():
        names += [resources.queue_name(_stage(), spec), resources.dlq_name(_stage(), spec)]
    return names


def _resolve_queue(name: str) -> str:
    """``route-default``, ``inbound-dlq`` or a full queue name → the full name."""
    for full in _all_queue_names():
        short = full.removeprefix(f"omnihub-{_stage()}-").removesuffix(".fifo")
        if name in (full, short):
            return full
    raise SystemExit(f"unknown queue {name!r}; known: {', '.join(_all_queue_names())}")


def cmd_queues(args: argparse.Namespace) -> int:
    sqs = _sqs()
    print(f"{'queue':45} {'visible':>8} {'in flight':>10}")
    for name in _all_queue_names():
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        print(
            f"{name:45} {attributes['ApproximateNumberOfMessages']:>8} "
            f"{attributes['ApproximateNumberOfMessagesNotVisible']:>10}"
        )
    return 0


def cmd_tail(args: argparse.Namespace) -> int:
    sqs = _sqs()
    url = sqs.get_queue_url(QueueName=_resolve_queue(args.queue))["QueueUrl"]
    printed = 0
    deadline = time.monotonic() + args.timeout if args.timeout else None
    try:
        while (deadline is None or time.monotonic() < deadline) and (not args.count or printed < args.count):
            messages = sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, AttributeNames=["All"]
            ).get("Messages", [])
            for message in messages:
                try:
                    body: Any = json.loads(message["Body"])
                except json.JSONDecodeError:
                    body = message["Body"]
                print(json.dumps(body, indent=2, ensure_ascii=False), flush=True)
                printed += 1
                if args.peek:
                    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"],
                                                  VisibilityTimeout=0)
                else:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            if args.peek and messages:
                break  # peeking again would print the same messages forever
    except KeyboardInterrupt:
        pass
    return 0


def cmd_replay(args: argparse.Namespace) -> int:
    try:
        target, moved = replay_dead_letters(_sqs(), _stage(), _resolve_queue(args.dlq))
    except ValueError as err:
        raise SystemExit(str(err)) from err
    print(f"moved {moved} message(s) from {_resolve_queue(args.dlq)} back to {target}")
    return 0


# ---------------------------------------------------------------- REST helpers
def _rest_get(path: str) -> int:
    key = os.environ.get("OMNIHUB_API_KEY") or "dev-support-key"
    request = urllib.request.Request(_hub_url() + path, headers={"x-api-key": key})  # noqa: S310 - the hub's URL
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            print(json.dumps(json.loads(response.read()), indent=2, ensure_ascii=False))
            return 0
    except urllib.error.HTTPError as err:
        print(f"{err.code}: {err.read().decode('utf-8', 'replace')}", file=sys.stderr)
        return 1


def cmd_outbox(args: argparse.Namespace) -> int:
    """What the provider sandbox received: the messages the hub would have sent."""
    base = os.environ.get("OMNIHUB_SANDBOX_URL", "http://127.0.0.1:4580").rstrip("/")
    with urllib.request.urlopen(f"{base}/_sandbox/outbox?since={args.since}", timeout=10) as response:  # noqa: S310
        entries = json.loads(response.read())
    for entry in entries if isinstance(entries, list) else entries.get("requests", []):
        print(json.dumps(entry, indent=2, ensure_ascii=False))
    return 0


def cmd_conversation(args: argparse.Namespace) -> int:
    return _rest_get(f"/conversations/{args.conversation_id}")


def cmd_lookup(args: argparse.Namespace) -> int:
    from urllib.parse import urlencode

    return _rest_get("/customers/lookup?" + urlencode({"channel": args.channel, "address": args.address}))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hub", description="Omnihub's local command line (beside `make run`).")
    commands = parser.add_subparsers(dest="command", required=True)

    simulate = commands.add_parser("simulate", help="send a webhook signed exactly as a provider would")
    simulate.add_argument("provider", help="; ".join(
        f"{name}: {text}" for name, (_, text) in sorted(SIMULATORS.items())))
    simulate.add_argument("kind", nargs="?", help="the second word: the provider of a call (`simulate voice "
                          "<provider>`), or what the customer does where the channel has a choice (dm, comment, "
                          "mention, reply: see each simulator above; default dm)")
    simulate.add_argument("--from", dest="sender", required=True, help="the customer's address on that channel")
    simulate.add_argument("--text", help="the message (required except for calls: then the voicemail's words)")
    simulate.add_argument("--name")
    simulate.add_argument("--language")
    simulate.add_argument("--event-id", help="the provider's event id (repeat it to try deduplication)")
    simulate.add_argument("-o", "--option", action="append", help="provider-specific KEY=VALUE")
    simulate.set_defaults(func=cmd_simulate)

    queues = commands.add_parser("queues", help="depth of every queue and DLQ")
    queues.set_defaults(func=cmd_queues)

    tail = commands.add_parser("tail", help="print envelopes as they arrive on a queue (consumes them)")
    tail.add_argument("queue", help="route-default, inbound, outbound, escalation, ...-dlq or a full name")
    tail.add_argument("--count", type=int, default=0, help="stop after N envelopes")
    tail.add_argument("--timeout", type=float, default=0, help="stop after N seconds")
    tail.add_argument("--peek", action="store_true", help="print what is there and leave it on the queue")
    tail.set_defaults(func=cmd_tail)

    replay = commands.add_parser("replay", help="move a DLQ's messages back to its queue")
    replay.add_argument("dlq")
    replay.set_defaults(func=cmd_replay)

    outbox = commands.add_parser("outbox", help="what the provider sandbox received (the messages sent)")
    outbox.add_argument("--since", type=int, default=0, help="skip the first N recorded requests")
    outbox.set_defaults(func=cmd_outbox)

    conversation = commands.add_parser("conversation", help="GET /conversations/{id}")
    conversation.add_argument("conversation_id")
    conversation.set_defaults(func=cmd_conversation)

    lookup = commands.add_parser("lookup", help="GET /customers/lookup")
    lookup.add_argument("channel")
    lookup.add_argument("address")
    lookup.set_defaults(func=cmd_lookup)
    add_rules_parser(commands)
    add_backfill_parser(commands)
    add_renormalize_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    sys.exit(main())
