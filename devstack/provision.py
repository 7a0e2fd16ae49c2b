"""Create every table, index, stream, queue, DLQ and bucket from chalicelib.adapters.resources.

Used by the local stack (moto server), the integration tests (moto in-process) and, as the
same definitions, by infra/. Idempotent: an existing resource is left as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.adapters import resources


@dataclass(frozen=True, slots=True)
class Provisioned:
    table_name: str
    stream_arn: str
    bucket_name: str
    queue_urls: dict[str, str]  # queue name → URL, DLQs included


def provision(session: Any, stage: str, *, bucket_name: str | None = None) -> Provisioned:
    """``session`` is a boto3 Session (or anything with ``client(name)``) aimed at the target AWS."""
    dynamodb = session.client("dynamodb")
    sqs = session.client("sqs")
    s3 = session.client("s3")
    table = resources.table_name(stage)
    stream_arn = _create_table(dynamodb, table)
    queue_urls = {}
    for spec in resources.all_queues():
        dlq_url = _create_queue(sqs, resources.dlq_name(stage, spec), spec.fifo, {
            "MessageRetentionPeriod": str(spec.dlq_retention_seconds),
        })
        dlq_attributes = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])
        dlq_arn = dlq_attributes["Attributes"]["QueueArn"]
        queue_urls[resources.dlq_name(stage, spec)] = dlq_url
        queue_urls[resources.queue_name(stage, spec)] = _create_queue(
            sqs,
            resources.queue_name(stage, spec),
            spec.fifo,
            {
                "MessageRetentionPeriod": str(spec.retention_seconds),
                "VisibilityTimeout": str(spec.visibility_timeout_seconds),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": spec.max_receive_count}
                ),
            },
        )
    bucket = bucket_name or resources.bucket_name(stage)
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as err:
        if err.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    _notify_mail_objects(s3, sqs, bucket, queue_urls[resources.queue_name(stage, resources.MAIL_OBJECTS_QUEUE)])
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration=lifecycle_configuration())
    return Provisioned(table, stream_arn, bucket, queue_urls)


def lifecycle_configuration() -> dict[str, Any]:
    """The payload bucket's expiry per prefix (resources.RETENTION), as infra/ sets it on AWS."""
    rules: list[dict[str, Any]] = [
        {"ID": rule.rule_id, "Filter": {"Prefix": rule.prefix}, "Status": "Enabled", "Expiration": {"Days": rule.days}}
        for rule in resources.PAYLOAD_BUCKET.expiry_rules
    ]
    rules.append({"ID": "abort-incomplete-uploads", "Filter": {"Prefix": ""}, "Status": "Enabled",
                  "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}})
    return {"Rules": rules}


def _notify_mail_objects(s3: Any, sqs: Any, bucket: str, queue_url: str) -> None:
    """The bucket tells the mail-objects queue of each mail written under its prefix, as infra/ sets it up
    on AWS: locally, an object put in the bucket reaches ``receive_mail_objects`` through the pump."""
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [{
        "Id": "mail-objects",
        "QueueArn": queue_arn,
        "Events": ["s3:ObjectCreated:*"],
        "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": resources.MAIL_OBJECTS_PREFIX}]}},
    }]})


def _create_table(dynamodb: Any, table: str) -> str:
    spec = resources.TABLE
    attributes = {spec.partition_key, spec.sort_key}
    for index in spec.indexes:
        attributes.update((index.partition_key, index.sort_key))
    try:
        dynamodb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in sorted(attributes)],
            KeySchema=[
                {"AttributeName": spec.partition_key, "KeyType": "HASH"},
                {"AttributeName": spec.sort_key, "KeyType": "RANGE"},
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": index.name,
                    "KeySchema": [
                        {"AttributeName": index.partition_key, "KeyType": "HASH"},
                        {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": index.projection},
                }
                for index in spec.indexes
            ],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": spec.stream_view},
        )
        dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1})
        dynamodb.update_time_to_live(
            TableName=table, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute}
        )
    except ClientError as err:
        if err.response["Error"]["Code"] != "ResourceInUseException":
            raise
    return dynamodb.describe_table(TableName=table)["Table"]["LatestStreamArn"]


def _create_queue(sqs: Any, name: str, fifo: bool, attributes: dict[str, str]) -> str:
    if fifo:
        attributes = {**attributes, "FifoQueue": "true", "ContentBasedDeduplication": "false"}
    return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
