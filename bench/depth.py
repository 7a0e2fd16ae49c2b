"""message_cost_vs_depth: does a message cost more once the embedded AWS has been running a while?

The local stack's unconsumed queues (route-*.fifo, conversation-events.fifo: agents and integrators
read them, nobody does locally) only grow during ``make run``, and moto's send cost grew with a
queue's depth (devstack/moto_tuning.py has the profile). The proxy, cheaper than 10,000 messages
through the whole hub: moto in process with the dev stack's tuning (as ``make run`` has it), the app
through Chalice's test client and the pump as in aws_calls_per_webhook; the wall time of one new
customer's message (webhook + ``LocalPump.drain()``: relay, worker, acknowledgment) is taken as the
median of 5 around the 10th message, then again after the unconsumed queues it is sent to
(route-default, conversation-events) were filled with 10,000 messages each — with no retention
trimming them, the stricter case — and the table with 10,000 more items (moto's base-table Query
used to sort the whole table); 2,000 with --quick. Ratio = after ÷ around the 10th; the goal is 1.
"""

from __future__ import annotations

import os
import statistics
import time
import uuid
from typing import Any

from bench.common import ROOT, STAGE, api_body, apply_environment, bench_environment, quiet_powertools, signed_headers
from bench.report import Row

NAME = "message_cost_vs_depth"
SAMPLES = 5


def _fill(sqs: Any, url: str, messages: int) -> None:
    fifo = url.endswith(".fifo")
    for start in range(0, messages, 10):
        entries = [{"Id": str(i), "MessageBody": '{"bench": "depth"}',
                    **({"MessageGroupId": f"g{(start + i) % 50}", "MessageDeduplicationId": uuid.uuid4().hex}
                       if fifo else {})} for i in range(min(10, messages - start))]
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


def _fill_table(dynamodb: Any, table: str, items: int) -> None:
    """``items`` items of the size of the hub's, spread over as many partitions as a busy stack has."""
    for start in range(0, items, 25):
        writes = [{"PutRequest": {"Item": {"pk": {"S": f"DEPTH#{(start + i) % 2000}"}, "sk": {"S": f"M#{start + i}"},
                                           "text": {"S": "Hello, my order has not arrived " * 4}}}}
                  for i in range(min(25, items - start))]
        dynamodb.batch_write_item(RequestItems={table: writes})


def measure(depth: int) -> dict[str, float]:
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from chalicelib.adapters import resources
    from devstack.moto_tuning import tune_moto

    apply_environment(bench_environment())
    tune_moto()
    with mock_aws(), quiet_powertools():
        from chalicelib.adapters import runtime
        from devstack.provision import provision
        from devstack.pump import LocalPump, app_handlers

        session = boto3.session.Session()
        provisioned = provision(session, STAGE)
        os.environ["OMNIHUB_TABLE_STREAM_ARN"] = provisioned.stream_arn
        runtime.reset()
        import app as app_module

        pump = LocalPump(session, STAGE, provisioned.stream_arn, app_handlers(app_module))
        sent = 0
        with Client(app_module.app, stage_name=STAGE, project_dir=str(ROOT)) as client:

            def one_message() -> float:
                nonlocal sent
                sent += 1
                body = api_body(f"depth-customer-{sent}", "Hello, my order has not arrived", f"depth-{sent}")
                started = time.perf_counter()
                response = client.http.post("/webhooks/api", body=body, headers=signed_headers(body))
                if response.status_code != 200:
                    raise RuntimeError(f"webhook answered {response.status_code}")
                pump.drain()
                return time.perf_counter() - started

            for _ in range(10 - SAMPLES // 2 - 1):
                one_message()
            early = statistics.median(one_message() for _ in range(SAMPLES))
            sqs = session.client("sqs")
            # the unconsumed queues each of these messages is sent to (its route's, the lifecycle events')
            unconsumed = [provisioned.queue_urls[resources.queue_name(STAGE, spec)]
                          for spec in (resources.ROUTE_DEFAULT_QUEUE, resources.CONVERSATION_EVENTS_QUEUE)]
            started = time.perf_counter()
            for url in unconsumed:
                _fill(sqs, url, depth)
            _fill_table(session.client("dynamodb"), resources.table_name(STAGE), depth)
            fill_seconds = time.perf_counter() - started
            late = statistics.median(one_message() for _ in range(SAMPLES))
        runtime.reset()
    return {"early": early, "late": late, "queues": len(unconsumed), "fill_seconds": fill_seconds}


def run(quick: bool) -> list[Row]:
    depth = 2000 if quick else 10000
    result = measure(depth)
    milli = 1e3
    return [
        Row(
            NAME,
            result["late"] * milli,
            "ms",
            floor=result["early"] * milli,
            goal="1.0",
            note=f"one message (webhook + relay + worker + ack), median of {SAMPLES}, after {depth:,} messages in "
                 f"each of the {result['queues']} unconsumed queues it is sent to and {depth:,} more items in the "
                 f"table (filled in {result['fill_seconds']:.0f} s) vs around the 10th; moto tuned as make run has it",
        )
    ]
