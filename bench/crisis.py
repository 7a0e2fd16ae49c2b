"""crisis_broadcast: SQS and DynamoDB calls per 1,000 recipients, and recipients planned per second.

Moto in-process, the table and queues provisioned as `make run` does. The planner pages 1,000
customers through the customers index and queues them (floor: 100 SendMessageBatch calls of ten);
the worker then sends a sample of recipients through the outbox (its calls scaled to 1,000), with
send rates raised so that pacing never waits (pacing is measured by the tests, not here).

The sampled broadcasts then get the provider's ``delivered`` callback, twice (a redelivery): the
DynamoDB calls per callback against a plain message's callback measured in the same run (the floor: the
pointer read and one conditional update). And the dry run over the same 1,000 customers, exact (within
its default budget): its time and calls.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import replace
from typing import Any

from bench.common import RESULTS, STAGE, apply_environment, bench_environment, quiet_powertools
from bench.report import Row

NAME = "crisis_broadcast"
OUTPUT = RESULTS / "crisis.json"


def _counted(client: Any, counts: Counter[str], service: str) -> Any:
    def before_call(model: Any, **_: Any) -> None:
        counts[f"{service}:{model.name}"] += 1

    client.meta.events.register("before-call", before_call)
    return client


def measure(recipients: int, sampled: int) -> dict[str, Any]:
    import boto3
    from moto import mock_aws

    from chalicelib.adapters.dynamo import Table, dynamo_repositories
    from chalicelib.adapters.dynamo.crisis import DynamoCrisis
    from chalicelib.adapters.dynamo.pacing import DynamoPacer
    from chalicelib.adapters.resources import BROADCAST_QUEUE, table_name
    from chalicelib.adapters.sqs import SqsBus
    from chalicelib.core.model import Channel, Conversation, ConversationStatus, Customer, Identity, Priority
    from chalicelib.crisis.config import SendRate, load_crisis_config
    from chalicelib.crisis.incidents import create_incident
    from chalicelib.crisis.planner import plan_update
    from chalicelib.crisis.ports import CrisisPorts
    from chalicelib.handlers.broadcast import handle_broadcast_message
    from devstack.moto_tuning import tune_moto
    from devstack.provision import provision

    apply_environment(bench_environment())
    tune_moto()  # as the dev stack runs it: a transaction backs up its items, not the table (moto_tuning.py)
    with mock_aws(), quiet_powertools():
        session = boto3.session.Session(region_name="us-east-1")
        provision(session, STAGE)
        counts: Counter[str] = Counter()
        dynamodb = _counted(session.client("dynamodb"), counts, "dynamodb")
        sqs = _counted(session.client("sqs"), counts, "sqs")
        table = Table(dynamodb, table_name(STAGE))
        repos = dynamo_repositories(dynamodb, table_name(STAGE))
        for number in range(recipients):
            customer_id, at = f"c{number:07d}", f"2027-01-01T00:00:00.{number:06d}Z"
            repos.customers.create(Customer(id=customer_id, name=None, language="it", tier="standard",
                                            identities=(Identity(Channel.SMS, f"+39333{number:07d}"),), created_at=at))
            repos.conversations.create(Conversation(
                id=f"v{number:07d}", reference=f"OH-{number:07d}", status=ConversationStatus.OPEN,
                priority=Priority.NORMAL, route="default", customer_id=customer_id, channel=Channel.SMS,
                created_at=at, updated_at=at, last_inbound_at=at))
            repos.customers.claim_open_conversation(customer_id, f"v{number:07d}", None)
        fast = {name: SendRate(1e6, 1e6) for name in ("default", "sms", "whatsapp", "messenger")}
        ports = CrisisPorts(repos=repos, store=DynamoCrisis(table), pacer=DynamoPacer(table),
                            bus=SqsBus(sqs, STAGE), config=replace(load_crisis_config(), rates=fast),
                            environ={"OMNIHUB_SMS_PROVIDER": "twilio"})
        body = {"title": "Bench", "status": "investigating", "message": {"it": "Guasto"}, "audience": {}}
        incident, _ = create_incident(ports, body)
        queue_url = sqs.get_queue_url(QueueName=f"omnihub-{STAGE}-{BROADCAST_QUEUE.logical_name}")["QueueUrl"]
        counts.clear()
        started = time.perf_counter()
        plan_update(ports, incident["id"], incident["updates"][0]["id"])
        planning_seconds = time.perf_counter() - started
        planner = dict(counts)
        counts.clear()
        bodies: list[dict[str, Any]] = []
        while len(bodies) < sampled:
            got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            bodies += [json.loads(m["Body"]) for m in got if json.loads(m["Body"])["type"] == "recipient"]
        counts.clear()
        cache: dict[Any, Any] = {}
        outcomes = Counter(handle_broadcast_message(b, ports, cache) for b in bodies[:sampled])
        worker = {op: n * recipients / sampled for op, n in counts.items()}
        callbacks = _callbacks(repos, ports, incident, [b["customer_id"] for b in bodies[:sampled]], counts)
        counts.clear()
        started = time.perf_counter()
        dry, _ = create_incident(ports, {**body, "dry_run": True})
        dry_run = {"seconds": time.perf_counter() - started, "calls": dict(counts), "total": dry["audience"]["total"],
                   "estimated": dry["estimated"]}
    return {"recipients": recipients, "planner_calls": planner, "planning_seconds": planning_seconds,
            "worker_calls_per_1000": worker, "worker_sample": sampled, "outcomes": dict(outcomes),
            "delivered_callbacks": callbacks, "dry_run": dry_run}


def _callbacks(repos: Any, ports: Any, incident: dict[str, Any], customer_ids: list[str],
               counts: Counter[str]) -> dict[str, Any]:
    """DynamoDB calls per ``delivered`` callback: a plain message's (the floor), a broadcast's, a redelivered one."""
    from chalicelib.core.model import DeliveryStatus, Direction, Message

    broadcasts = []
    for customer_id in customer_ids:
        found = repos.conversations.get_with_messages("v" + customer_id[1:])
        broadcasts += [m for m in (found[1] if found else ()) if m.broadcast is not None]
    plain = Message(id="ack-bench", conversation_id="v" + customer_ids[0][1:], direction=Direction.OUTBOUND,
                    channel=broadcasts[0].channel, created_at="2027-01-02T00:00:00.000Z", text="ok",
                    status=DeliveryStatus.QUEUED)
    repos.messages.put(plain, kind="acknowledgment")
    for number, message in enumerate([plain, *broadcasts]):
        repos.messages.record_outbound_result(message, status=DeliveryStatus.SENT, provider="twilio",
                                              provider_message_id=f"SMbench{number:06d}")

    def calls_of(numbers: range) -> float:
        counts.clear()
        for number in numbers:
            repos.messages.apply_delivery_status("twilio", f"SMbench{number:06d}", DeliveryStatus.DELIVERED, None)
        return sum(counts.values()) / len(numbers)

    floor = calls_of(range(0, 1))
    broadcast = calls_of(range(1, len(broadcasts) + 1))
    redelivered = calls_of(range(1, len(broadcasts) + 1))
    update = ports.store.get_update(incident["id"], incident["updates"][0]["id"])
    delivered = sum(n for (counter, _), n in update.progress.counts.items() if counter == "delivered")
    return {"plain_calls": floor, "broadcast_calls": broadcast, "redelivered_calls": redelivered,
            "callbacks": len(broadcasts), "delivered_counted": delivered}


def run(quick: bool) -> list[Row]:
    result = measure(recipients=200 if quick else 1000, sampled=50 if quick else 200)
    RESULTS.mkdir(exist_ok=True)
    OUTPUT.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    per_thousand = 1000 / result["recipients"]
    planner = result["planner_calls"]
    batches = planner.get("sqs:SendMessageBatch", 0) * per_thousand
    planner_dynamo = sum(n for op, n in planner.items() if op.startswith("dynamodb:")) * per_thousand
    worker = result["worker_calls_per_1000"]
    worker_dynamo = sum(n for op, n in worker.items() if op.startswith("dynamodb:"))
    return [
        Row(f"{NAME}_sqs_batches", batches, "calls/1k", floor=100, goal="1.0",
            note="planner SendMessageBatch per 1,000 recipients (ten a call)"),
        Row(f"{NAME}_planner_dynamodb", planner_dynamo, "calls/1k", note=", ".join(
            f"{op.split(':')[1]} {n * per_thousand:.0f}"
            for op, n in sorted(planner.items()) if op.startswith("dynamodb"))),
        Row(f"{NAME}_worker_dynamodb", worker_dynamo, "calls/1k", note=", ".join(
            f"{op.split(':')[1]} {n:.0f}" for op, n in sorted(worker.items()) if op.startswith("dynamodb"))),
        Row(f"{NAME}_planned_per_second", result["recipients"] / result["planning_seconds"], "recipients/s",
            note="moto in-process: the index query, ten-a-call batches, one conditional cursor write a page"),
        *_callback_rows(result["delivered_callbacks"]),
        Row(f"{NAME}_dry_run_seconds", result["dry_run"]["seconds"], "s", note=(
            f"{result['recipients']} customers counted {'by estimate' if result['dry_run']['estimated'] else 'exactly'}"
            f" ({result['dry_run']['total']} recipients): " + ", ".join(
                f"{op.split(':')[1]} {n}" for op, n in sorted(result["dry_run"]["calls"].items())))),
    ]


def _callback_rows(callbacks: dict[str, Any]) -> list[Row]:
    floor = callbacks["plain_calls"]
    counted = f"{callbacks['delivered_counted']} of {callbacks['callbacks']} counted delivered, each once"
    return [
        Row(f"{NAME}_delivered_callback_dynamodb", callbacks["broadcast_calls"], "calls", floor=floor, goal="<= 2.0",
            note=f"per broadcast's delivered callback (pointer, message read, one transaction); {counted}"),
        Row(f"{NAME}_redelivered_callback_dynamodb", callbacks["redelivered_calls"], "calls", floor=floor,
            goal="<= 1.5", note="the same callback again: pointer and message read, nothing written"),
    ]
