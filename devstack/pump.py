"""The local pump: plays Lambda's event sources against the embedded AWS.

``chalice local`` serves routes only. The pump reads the table's stream and the consumed queues,
builds the same events Lambda would (DynamoDB stream batches, SQS batches with unique message
ids), calls the app's handlers, honours their partial batch responses (failed SQS messages stay
on the queue and come back after a short visibility; failed stream records are read again), and
runs the scheduled handlers on their rate.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore.config import Config

from chalicelib.adapters import resources
from chalicelib.adapters.observability import logger
from devstack.embedded_streams import streams_reader
from devstack.schedule_clock import schedule_period, schedule_time

Handler = Callable[[dict[str, Any], Any], Any]
LOCAL_RETRY_VISIBILITY_SECONDS = 2  # on AWS a failed message waits out the visibility timeout


@dataclass
class _ShardCursor:
    shard_id: str
    iterator: str | None


@dataclass
class PumpStats:
    stream_records: int = 0
    sqs_messages: int = 0
    sqs_failures: int = 0
    schedules: int = 0
    errors: list[str] = field(default_factory=list)


class LocalPump:
    def __init__(
        self,
        session: Any,
        stage: str,
        stream_arn: str,
        handlers: Mapping[str, Handler],
        *,
        from_start: bool = True,
        retry_visibility_seconds: int = LOCAL_RETRY_VISIBILITY_SECONDS,
    ) -> None:
        # Account-based stream endpoints ({account}.streams-ddb...) are unknown to moto in-process.
        self._streams = streams_reader(
            session.client("dynamodbstreams", config=Config(account_id_endpoint_mode="disabled")))
        self._sqs = session.client("sqs")
        self._stage = stage
        self._stream_arn = stream_arn
        self._handlers = handlers
        self._from_start = from_start
        self._retry_visibility = retry_visibility_seconds
        self._shards: dict[str, _ShardCursor] = {}
        self._next_shard_refresh = 0.0
        self._queue_urls: dict[str, str] = {}
        self._next_schedule: dict[str, float] = {name: 0.0 for name, _ in resources.SCHEDULE_HANDLERS}
        self.stats = PumpStats()
        self._stop = threading.Event()

    # ------------------------------------------------------------------ loop
    def run_forever(self, busy_sleep: float = 0.0, idle_sleep: float = 0.2) -> None:
        """Poll fast while there is work, slower when idle (moto answers every poll)."""
        while not self._stop.is_set():
            self._stop.wait(busy_sleep if self.pump_once() else idle_sleep)

    def stop(self) -> None:
        self._stop.set()

    def pump_once(self) -> int:
        """One pass over the stream, the queues and the schedules; returns how much work it did."""
        done = self._pump_stream()
        for spec in resources.QUEUES:
            if spec.consumer and spec.consumer in self._handlers:
                done += self._pump_queue(spec)
        done += self._run_schedules()
        return done

    def drain(self, timeout: float = 15.0) -> None:
        """Pump until nothing is left (tests): stream read, consumed queues empty, nothing in flight."""
        deadline = time.monotonic() + timeout
        quiet_passes = 0
        while time.monotonic() < deadline:
            quiet_passes = quiet_passes + 1 if self.pump_once() == 0 else 0
            if quiet_passes >= 2:
                if not self._in_flight():
                    return
                time.sleep(0.2)
        raise TimeoutError("the pump did not drain in time")

    def _in_flight(self) -> int:
        """Messages of the consumed queues not yet done: received but neither deleted nor visible again
        (failed ones waiting to retry), and visible ones (a failed message whose visibility ran out
        between the last receive and this count: without them, drain could return before its retry)."""
        waiting = 0
        for spec in resources.QUEUES:
            if spec.consumer and spec.consumer in self._handlers:
                url = self._queue_url(resources.queue_name(self._stage, spec))
                attributes = self._sqs.get_queue_attributes(
                    QueueUrl=url,
                    AttributeNames=["ApproximateNumberOfMessagesNotVisible", "ApproximateNumberOfMessages"],
                )["Attributes"]
                waiting += int(attributes["ApproximateNumberOfMessagesNotVisible"])
                waiting += int(attributes["ApproximateNumberOfMessages"])
        return waiting

    # ------------------------------------------------------------------ DynamoDB stream
    def _refresh_shards(self) -> None:
        if self._shards and time.monotonic() < self._next_shard_refresh:
            return
        self._next_shard_refresh = time.monotonic() + 5.0
        description = self._streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]
        for shard in description.get("Shards", []):
            shard_id = shard["ShardId"]
            if shard_id not in self._shards:
                kind = "TRIM_HORIZON" if self._from_start else "LATEST"
                iterator = self._streams.get_shard_iterator(
                    StreamArn=self._stream_arn, ShardId=shard_id, ShardIteratorType=kind
                )["ShardIterator"]
                self._shards[shard_id] = _ShardCursor(shard_id, iterator)

    def _pump_stream(self) -> int:
        handler = self._handlers.get(resources.STREAM_CONSUMER)
        if handler is None:
            return 0
        self._refresh_shards()
        done = 0
        for cursor in self._shards.values():
            if cursor.iterator is None:
                continue
            response = self._streams.get_records(ShardIterator=cursor.iterator, Limit=100)
            records = response.get("Records", [])
            next_iterator = response.get("NextShardIterator")
            if not records:
                cursor.iterator = next_iterator
                continue
            event = {"Records": [self._stream_record(r) for r in records]}
            failures = self._invoke(handler, event)
            self.stats.stream_records += len(records)
            done += len(records)
            if failures:
                # Lambda's stream semantics: retry from the first failed record, in order.
                first = failures[0]
                cursor.iterator = self._streams.get_shard_iterator(
                    StreamArn=self._stream_arn,
                    ShardId=cursor.shard_id,
                    ShardIteratorType="AT_SEQUENCE_NUMBER",
                    SequenceNumber=first,
                )["ShardIterator"]
                time.sleep(0.2)
            else:
                cursor.iterator = next_iterator
        return done

    def _stream_record(self, record: dict[str, Any]) -> dict[str, Any]:
        dynamodb = dict(record["dynamodb"])
        created = dynamodb.get("ApproximateCreationDateTime")
        if created is not None and hasattr(created, "timestamp"):  # boto3's datetime; Lambda sends seconds
            dynamodb["ApproximateCreationDateTime"] = created.timestamp()
        return {
            "eventID": record.get("eventID"),
            "eventName": record.get("eventName"),
            "eventVersion": record.get("eventVersion", "1.1"),
            "eventSource": "aws:dynamodb",
            "awsRegion": record.get("awsRegion", "us-east-1"),
            "dynamodb": dynamodb,
            "eventSourceARN": self._stream_arn,
        }

    # ------------------------------------------------------------------ SQS
    def _queue_url(self, name: str) -> str:
        if name not in self._queue_urls:
            self._queue_urls[name] = self._sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return self._queue_urls[name]

    def _pump_queue(self, spec: resources.QueueSpec) -> int:
        assert spec.consumer is not None
        name = resources.queue_name(self._stage, spec)
        url = self._queue_url(name)
        response = self._sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=min(spec.batch_size, 10),
            WaitTimeSeconds=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        arn = f"arn:aws:sqs:us-east-1:123456789012:{name}"
        event = {"Records": [self._sqs_record(m, arn) for m in messages]}
        failed = set(self._invoke(self._handlers[spec.consumer], event))
        for message in messages:
            if message["MessageId"] in failed:
                self.stats.sqs_failures += 1
                self._sqs.change_message_visibility(
                    QueueUrl=url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=self._retry_visibility,
                )
            else:
                self._sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        self.stats.sqs_messages += len(messages)
        return len(messages)

    @staticmethod
    def _sqs_record(message: dict[str, Any], arn: str) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": arn,
            "awsRegion": "us-east-1",
        }

    # ------------------------------------------------------------------ schedules
    def _run_schedules(self) -> int:
        """Run due schedules; they never count as queued work (``drain`` ignores them)."""
        now = time.monotonic()
        for name, every_seconds in resources.SCHEDULE_HANDLERS:
            handler = self._handlers.get(name)
            if handler is None or now < self._next_schedule[name]:
                continue
            self._next_schedule[name] = now + schedule_period(every_seconds)
            event = {
                "version": "0",
                "id": f"local-{name}-{int(time.time())}",
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": "123456789012",
                "time": schedule_time(),  # now, unless a local clock file moves it (devstack.schedule_clock)
                "region": "us-east-1",
                "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{name}"],
                "detail": {},
            }
            try:
                handler(event, None)
            except Exception as err:  # a failed schedule run is logged and tried at the next tick
                self.stats.errors.append(f"{name}: {err}")
                logger.exception("scheduled handler failed", extra={"handler": name})
            self.stats.schedules += 1
        return 0

    # ------------------------------------------------------------------ invoking
    def _invoke(self, handler: Handler, event: dict[str, Any]) -> list[str]:
        """Call a handler; returns the identifiers Lambda would retry (all of them if it raised)."""
        try:
            response = handler(event, None) or {}
        except Exception as err:  # as on Lambda: an exception fails the whole batch
            self.stats.errors.append(str(err))
            logger.exception("handler failed the whole batch")
            return [self._identifier(r) for r in event["Records"]]
        return [failure["itemIdentifier"] for failure in response.get("batchItemFailures", [])]

    @staticmethod
    def _identifier(record: dict[str, Any]) -> str:
        if "messageId" in record:
            return record["messageId"]
        return record["dynamodb"]["SequenceNumber"]


def app_handlers(app_module: Any) -> dict[str, Handler]:
    """The handlers a local pump drives, taken from the imported app module by their resource names."""
    names = [resources.STREAM_CONSUMER, *(s.consumer for s in resources.QUEUES if s.consumer)]
    names += [name for name, _ in resources.SCHEDULE_HANDLERS]
    return {name: getattr(app_module, name) for name in names if hasattr(app_module, name)}
