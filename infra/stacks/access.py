"""Least-privilege IAM: one role per function, granting exactly what that function uses.

``ACCESS`` is the one place to read (and change) what each handler may touch; a handler
app.py gains without an entry here fails the synth instead of running with no or broad rights.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib import resources
from chalicelib.resources import QueueSpec
from infra.stacks.chalice_app import API_HANDLER_NAME

RAW_PAYLOAD_PREFIX = "raw/"  # chalicelib/store.py: archive_payload keys

_CONSUME = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes")
_STREAM = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")
_WORKER_TABLE = (
    "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query",
)


@dataclass(frozen=True, slots=True)
class FunctionAccess:
    table_actions: tuple[str, ...] = ()  # on the table and its indexes
    stream_read: bool = False
    consumes: QueueSpec | None = None
    sends_to: tuple[QueueSpec, ...] = ()
    payload_put: bool = False  # s3:PutObject under RAW_PAYLOAD_PREFIX
    payload_get: bool = False
    reads_secrets: bool = False
    sends_email: bool = False  # SES v2 SendEmail (the email sender)
    failure_queue: str | None = None  # "relay" | "sweep": may send its failures there


ACCESS: dict[str, FunctionAccess] = {
    # Webhooks + REST API: one conditional put per event, single-item reads, list queries; the
    # REST writes: an agent's reply is one put (the stream relays its job), resolve one update.
    API_HANDLER_NAME: FunctionAccess(
        table_actions=(
            "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:UpdateItem",
        ),
        payload_put=True,
        reads_secrets=True,
    ),
    # The outbox relay: table stream → inbound.fifo (and outbound.fifo for API-written replies).
    resources.STREAM_CONSUMER: FunctionAccess(
        stream_read=True,
        sends_to=(resources.INBOUND_QUEUE, resources.OUTBOUND_QUEUE),
        failure_queue="relay",
    ),
    str(resources.INBOUND_QUEUE.consumer): FunctionAccess(
        table_actions=_WORKER_TABLE,
        consumes=resources.INBOUND_QUEUE,
        sends_to=(resources.OUTBOUND_QUEUE, resources.ROUTE_DEFAULT_QUEUE, resources.ESCALATION_QUEUE),
        payload_get=True,
    ),
    str(resources.OUTBOUND_QUEUE.consumer): FunctionAccess(
        table_actions=_WORKER_TABLE,
        consumes=resources.OUTBOUND_QUEUE,
        reads_secrets=True,
        sends_email=True,
    ),
    resources.SCHEDULE_HANDLERS[0][0]: FunctionAccess(
        table_actions=_WORKER_TABLE,
        sends_to=(resources.ESCALATION_QUEUE, resources.OUTBOUND_QUEUE),
        failure_queue="sweep",
    ),
}


@dataclass(frozen=True, slots=True)
class Resources:
    table: dynamodb.Table
    bucket: s3.Bucket
    queues: Mapping[str, sqs.Queue]  # by QueueSpec.logical_name
    failure_queues: Mapping[str, sqs.Queue]  # "relay" | "sweep"
    secrets: Mapping[str, secretsmanager.Secret]


def _table_arns(table: dynamodb.Table) -> list[str]:
    return [table.table_arn, *(f"{table.table_arn}/index/{index.name}" for index in resources.TABLE.indexes)]


def statements(access: FunctionAccess, res: Resources, log_group_arn: str) -> list[iam.PolicyStatement]:
    out = [
        iam.PolicyStatement(
            sid="WriteOwnLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[f"{log_group_arn}:*"],
        )
    ]
    if access.table_actions:
        out.append(
            iam.PolicyStatement(sid="Table", actions=list(access.table_actions), resources=_table_arns(res.table))
        )
    if access.stream_read:
        stream_arn = res.table.table_stream_arn
        assert stream_arn is not None
        out.append(iam.PolicyStatement(sid="TableStream", actions=list(_STREAM), resources=[stream_arn]))
        # Lambda's stream poller lists streams before reading; ListStreams has no resource scope.
        out.append(iam.PolicyStatement(sid="ListStreams", actions=["dynamodb:ListStreams"], resources=["*"]))
    if access.consumes is not None:
        queue = res.queues[access.consumes.logical_name]
        out.append(iam.PolicyStatement(sid="Consume", actions=list(_CONSUME), resources=[queue.queue_arn]))
    sends = [res.queues[spec.logical_name].queue_arn for spec in access.sends_to]
    if access.failure_queue:
        sends.append(res.failure_queues[access.failure_queue].queue_arn)
    if sends:
        out.append(iam.PolicyStatement(sid="Send", actions=["sqs:SendMessage"], resources=sends))
    prefix = f"{res.bucket.bucket_arn}/{RAW_PAYLOAD_PREFIX}*"
    if access.payload_put:
        out.append(iam.PolicyStatement(sid="PayloadPut", actions=["s3:PutObject"], resources=[prefix]))
    if access.payload_get:
        out.append(iam.PolicyStatement(sid="PayloadGet", actions=["s3:GetObject"], resources=[prefix]))
    if access.reads_secrets:
        out.append(
            iam.PolicyStatement(
                sid="Secrets",
                actions=["secretsmanager:GetSecretValue"],
                resources=[secret.secret_arn for _, secret in sorted(res.secrets.items())],
            )
        )
    if access.sends_email:
        # Scoped to this account's verified identities (and configuration sets, which SendEmail names too).
        stack = Stack.of(res.table)
        out.append(
            iam.PolicyStatement(
                sid="SendEmail",
                actions=["ses:SendEmail", "ses:SendRawEmail"],
                resources=[
                    stack.format_arn(service="ses", resource="identity", resource_name="*"),
                    stack.format_arn(service="ses", resource="configuration-set", resource_name="*"),
                ],
            )
        )
    return out


def log_group_arn(scope: Construct, function_name: str) -> str:
    return Stack.of(scope).format_arn(
        service="logs",
        resource="log-group",
        resource_name=f"/aws/lambda/{function_name}",
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def build_role(scope: Construct, construct_id: str, *, handler: str, function_name: str, res: Resources) -> iam.Role:
    if handler not in ACCESS:
        raise KeyError(f"app.py handler {handler!r} has no entry in infra/stacks/access.py ACCESS")
    role = iam.Role(
        scope,
        construct_id,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"{function_name}: least privilege ({handler})",
    )
    for statement in statements(ACCESS[handler], res, log_group_arn(scope, function_name)):
        role.add_to_policy(statement)
    return role
