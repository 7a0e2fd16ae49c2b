"""Event sources, created here from chalicelib/adapters/resources.py rather than by Chalice's SAM events.

Chosen over overriding SAM event properties: with the template rendered as plain CloudFormation
(sam.py) the mappings are ordinary ``AWS::Lambda::EventSourceMapping`` resources that cdk-nag
and the tests see, and every setting Chalice cannot express is set in one place:
``ReportBatchItemFailures`` on every consumer, bisect/retry/on-failure destination on the stream.
"""

from __future__ import annotations

import json

from aws_cdk import Annotations, Duration, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib.adapters import resources
from chalicelib.adapters.resources import QueueSpec
from infra.stacks import sam

STREAM_BATCH_SIZE = 100
STREAM_RETRY_ATTEMPTS = 10  # then the batch (bisected down to the failing record) goes to relay-failures
STREAM_MAX_RECORD_AGE = Duration.hours(24)
SCHEDULE_RETRY_ATTEMPTS = 2
SCHEDULE_MAX_EVENT_AGE = Duration.minutes(5)  # a sweep older than this is superseded by the next one


def check_app_events(
    scope: Construct, stage: str, app_events: list[sam.EventSource], handlers: dict[str, str]
) -> list[str]:
    """Fail the synth when app.py's decorators contradict resources.py; return the handlers it lacks."""
    handler_of = {logical_id: name for name, logical_id in handlers.items()}
    for event in app_events:
        handler = handler_of[event.function]
        if event.kind == "SQS":
            expected = [resources.queue_name(stage, spec) for spec in resources.QUEUES if spec.consumer == handler]
            queue = json.dumps(event.properties.get("Queue"))
            if not any(f":{name}" in queue for name in expected):
                raise ValueError(f"app.py: {handler} consumes {queue}; resources.py expects {expected}")
        elif event.kind == "DynamoDB" and handler != resources.STREAM_CONSUMER:
            raise ValueError(f"app.py: {handler} reads the stream; resources.py names {resources.STREAM_CONSUMER}")
        elif event.kind == "Schedule" and handler not in dict(resources.SCHEDULE_HANDLERS):
            raise ValueError(f"app.py: {handler} is scheduled but not in resources.SCHEDULE_HANDLERS")
        elif event.kind == "CloudWatchEvent" and (handler != resources.CONTACT_EVENTS_CONSUMER or json.loads(
                json.dumps(event.properties.get("Pattern"))) != resources.CONTACT_EVENT_PATTERN):
            raise ValueError(f"app.py: {handler} takes EventBridge events; resources.py names "
                             f"{resources.CONTACT_EVENTS_CONSUMER} with {resources.CONTACT_EVENT_PATTERN}")
    declared = {(handler_of[event.function], event.kind) for event in app_events}
    expected_events = [(spec.consumer, "SQS") for spec in resources.QUEUES if spec.consumer]
    expected_events += [(resources.STREAM_CONSUMER, "DynamoDB")]
    expected_events += [(name, "Schedule") for name, _ in resources.SCHEDULE_HANDLERS]
    expected_events += [(resources.CONTACT_EVENTS_CONSUMER, "CloudWatchEvent")]
    missing = [f"{kind} handler {handler}" for handler, kind in expected_events if (handler, kind) not in declared]
    for text in missing:
        # Not fatal: the app may grow a consumer after its queue. The infra tests do fail on it.
        Annotations.of(scope).add_warning_v2("omnihub:missing-handler", f"app.py has no {text} (resources.py)")
    return missing


def wire_queue_consumer(
    scope: Construct, function: lambda_.IFunction, spec: QueueSpec, queue: sqs.IQueue
) -> lambda_.EventSourceMapping:
    return lambda_.EventSourceMapping(
        scope,
        f"{function.node.id}Source",
        target=function,
        event_source_arn=queue.queue_arn,
        batch_size=spec.batch_size,
        report_batch_item_failures=True,
    )


def wire_stream_relay(
    scope: Construct, function: lambda_.IFunction, table: dynamodb.ITable, failures: sqs.IQueue
) -> lambda_.EventSourceMapping:
    stream_arn = table.table_stream_arn
    assert stream_arn is not None
    return lambda_.EventSourceMapping(
        scope,
        f"{function.node.id}Source",
        target=function,
        event_source_arn=stream_arn,
        # The outbox: records written before the mapping existed must still be relayed.
        starting_position=lambda_.StartingPosition.TRIM_HORIZON,
        batch_size=STREAM_BATCH_SIZE,
        bisect_batch_on_error=True,
        retry_attempts=STREAM_RETRY_ATTEMPTS,
        max_record_age=STREAM_MAX_RECORD_AGE,
        report_batch_item_failures=True,
        on_failure=sources.SqsDlq(failures),
    )


def wire_schedule(
    scope: Construct, function: lambda_.IFunction, handler: str, period_seconds: int, failures: sqs.IQueue
) -> events.Rule:
    if period_seconds % 60:
        raise ValueError(f"{handler}: EventBridge schedules are whole minutes, got {period_seconds}s")
    return events.Rule(
        scope,
        f"{function.node.id}Schedule",
        schedule=events.Schedule.rate(Duration.minutes(period_seconds // 60)),
        targets=[
            targets.LambdaFunction(
                function,
                dead_letter_queue=failures,
                retry_attempts=SCHEDULE_RETRY_ATTEMPTS,
                max_event_age=SCHEDULE_MAX_EVENT_AGE,
            )
        ],
    )


CONTACT_EVENT_RETRY_ATTEMPTS = 8
CONTACT_EVENT_MAX_AGE = Duration.hours(6)


def wire_contact_events(scope: Construct, function: lambda_.IFunction, failures: sqs.IQueue) -> events.Rule:
    """Amazon Connect contact events (the default event bus of the instance's account and Region)."""
    return events.Rule(
        scope,
        f"{function.node.id}ContactEvents",
        event_pattern=events.EventPattern(source=resources.CONTACT_EVENT_PATTERN["source"],
                                          detail_type=resources.CONTACT_EVENT_PATTERN["detail-type"]),
        targets=[
            targets.LambdaFunction(
                function,
                dead_letter_queue=failures,
                retry_attempts=CONTACT_EVENT_RETRY_ATTEMPTS,
                max_event_age=CONTACT_EVENT_MAX_AGE,
            )
        ],
    )


def grant_connect_invoke(
    scope: Construct, function: lambda_.IFunction, instance_arn: str | None
) -> lambda_.CfnPermission:
    """Let Amazon Connect invoke the contact flow's function: only from this account, and only from one
    instance when its ARN is configured (``-c connect_instance_arn=...``)."""
    return lambda_.CfnPermission(
        scope,
        f"{function.node.id}ConnectInvoke",
        action="lambda:InvokeFunction",
        function_name=function.function_arn,
        principal=resources.CONNECT_PRINCIPAL,
        source_account=Stack.of(scope).account,
        source_arn=instance_arn or None,
    )
