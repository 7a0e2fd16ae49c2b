"""aws_calls_per_webhook: botocore API calls per signed webhook, and per message on the async path.

Moto runs in-process (mock_aws + provision), the app is driven through Chalice's test client and
the asynchronous path (stream relay, conversation worker) by LocalPump.drain(). Every API call of
every botocore client is counted, except those of the pump's own clients: they play Lambda's event
source mappings (GetRecords, ReceiveMessage, DeleteMessage), which the hub's code does not make.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from bench.common import (
    RESULTS,
    ROOT,
    STAGE,
    api_body,
    apply_environment,
    bench_environment,
    quiet_powertools,
    signed_headers,
)
from bench.report import Row

NAME = "aws_calls_per_webhook"
# The logical floor of the relay + worker calls per message (README, "Calls per message: the floor"):
# what exactly-once threading, routing, acknowledging and counting need when every write that can
# fold into another write of the same item does, and nothing is read twice.
FLOOR_FIRST_MESSAGE = 17
FLOOR_FOLLOW_UP = 15
GOAL_RATIO = 1.3
OUTPUT = RESULTS / "aws_calls.json"
TWILIO_AUTH_TOKEN = "bench-twilio-auth-token"


class CallLog:
    """Counts (phase, operation) of every botocore API call, but for the clients it is told to ignore."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[str, str]] = Counter()
        self.units: Counter[str] = Counter()  # request units since the last take (bench.request_units)
        self.ignored: set[int] = set()
        self.phase = "webhook"

    def counts_client(self, client: Any) -> bool:
        return id(client) not in self.ignored

    def record(self, client: Any, operation: str) -> None:
        if self.counts_client(client):
            self.counts[(self.phase, operation)] += 1

    def record_units(self, reported: float, reads: float, writes: float) -> None:
        self.units.update({"moto_reported": reported, "read_units": reads, "write_units": writes})

    def take_units(self) -> dict[str, float]:
        """Request units since the last call: moto's reported TOTAL and the on-demand estimate."""
        taken = {key: float(self.units.get(key, 0.0)) for key in ("moto_reported", "read_units", "write_units")}
        self.units.clear()
        return taken

    def take(self) -> dict[str, dict[str, int]]:
        """The counts so far, by phase then operation, and start again from zero."""
        phases: dict[str, dict[str, int]] = {}
        for (phase, operation), calls in sorted(self.counts.items()):
            phases.setdefault(phase, {})[operation] = calls
        self.counts.clear()
        return phases

    @contextlib.contextmanager
    def as_phase(self, phase: str) -> Iterator[None]:
        previous, self.phase = self.phase, phase
        try:
            yield
        finally:
            self.phase = previous


def _conditional_failure(err: Exception) -> bool:
    response = getattr(err, "response", None) or {}
    return response.get("Error", {}).get("Code") in ("ConditionalCheckFailedException", "TransactionCanceledException")


@contextlib.contextmanager
def counting(log: CallLog) -> Iterator[None]:
    """Wrap BaseClient._make_api_call: every client sees it, whoever built it (runtime, Powertools...).

    A counted DynamoDB call is asked ``ReturnConsumedCapacity=TOTAL`` (what the hub's code reads
    of a response is unchanged) and its request units are added up (bench.request_units)."""
    from botocore.client import BaseClient

    from bench.request_units import WITH_CONSUMED_CAPACITY, estimated_units, reported_units

    original = BaseClient._make_api_call

    def counted(client: Any, operation_name: str, api_params: Mapping[str, Any]) -> Any:
        log.record(client, operation_name)
        dynamodb = client.meta.service_model.service_name == "dynamodb"
        if not (dynamodb and operation_name in WITH_CONSUMED_CAPACITY and log.counts_client(client)):
            return original(client, operation_name, api_params)
        params = {"ReturnConsumedCapacity": "TOTAL", **api_params}
        try:
            response = original(client, operation_name, params)
        except Exception as err:
            if _conditional_failure(err):  # a refused conditional write still consumes its unit
                log.record_units(1.0, 0.0, 1.0)
            raise
        log.record_units(reported_units(response), *estimated_units(operation_name, params, response))
        return response

    BaseClient._make_api_call = counted
    try:
        yield
    finally:
        BaseClient._make_api_call = original


class _IgnoredClients:
    """A boto3 session whose clients the call log leaves out (the pump's event-source clients)."""

    def __init__(self, session: Any, log: CallLog) -> None:
        self._session = session
        self._log = log

    def client(self, *args: Any, **kwargs: Any) -> Any:
        client = self._session.client(*args, **kwargs)
        self._log.ignored.add(id(client))
        return client


def _phased(handlers: Mapping[str, Callable[..., Any]], log: CallLog) -> dict[str, Callable[..., Any]]:
    def wrap(name: str, handler: Callable[..., Any]) -> Callable[..., Any]:
        def run(event: dict[str, Any], context: Any) -> Any:
            with log.as_phase(name):
                return handler(event, context)

        return run

    return {name: wrap(name, handler) for name, handler in handlers.items()}


def _added(*units: Mapping[str, float]) -> dict[str, float]:
    return {key: round(sum(u.get(key, 0.0) for u in units), 2) for key in units[0]}


def _total(phases: Mapping[str, Mapping[str, int]]) -> int:
    return sum(sum(ops.values()) for ops in phases.values())


def _by_operation(phases: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    merged: Counter[str] = Counter()
    for operations in phases.values():
        merged.update(operations)
    return dict(sorted(merged.items(), key=lambda item: (-item[1], item[0])))


def _describe(operations: Mapping[str, int]) -> str:
    return ", ".join(f"{name} {calls}" for name, calls in operations.items())


def _twilio_entry(phases: Mapping[str, Mapping[str, int]]) -> dict[str, Any]:
    calls = dict(phases.get("webhook", {}))
    return {
        "calls": sum(calls.values()),
        "by_operation": _by_operation({"webhook": calls}),
        "acknowledged_in_twiml": bool(phases.get("acknowledged_in_twiml", {}).get("yes")),
    }


def measure(webhooks: int) -> dict[str, Any]:
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from devstack.simulators.twilio import simulate_twilio_messaging_message

    environment = {**bench_environment(), "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN}
    apply_environment(environment)
    log = CallLog()
    with mock_aws(), quiet_powertools():
        from chalicelib.adapters import runtime
        from devstack.provision import provision
        from devstack.pump import LocalPump, app_handlers

        session = boto3.session.Session()
        provisioned = provision(session, STAGE)
        os.environ["OMNIHUB_TABLE_STREAM_ARN"] = provisioned.stream_arn
        runtime.reset()
        import app as app_module

        handlers = _phased(app_handlers(app_module), log)
        pump = LocalPump(_IgnoredClients(session, log), STAGE, provisioned.stream_arn, handlers)
        with Client(app_module.app, stage_name=STAGE, project_dir=str(ROOT)) as client, counting(log):

            def post(sender: str, text: str, event_id: str) -> None:
                body = api_body(sender, text, event_id)
                response = client.http.post("/webhooks/api", body=body, headers=signed_headers(body))
                if response.status_code != 200:
                    raise RuntimeError(f"webhook answered {response.status_code}: {response.body!r}")

            def one_message(sender: str, event_id: str) -> dict[str, Any]:
                post(sender, "Hello, my order has not arrived", event_id)
                webhook = log.take()
                webhook_units = log.take_units()
                pump.drain()
                asynchronous = log.take()
                return {"webhook": webhook, "async": asynchronous, "async_by_operation": _by_operation(asynchronous),
                        "request_units": _added(webhook_units, log.take_units())}

            def post_twilio(phone: str) -> dict[str, dict[str, int]]:
                """One Twilio SMS from ``phone``: the calls of its synchronous path (instant acknowledgment)."""
                request = simulate_twilio_messaging_message(
                    {"TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN}, phone, "Hello, my order has not arrived",
                    public_base_url=environment["PUBLIC_BASE_URL"], channel="sms",
                )
                response = client.http.post(request.path, body=request.body, headers=request.headers)
                if response.status_code != 200:
                    raise RuntimeError(f"twilio webhook answered {response.status_code}: {response.body!r}")
                webhook = log.take()
                pump.drain()
                log.take()
                return webhook | {"acknowledged_in_twiml": {"yes": int(b"<Message>" in response.body)}}

            cold = one_message("bench-warmup", "warmup-1")  # the containers' first calls (queue URLs...)
            first = one_message("bench-alice", "alice-1")
            follow_up = one_message("bench-alice", "alice-2")
            post_twilio("+15550000001")  # warm-up: the acknowledgment policy's first load
            twilio_first = post_twilio("+15550000002")
            twilio_follow_up = post_twilio("+15550000002")
            started = time.perf_counter()
            for index in range(webhooks):
                post(f"bench-customer-{index}", "Hi", f"load-{index}")
            elapsed = time.perf_counter() - started
            load = log.take()
        runtime.reset()
    return {
        "webhooks": webhooks,
        "calls_per_webhook": _total(load) / webhooks,
        "webhook_calls": load.get("webhook", {}),
        "webhook_seconds_in_process": elapsed,
        "async_per_message": {"first_message_new_customer": first, "follow_up_message": follow_up},
        "twilio_messaging_webhook": {
            "first_message_new_customer": _twilio_entry(twilio_first),
            "follow_up_message": _twilio_entry(twilio_follow_up),
        },
        "cold_container_first_message": cold,
    }


def run(quick: bool) -> list[Row]:
    result = measure(webhooks=10 if quick else 200)
    RESULTS.mkdir(exist_ok=True)
    OUTPUT.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    rows = [
        Row(
            NAME,
            result["calls_per_webhook"],
            "calls",
            floor=1.0,
            goal="1.0",
            note=_describe(result["webhook_calls"]) + f" over {result['webhooks']} webhooks",
        )
    ]
    cases = (("first message", "first_message_new_customer", FLOOR_FIRST_MESSAGE),
             ("follow-up", "follow_up_message", FLOOR_FOLLOW_UP))
    for label, key, floor in cases:
        entry = result["async_per_message"][key]
        rows.append(
            Row(f"  async calls/{label}", _total(entry["async"]), "calls", floor=float(floor), goal=f"≤ {GOAL_RATIO}",
                note=_describe(entry["async_by_operation"]) + "; floor: README, calls per message")
        )
    for label, key, _ in cases:
        units = result["async_per_message"][key]["request_units"]
        rows.append(
            Row(f"  request units/{label}", units["read_units"] + units["write_units"], "RU",
                note=f"{units['write_units']:g} WRU + {units['read_units']:g} RRU by DynamoDB's on-demand rules "
                     f"(webhook included; base table); moto reports {units['moto_reported']:g}")
        )
    for label, key in (("first message", "first_message_new_customer"), ("follow-up", "follow_up_message")):
        twilio = result["twilio_messaging_webhook"][key]
        ack = "ack in TwiML" if twilio["acknowledged_in_twiml"] else "no ack in TwiML"
        rows.append(
            Row(
                f"  twilio/messaging calls/{label}",
                twilio["calls"],
                "calls",
                note=f"{_describe(twilio['by_operation'])} ({ack}; generic channel: 1)",
            )
        )
    return rows
