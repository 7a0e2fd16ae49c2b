"""Monthly AWS cost of Omnihub at list prices (us-east-1), from per-message AWS call counts.

    .venv/bin/python infra/cost_estimate.py          # 1M inbound + a 100k broadcast, measured call counts

The per-message AWS calls come from ``bench/results/aws_calls.json``, which ``make bench``
writes (the webhook path and the relay + conversation worker, for a message that opens a
conversation and for a follow-up, weighted by ``--new-share``). ``--calls`` may instead give
``{"sync": {...}, "worker": {...}}`` mapping ``service.Operation`` to calls per message. The
outbound send and status callbacks are counted from the code (OUTBOUND_CALLS below).
Prices: list prices, us-east-1, no free tier, no Savings Plans; check them before quoting.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo: run as ``python infra/cost_estimate.py``

from chalicelib.adapters.secrets import SECRET_GROUP_NAMES

# ------------------------------------------------------------------ list prices (USD, us-east-1)
LAMBDA_PER_REQUEST = 0.20 / 1e6
LAMBDA_PER_GB_SECOND = 0.0000166667  # x86_64
APIGW_REST_PER_REQUEST = 3.50 / 1e6  # first 333M/month
DDB_PER_WRU = 0.625 / 1e6  # on-demand
DDB_PER_RRU = 0.125 / 1e6
DDB_STORAGE_GB_MONTH = 0.25
DDB_PITR_GB_MONTH = 0.20
STREAM_PER_READ_REQUEST = 0.02 / 1e5  # GetRecords by Lambda triggers are free: 0 below
SQS_FIFO_PER_REQUEST = 0.50 / 1e6  # per 64 KB chunk; a batch of 10 is one request
S3_PUT = 0.005 / 1000
S3_GET = 0.0004 / 1000
S3_STORAGE_GB_MONTH = 0.023
SECRET_MONTH = 0.40
SECRETS_PER_CALL = 0.05 / 10_000
CW_ALARM_MONTH = 0.10
CW_METRIC_MONTH = 0.30  # API Gateway detailed metrics bill as custom metrics
CW_LOGS_INGEST_GB = 0.50
CW_LOGS_STORE_GB_MONTH = 0.03

# ------------------------------------------------------------------ call counts
BENCH_RESULTS = Path(__file__).resolve().parents[1] / "bench" / "results" / "aws_calls.json"
_SERVICE_OF = {"SendMessageBatch": "sqs", "SendMessage": "sqs", "PutObject": "s3", "GetObject": "s3"}
PLACEHOLDER_SYNC_CALLS: dict[str, float] = {"dynamodb.PutItem": 1}  # the webhook path, measured: 1
PLACEHOLDER_WORKER_CALLS: dict[str, float] = {  # conversation worker per inbound message, ~10
    "dynamodb.GetItem": 3,
    "dynamodb.Query": 1,
    "dynamodb.PutItem": 2,
    "dynamodb.UpdateItem": 2,
    "sqs.SendMessageBatch": 2,  # acknowledgment → outbound, routed → route queue
}
# per send, read off chalicelib/outbound/delivery.py: conversation + customer reads, the leased claim, its
# finish, the ids and the status on the message, the provider-id index; the relay's SQS send.
OUTBOUND_CALLS: dict[str, float] = {
    "dynamodb.GetItem": 2, "dynamodb.PutItem": 2, "dynamodb.UpdateItem": 3, "sqs.SendMessageBatch": 1,
}
PLACEHOLDER_STATUS_CALLBACKS_PER_SEND = 2  # sent/delivered/read webhooks back from the provider
ITEM_KB = 2.0  # average item size written (inbox item with inline raw payload ~1-3 KB)
READ_KB = 2.0

# ------------------------------------------------------------------ deployment constants
FUNCTION_MB = {"api": 512, "worker": 512, "relay": 256, "outbound": 512, "sweep": 256}
AVG_MS = {"api": 120, "worker": 250, "relay": 60, "outbound": 400, "sweep": 200}  # per invocation
BATCH = 10  # SQS records per worker invocation (resources.py batch_size)
STREAM_BATCH = 100
SECRETS = len(SECRET_GROUP_NAMES)  # the provider secrets, split by reader, + the id key (adapters/secrets.py)
ALARMS = 27  # DLQs 6 + queue ages 4 + webhook routes ~11 + functions 5 (+1 margin)
API_DETAILED_METRICS = 11 * 7  # webhook+REST routes × API Gateway's 7 per-route metrics
SQS_IDLE_POLL_REQUESTS = 3 * 2 * 60 * 24 * 30 * 5  # 2 consumer queues × 5 pollers × 20 s long polls
SWEEPS = 60 * 24 * 30
LOG_KB_PER_INVOCATION = 1.0
RAW_PAYLOAD_S3_SHARE = 0.02  # share of inbound payloads over the inline limit (→ S3)


@dataclass
class Usage:
    lambda_requests: float = 0
    lambda_gb_seconds: float = 0
    api_requests: float = 0
    wru: float = 0
    rru: float = 0
    sqs_requests: float = 0
    s3_puts: float = 0
    s3_gets: float = 0
    log_gb: float = 0

    def invoke(self, function: str, count: float) -> None:
        self.lambda_requests += count
        self.lambda_gb_seconds += count * FUNCTION_MB[function] / 1024 * AVG_MS[function] / 1000
        self.log_gb += count * LOG_KB_PER_INVOCATION / 1e6

    def calls(self, per_message: Mapping[str, float], messages: float) -> None:
        for operation, count in per_message.items():
            total = count * messages
            service, _, name = operation.partition(".")
            if service == "dynamodb" and name in {"PutItem", "UpdateItem", "DeleteItem"}:
                self.wru += total * max(1.0, ITEM_KB)
            elif service == "dynamodb":  # GetItem (eventually consistent: half), Query
                self.rru += total * max(1.0, READ_KB / 4) * (0.5 if name == "GetItem" else 1.0)
            elif service == "sqs":
                self.sqs_requests += total / (BATCH if "Batch" in name else 1)
            elif service == "s3":
                if name == "PutObject":
                    self.s3_puts += total
                else:
                    self.s3_gets += total


def inbound(usage: Usage, messages: float, sync: Mapping[str, float], worker: Mapping[str, float]) -> None:
    usage.api_requests += messages
    usage.invoke("api", messages)
    usage.calls(sync, messages)
    usage.s3_puts += messages * RAW_PAYLOAD_S3_SHARE
    usage.invoke("relay", messages / STREAM_BATCH * 10)  # streams deliver small batches under low load
    usage.sqs_requests += messages / BATCH  # relay → inbound.fifo in batches
    usage.sqs_requests += 2 * messages / BATCH  # worker's ESM receive + delete
    usage.invoke("worker", messages / BATCH)
    usage.calls(worker, messages)
    send(usage, messages)  # the acknowledgment on the customer's channel


def send(usage: Usage, messages: float) -> None:
    usage.sqs_requests += 2 * messages / BATCH
    usage.invoke("outbound", messages / BATCH)
    usage.calls(OUTBOUND_CALLS, messages)
    callbacks = messages * PLACEHOLDER_STATUS_CALLBACKS_PER_SEND
    usage.api_requests += callbacks
    usage.invoke("api", callbacks)
    usage.calls({"dynamodb.GetItem": 1, "dynamodb.UpdateItem": 1}, callbacks)


def broadcast(usage: Usage, recipients: float) -> None:
    usage.calls({"dynamodb.Query": 1 / 100, "dynamodb.PutItem": 1}, recipients)  # page audience, plan item
    usage.sqs_requests += recipients / BATCH  # planner → outbound.fifo
    send(usage, recipients)


def cost_lines(usage: Usage, stored_gb: float, s3_gb: float) -> list[tuple[str, str, float]]:
    return [
        ("Lambda requests", f"{usage.lambda_requests:,.0f} invocations", usage.lambda_requests * LAMBDA_PER_REQUEST),
        ("Lambda duration", f"{usage.lambda_gb_seconds:,.0f} GB-s", usage.lambda_gb_seconds * LAMBDA_PER_GB_SECOND),
        ("API Gateway REST", f"{usage.api_requests:,.0f} requests", usage.api_requests * APIGW_REST_PER_REQUEST),
        ("DynamoDB writes", f"{usage.wru:,.0f} WRU", usage.wru * DDB_PER_WRU),
        ("DynamoDB reads", f"{usage.rru:,.0f} RRU", usage.rru * DDB_PER_RRU),
        ("DynamoDB storage + PITR", f"{stored_gb:,.1f} GB", stored_gb * (DDB_STORAGE_GB_MONTH + DDB_PITR_GB_MONTH)),
        ("DynamoDB Streams", "read by Lambda trigger", 0.0),
        ("SQS FIFO requests", f"{usage.sqs_requests:,.0f} requests", usage.sqs_requests * SQS_FIFO_PER_REQUEST),
        (
            "S3 requests + storage",
            f"{usage.s3_puts:,.0f} PUT, {s3_gb:,.1f} GB",
            usage.s3_puts * S3_PUT + usage.s3_gets * S3_GET + s3_gb * S3_STORAGE_GB_MONTH,
        ),
        ("Secrets Manager", f"{SECRETS} secrets (+ cached reads)", SECRETS * SECRET_MONTH + 100_000 * SECRETS_PER_CALL),
        (
            "CloudWatch alarms + API metrics",
            f"{ALARMS} alarms, {API_DETAILED_METRICS} metrics",
            ALARMS * CW_ALARM_MONTH + API_DETAILED_METRICS * CW_METRIC_MONTH,
        ),
        ("CloudWatch Logs", f"{usage.log_gb:,.1f} GB", usage.log_gb * (CW_LOGS_INGEST_GB + CW_LOGS_STORE_GB_MONTH)),
    ]


def estimate(
    inbound_messages: float, recipients: float, sync: Mapping[str, float], worker: Mapping[str, float]
) -> list[tuple[str, str, float]]:
    usage = Usage(sqs_requests=SQS_IDLE_POLL_REQUESTS)
    usage.invoke("sweep", SWEEPS)
    inbound(usage, inbound_messages, sync, worker)
    broadcast(usage, recipients)
    stored_gb = (inbound_messages * (ITEM_KB + 3 * 0.5) + recipients * 1.0) / 1e6  # inbox + thread items, 30 days
    s3_gb = inbound_messages * RAW_PAYLOAD_S3_SHARE * 300 / 1e6
    return cost_lines(usage, stored_gb, s3_gb)


def calls_from_bench(results: Mapping[str, object], new_share: float) -> tuple[dict[str, float], dict[str, float]]:
    """Per-message calls from ``make bench``'s results, weighted between new and follow-up messages."""
    per_message = results["async_per_message"]
    assert isinstance(per_message, dict)
    worker: dict[str, float] = {}
    for case, share in (("first_message_new_customer", new_share), ("follow_up_message", 1 - new_share)):
        for operation, count in per_message[case]["async_by_operation"].items():
            name = f"{_SERVICE_OF.get(operation, 'dynamodb')}.{operation}"
            worker[name] = worker.get(name, 0.0) + share * count
    webhook = results.get("webhook_calls") or {"PutItem": 1}
    webhooks_run = results.get("webhooks") or 1  # webhook_calls are totals over this many
    assert isinstance(webhooks_run, int | float | str)
    webhooks = float(webhooks_run)
    assert isinstance(webhook, dict)
    sync = {f"{_SERVICE_OF.get(op, 'dynamodb')}.{op}": float(n) / webhooks for op, n in webhook.items()}
    return sync, worker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inbound", type=float, default=1_000_000, help="inbound messages per month")
    parser.add_argument("--broadcast", type=float, default=100_000, help="crisis broadcast recipients per month")
    parser.add_argument("--calls", type=Path, help='JSON {"sync": {...}, "worker": {...}} (overrides the bench)')
    parser.add_argument("--new-share", type=float, default=0.3, help="share of messages that open a conversation")
    args = parser.parse_args()
    sync, worker = PLACEHOLDER_SYNC_CALLS, PLACEHOLDER_WORKER_CALLS
    if args.calls:
        measured = json.loads(args.calls.read_text())
        sync, worker = measured.get("sync", sync), measured.get("worker", worker)
    elif BENCH_RESULTS.exists():
        sync, worker = calls_from_bench(json.loads(BENCH_RESULTS.read_text()), args.new_share)
    lines = estimate(args.inbound, args.broadcast, sync, worker)
    print(f"Omnihub, {args.inbound:,.0f} inbound messages + {args.broadcast:,.0f}-recipient broadcast / month")
    print(f"sync calls/msg {dict(sync)}; worker calls/msg {dict(worker)}")
    print(f"{'item':34} {'volume':38} {'USD/month':>10}")
    for name, volume, usd in lines:
        print(f"{name:34} {volume:38} {usd:10.2f}")
    print(f"{'total':34} {'':38} {sum(usd for _, _, usd in lines):10.2f}")


if __name__ == "__main__":
    main()
