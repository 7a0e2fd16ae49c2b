"""Alarms → one SNS topic: every DLQ's depth, every queue's oldest message, 5xx per webhook route,
errors per function. Subscribe people or a pager to the topic (README, "Deploying to AWS", step 4)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib.adapters.resources import QueueSpec

PERIOD = Duration.minutes(5)
HUB_QUEUE_MAX_AGE = Duration.minutes(5)  # a hub-consumed queue is drained within seconds
EXTERNAL_QUEUE_MAX_AGE = Duration.minutes(30)  # route/escalation queues wait for support tools
WEBHOOK_5XX_RATE = 0.05  # 5 % of a route's requests over 5 minutes
WEBHOOK_PREFIX = "/webhooks/"


def build_topic(scope: Construct, stage: str) -> sns.Topic:
    return sns.Topic(scope, "AlarmTopic", topic_name=f"omnihub-{stage}-alarms", enforce_ssl=True)


def _alarm(
    scope: Construct, topic: sns.ITopic, construct_id: str, metric: cloudwatch.IMetric, threshold: float, text: str
) -> cloudwatch.Alarm:
    alarm = cloudwatch.Alarm(
        scope,
        construct_id,
        metric=metric,
        threshold=threshold,
        evaluation_periods=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        alarm_description=text,
    )
    alarm.add_alarm_action(actions.SnsAction(topic))
    alarm.add_ok_action(actions.SnsAction(topic))
    return alarm


def _camel(text: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", text) if part)


def dlq_alarm(scope: Construct, topic: sns.ITopic, name: str, dlq: sqs.IQueue) -> cloudwatch.Alarm:
    metric = dlq.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum")
    return _alarm(scope, topic, f"{_camel(name)}DlqDepth", metric, 1, f"{name}: messages in the dead-letter queue")


def age_alarm(scope: Construct, topic: sns.ITopic, spec: QueueSpec, queue: sqs.IQueue) -> cloudwatch.Alarm:
    limit = HUB_QUEUE_MAX_AGE if spec.consumer else EXTERNAL_QUEUE_MAX_AGE
    metric = queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum")
    return _alarm(
        scope,
        topic,
        f"{_camel(spec.logical_name)}OldestMessage",
        metric,
        limit.to_seconds(),
        f"{spec.logical_name}: oldest message older than {limit.to_minutes()} min (consumer stalled?)",
    )


def webhook_5xx_alarms(
    scope: Construct, topic: sns.ITopic, *, api_name: str, stage_name: str, routes: Iterable[tuple[str, str]]
) -> list[cloudwatch.Alarm]:
    """Per route: API Gateway's detailed metrics (Resource/Method dimensions); Average of 5XXError is a rate."""
    alarms = []
    for method, path in routes:
        if not path.startswith(WEBHOOK_PREFIX):
            continue
        metric = cloudwatch.Metric(
            namespace="AWS/ApiGateway",
            metric_name="5XXError",
            dimensions_map={"ApiName": api_name, "Stage": stage_name, "Resource": path, "Method": method},
            statistic="Average",
            period=PERIOD,
        )
        alarms.append(
            _alarm(
                scope,
                topic,
                f"Webhook5xx{_camel(method)}{_camel(path)}",
                metric,
                WEBHOOK_5XX_RATE,
                f"{method} {path}: 5xx rate at or above {WEBHOOK_5XX_RATE:.0%} (providers will retry or give up)",
            )
        )
    return alarms


def function_error_alarms(
    scope: Construct, topic: sns.ITopic, function_names: Mapping[str, str]
) -> list[cloudwatch.Alarm]:
    alarms = []
    for handler, function_name in sorted(function_names.items()):
        metric = cloudwatch.Metric(
            namespace="AWS/Lambda",
            metric_name="Errors",
            dimensions_map={"FunctionName": function_name},
            statistic="Sum",
            period=PERIOD,
        )
        alarms.append(_alarm(scope, topic, f"{_camel(handler)}Errors", metric, 1, f"{function_name}: errors"))
    return alarms
