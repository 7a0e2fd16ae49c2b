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

from chalicelib.adapters import resources
from chalicelib.adapters.dynamo.keys import SURVEY_DUE_PARTITION, Prefix
from chalicelib.adapters.resources import QueueSpec
from chalicelib.adapters.secrets import ID_KEY_GROUP, SECRET_GROUPS, SEND, VERIFY, groups_read_by
from chalicelib.core import bucket_layout
from chalicelib.email.events import ATTACHMENTS_PREFIX
from chalicelib.providers.meta.mentions import MENTION_LOOKUP_SECRET
from chalicelib.providers.vonage.transcripts import TRANSCRIPT_SECRETS
from chalicelib.reports.periodic import REPORT_PREFIX
from infra.stacks.chalice_app import API_HANDLER_NAME

RAW_PAYLOAD_PREFIX = bucket_layout.RAW_PAYLOAD_PREFIX  # chalicelib/adapters/dynamo/inbox.py: archive_payload keys
MEDIA_PREFIX = ATTACHMENTS_PREFIX  # kept email attachments (chalicelib/email/events.py: attachment_object_key)
REPORTS_PREFIX = REPORT_PREFIX  # chalicelib/reports/periodic.py: the weekly report's CSV and HTML page

_CONSUME = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes")
_STREAM = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")
_READ_WRITE = ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")


@dataclass(frozen=True, slots=True)
class FunctionAccess:
    table_actions: tuple[str, ...] = ()  # on the table and its indexes
    stream_read: bool = False
    consumes: QueueSpec | None = None
    sends_to: tuple[QueueSpec, ...] = ()
    deletes_under: tuple[str, ...] = ()  # DeleteItem, only on items whose partition key starts so
    payload_put: bool = False  # s3:PutObject under RAW_PAYLOAD_PREFIX
    payload_get: bool = False
    payload_delete: bool = False
    media_put: bool = False  # s3:PutObject under MEDIA_PREFIX (the worker keeps email attachments)
    media_get: bool = False  # s3:GetObject under MEDIA_PREFIX: presigned links are signed with this role
    media_delete: bool = False  # s3:DeleteObject under MEDIA_PREFIX (a customer's erasure)
    mail_get: bool = False  # s3:GetObject under MAIL_OBJECTS_PREFIX: mail the receipt rule wrote
    mail_delete: bool = False  # s3:DeleteObject under MAIL_OBJECTS_PREFIX (a customer's erasure)
    reports_put: bool = False  # s3:PutObject under REPORTS_PREFIX (the weekly KPI report)
    reads_secrets_for: str | None = None  # VERIFY | SEND: that half of the provider secrets (adapters/secrets.py)
    reads_secrets_named: tuple[str, ...] = ()  # besides: the stored secrets holding these names, and only those
    reads_id_key: bool = False  # omnihub/{stage}/ids: customer ids, inbound FIFO groups, cursor keys
    sends_email: bool = False  # SES v2 SendEmail (the email sender)
    failure_queue: str | None = None  # "relay" | "sweep": may send its failures there


ACCESS: dict[str, FunctionAccess] = {
    # Webhooks + REST API: one conditional put per event, single-item reads, list queries; the
    # REST writes: an agent's reply is one put (the stream relays its job), a status change one update,
    # each with its lifecycle event.
    API_HANDLER_NAME: FunctionAccess(
        table_actions=(
            "dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:UpdateItem",
            # The crisis dry run past its budget extrapolates to the customers index's item count.
            "dynamodb:DescribeTable",
        ),
        payload_put=True,
        # A large body archived for a request whose every event was a duplicate (or that failed) is
        # discarded: no stored event points at it (ingest/webhook.py, InboxRepository.discard_payload).
        payload_delete=True,
        # Only what checks inbound traffic and the REST keys: never a sending credential.
        reads_secrets_for=VERIFY,
        # REST listing cursors are signed with a key derived from OMNIHUB_ID_KEY (read only when a
        # listing pages); tests/infra/test_access_covers_usage.py pages a listing to prove it.
        reads_id_key=True,
        # GET /conversations/{id} presigns attachment links: the link works only if this role may read them.
        # GET /customers/{id}/export presigns attachments and archived mail too; DELETE /customers/{id}
        # erases every copy (chalicelib/adapters/dynamo/privacy.py): the items of the customer's partitions,
        # conversations, identities, claims, provider-id and call pointers, surveys and crisis contacts, and
        # the objects under raw/, attachments/ and inbound-mail/.
        media_get=True,
        mail_get=True,
        media_delete=True,
        mail_delete=True,
        deletes_under=(Prefix.CUSTOMER, Prefix.CONVERSATION, Prefix.IDENTITY, Prefix.EXPIRING_CLAIM,
                       Prefix.PROVIDER_MESSAGE, Prefix.CALL, Prefix.FEEDBACK, Prefix.INCIDENT, SURVEY_DUE_PARTITION),
        # The lifecycle events of the REST writes (replied, resolved, reopened, pending, rerouted, customer_updated);
        # an assignment hands the conversation to its new route's queue.
        # The crisis API queues an update's planner job (crisis/incidents.py).
        sends_to=(resources.CONVERSATION_EVENTS_QUEUE, *resources.route_queue_specs(), resources.BROADCAST_QUEUE),
    ),
    # The outbox relay: table stream → inbound.fifo (and outbound.fifo for API-written replies).
    resources.STREAM_CONSUMER: FunctionAccess(
        stream_read=True,
        reads_id_key=True,  # inbound FIFO groups and dedupe ids
        sends_to=(resources.INBOUND_QUEUE, resources.OUTBOUND_QUEUE),
        failure_queue="relay",
    ),
    # The conversation worker: identities (a phone's three in one BatchGetItem), threading, the
    # routed envelope. Its acknowledgment jobs are stored, and the relay queues them.
    str(resources.INBOUND_QUEUE.consumer): FunctionAccess(
        # Query: the customer's conversations, when a rule asks about repeat contact
        table_actions=(*_READ_WRITE, "dynamodb:BatchGetItem", "dynamodb:Query"),
        consumes=resources.INBOUND_QUEUE,
        # routed; escalated at once; lifecycle events (opened, routed, rerouted, escalated, reopened)
        sends_to=(*resources.route_queue_specs(), resources.ESCALATION_QUEUE, resources.CONVERSATION_EVENTS_QUEUE),
        reads_id_key=True,  # a new customer's id
        # Email attachments: the stored request read again (a large body is archived under raw/), each
        # attachment written under attachments/ (chalicelib/conversations/attachments.py).
        payload_get=True,
        media_put=True,
        mail_get=True,  # the mail an SES S3-action notification names, and its attachments
        # An Instagram mention is looked up through Graph with the sending token (conversations/inbound.py).
        # A Vonage voicemail's transcript is fetched with the application's JWT (conversations/call_messages.py).
        reads_secrets_named=(MENTION_LOOKUP_SECRET, *TRANSCRIPT_SECRETS),
    ),
    # Mail written to the bucket by SES (its notification, through the mail-objects queue): read, then
    # one conditional put per event into the inbox.
    str(resources.MAIL_OBJECTS_QUEUE.consumer): FunctionAccess(
        table_actions=("dynamodb:PutItem",),
        consumes=resources.MAIL_OBJECTS_QUEUE,
        mail_get=True,
    ),
    # The sender: its delivery ledger releases a claim (a conditional DeleteItem) when a send fails
    # transiently, so the retry can claim it again; it may delete nothing but those claims.
    str(resources.OUTBOUND_QUEUE.consumer): FunctionAccess(
        table_actions=_READ_WRITE,
        deletes_under=(Prefix.OUTBOX,),
        consumes=resources.OUTBOUND_QUEUE,
        reads_secrets_for=SEND,  # the sending credentials, never the REST keys or a webhook-only secret
        sends_email=True,
    ),
    # The SLA sweeper, every minute: a Query of the sparse index gsi_sla, consistent reads and conditional
    # updates of the conversations it escalates, their customer and standing message; escalation envelopes
    # with their `escalated` lifecycle events (conversation-events),
    # and a ladder's re-route publishes on the new route's queue. The same minute's feedback work: delayed
    # surveys due (a Query of their list from its cursor, the survey put in the outbox, the cursor moved), KPI
    # counts (a marker put and counter updates) and the weekly report (S3 objects, reports.fifo).
    resources.SCHEDULE_HANDLERS[0][0]: FunctionAccess(
        table_actions=("dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Query", "dynamodb:PutItem"),
        sends_to=(*resources.route_queue_specs(), resources.ESCALATION_QUEUE, resources.CONVERSATION_EVENTS_QUEUE,
                  resources.REPORTS_QUEUE),
        failure_queue="sweep",
        reports_put=True,
    ),
    # Amazon Connect's contact flow function: the caller's identities, customer and open conversation
    # (single-item reads), and the call stored as one conditional put per contact.
    # Since crisis landed it also lists the active incidents (a Query of their one partition) for crisis_status.
    resources.CONTACT_FLOW_FUNCTION: FunctionAccess(
        table_actions=("dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"),
    ),
    # Contact events (EventBridge): one conditional put per event; undeliverable ones to their failure queue.
    resources.CONTACT_EVENTS_CONSUMER: FunctionAccess(
        table_actions=("dynamodb:PutItem",), failure_queue="contact_events",
    ),
    # The crisis broadcast worker: the planner Queries the customers index (gsi_customers) and queues
    # recipients (and its own continuation) on the broadcast queue; each recipient is a conditional put,
    # reads of the customer and conversation, the outbox message (a put the relay queues) and counters.
    str(resources.BROADCAST_QUEUE.consumer): FunctionAccess(
        table_actions=(*_READ_WRITE, "dynamodb:BatchGetItem", "dynamodb:Query"),
        consumes=resources.BROADCAST_QUEUE,
        sends_to=(resources.BROADCAST_QUEUE,),
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


@dataclass(frozen=True, slots=True)
class Grant:
    """One statement of a role, before its resources are known: ``scope`` says which they are."""

    sid: str
    actions: tuple[str, ...]
    # logs | table | items | stream | any | consumed_queue | sent_queues | payloads | media | secrets | id_key | email
    scope: str
    leading_keys: tuple[str, ...] = ()  # partition key prefixes the actions are limited to (dynamodb:LeadingKeys)

    def condition(self) -> dict[str, dict[str, list[str]]] | None:
        if not self.leading_keys:
            return None
        # ForAllValues: every partition key the request names must match one prefix.
        return {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{p}*" for p in self.leading_keys]}}


_LOGS = ("logs:CreateLogStream", "logs:PutLogEvents")


def grants(access: FunctionAccess) -> list[Grant]:
    """What ``access`` grants, statement by statement; the one source of both the IAM policy and the checks."""
    out = [Grant("WriteOwnLogs", _LOGS, "logs")]
    if access.table_actions:
        out.append(Grant("Table", access.table_actions, "table"))
    if access.deletes_under:
        out.append(Grant("DeleteItems", ("dynamodb:DeleteItem",), "items", access.deletes_under))
    if access.stream_read:
        out.append(Grant("TableStream", _STREAM, "stream"))
        # Lambda's stream poller lists streams before reading; ListStreams has no resource scope.
        out.append(Grant("ListStreams", ("dynamodb:ListStreams",), "any"))
    if access.consumes is not None:
        out.append(Grant("Consume", _CONSUME, "consumed_queue"))
    if access.sends_to or access.failure_queue:
        out.append(Grant("Send", ("sqs:SendMessage",), "sent_queues"))
    if access.payload_put:
        out.append(Grant("PayloadPut", ("s3:PutObject",), "payloads"))
    if access.payload_get:
        out.append(Grant("PayloadGet", ("s3:GetObject",), "payloads"))
    if access.payload_delete:
        out.append(Grant("PayloadDelete", ("s3:DeleteObject",), "payloads"))
    if access.media_put:
        out.append(Grant("MediaPut", ("s3:PutObject",), "media"))
    if access.media_get:
        out.append(Grant("MediaGet", ("s3:GetObject",), "media"))
    if access.media_delete:
        out.append(Grant("MediaDelete", ("s3:DeleteObject",), "media"))
    if access.mail_get:
        out.append(Grant("MailGet", ("s3:GetObject",), "mail_objects"))
    if access.mail_delete:
        out.append(Grant("MailDelete", ("s3:DeleteObject",), "mail_objects"))
    if access.reports_put:
        out.append(Grant("ReportPut", ("s3:PutObject",), "reports"))
    if access.reads_secrets_for or access.reads_secrets_named:
        out.append(Grant("Secrets", ("secretsmanager:GetSecretValue",), "secrets"))
    if access.reads_id_key:
        out.append(Grant("IdKey", ("secretsmanager:GetSecretValue",), "id_key"))
    if access.sends_email:
        out.append(Grant("SendEmail", ("ses:SendEmail", "ses:SendRawEmail"), "email"))
    return out


def allowed_actions(access: FunctionAccess) -> frozenset[str]:
    """Every IAM action the role built from ``access`` allows (on some resource)."""
    return frozenset(action for grant in grants(access) for action in grant.actions)


def secret_groups_of(access: FunctionAccess) -> tuple[str, ...]:
    """The secrets (groups) the role built from ``access`` may read: its half of the provider secrets, the id key."""
    return (*_provider_groups(access), *((ID_KEY_GROUP,) if access.reads_id_key else ()))


def _provider_groups(access: FunctionAccess) -> tuple[str, ...]:
    half = groups_read_by(access.reads_secrets_for) if access.reads_secrets_for else ()
    named = {SECRET_GROUPS[name] for name in access.reads_secrets_named}
    return tuple(sorted(set(half) | named))


def _grant_resources(scope: str, access: FunctionAccess, res: Resources, log_group_arn: str) -> list[str]:
    if scope == "logs":
        return [f"{log_group_arn}:*"]
    if scope == "table":
        return _table_arns(res.table)
    if scope == "items":
        return [res.table.table_arn]  # items live in the table; an index is never written to
    if scope == "stream":
        stream_arn = res.table.table_stream_arn
        assert stream_arn is not None
        return [stream_arn]
    if scope == "any":
        return ["*"]
    if scope == "consumed_queue":
        assert access.consumes is not None
        return [res.queues[access.consumes.logical_name].queue_arn]
    if scope == "sent_queues":
        sends = [res.queues[spec.logical_name].queue_arn for spec in access.sends_to]
        if access.failure_queue:
            sends.append(res.failure_queues[access.failure_queue].queue_arn)
        return sends
    if scope == "payloads":
        return [f"{res.bucket.bucket_arn}/{RAW_PAYLOAD_PREFIX}*"]
    if scope == "media":
        return [f"{res.bucket.bucket_arn}/{MEDIA_PREFIX}*"]
    if scope == "mail_objects":
        return [f"{res.bucket.bucket_arn}/{resources.MAIL_OBJECTS_PREFIX}*"]
    if scope == "reports":
        return [f"{res.bucket.bucket_arn}/{REPORTS_PREFIX}*"]
    if scope == "secrets":
        return [res.secrets[group].secret_arn for group in _provider_groups(access)]
    if scope == "id_key":
        return [res.secrets[ID_KEY_GROUP].secret_arn]
    if scope == "email":
        # Scoped to this account's verified identities (and configuration sets, which SendEmail names too).
        stack = Stack.of(res.table)
        return [
            stack.format_arn(service="ses", resource="identity", resource_name="*"),
            stack.format_arn(service="ses", resource="configuration-set", resource_name="*"),
        ]
    raise ValueError(f"unknown grant scope {scope!r}")


def statements(access: FunctionAccess, res: Resources, log_group_arn: str) -> list[iam.PolicyStatement]:
    return [
        iam.PolicyStatement(
            sid=grant.sid,
            actions=list(grant.actions),
            resources=_grant_resources(grant.scope, access, res, log_group_arn),
            conditions=grant.condition(),
        )
        for grant in grants(access)
    ]


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
