"""The single table and the raw-payload bucket, from chalicelib/adapters/resources.py."""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from chalicelib.adapters import resources
from infra.stacks.settings import DeploySettings

_STREAM_VIEWS = {
    "NEW_IMAGE": dynamodb.StreamViewType.NEW_IMAGE,
    "NEW_AND_OLD_IMAGES": dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    "OLD_IMAGE": dynamodb.StreamViewType.OLD_IMAGE,
    "KEYS_ONLY": dynamodb.StreamViewType.KEYS_ONLY,
}


def _removal(settings: DeploySettings) -> RemovalPolicy:
    return RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY


def _string_key(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)


def build_table(scope: Construct, settings: DeploySettings) -> dynamodb.Table:
    spec = resources.TABLE
    table = dynamodb.Table(
        scope,
        "Table",
        table_name=resources.table_name(settings.stage),
        partition_key=_string_key(spec.partition_key),
        sort_key=_string_key(spec.sort_key),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        time_to_live_attribute=spec.ttl_attribute,
        stream=_STREAM_VIEWS[spec.stream_view],
        deletion_protection=settings.retain_data,
        removal_policy=_removal(settings),
    )
    for index in spec.indexes:
        table.add_global_secondary_index(
            index_name=index.name,
            partition_key=_string_key(index.partition_key),
            sort_key=_string_key(index.sort_key),
            projection_type=dynamodb.ProjectionType(index.projection),
        )
    return table


def build_bucket(scope: Construct, settings: DeploySettings) -> s3.Bucket:
    return s3.Bucket(
        scope,
        "PayloadBucket",
        bucket_name=resources.bucket_name(settings.stage, Aws.ACCOUNT_ID),
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        # One rule per kind of object (resources.RETENTION): raw payloads and mail expire long before the
        # attachments their messages name; no rule covers the whole bucket but the abandoned uploads one.
        lifecycle_rules=[
            *(s3.LifecycleRule(id=rule.rule_id, prefix=rule.prefix, expiration=Duration.days(rule.days))
              for rule in resources.PAYLOAD_BUCKET.expiry_rules),
            s3.LifecycleRule(id="abort-incomplete-uploads", abort_incomplete_multipart_upload_after=Duration.days(1)),
        ],
        removal_policy=_removal(settings),
        auto_delete_objects=False,
    )
