"""cdk-nag (AwsSolutions + Serverless) over the whole app, Chalice's functions and API included.

cdk-nag 3 runs as a CDK policy-validation plugin: findings land in the cloud assembly's
``validation-report.json`` and an unacknowledged error fails ``app.synth()``. Each
acknowledgment below is attached to the one construct it concerns and says why.
"""

from __future__ import annotations

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from constructs import IConstruct

from chalicelib.adapters import resources
from chalicelib.adapters.resources import MAIL_OBJECTS_PREFIX
from chalicelib.adapters.secrets import ID_KEY_GROUP
from infra.stacks.access import MEDIA_PREFIX, RAW_PAYLOAD_PREFIX, REPORTS_PREFIX
from infra.stacks.chalice_app import API_HANDLER_NAME
from infra.stacks.omnihub_stack import OmnihubStack

RUNTIME = (
    "The runtime is the project's Python (requires-python 3.11; the deployment package's wheels are "
    "resolved for it by `chalice package`). It moves with the project, not ahead of it."
)
SYNC_ONLY = (
    "Invoked synchronously only ({source}); a function DLQ applies to asynchronous invocations. "
    "Failures are kept by {kept}."
)
REASONS: dict[str, str] = {
    "AwsSolutions-S1": (
        "Raw webhook payloads are written by one role (the API function) under raw/ and expire by "
        "lifecycle; object-level auditing, if required, is CloudTrail S3 data events, not a second "
        "bucket that would itself need logging."
    ),
    "AwsSolutions-SMG4": (
        "Third-party provider credentials (webhook signing secrets, API tokens) are rotated in the "
        "provider's console, which no rotation Lambda can drive; the README (Deploying to AWS) gives "
        "the put-secret-value step used after each provider-side rotation."
    ),
    "id-key": (
        "The id key is generated at deploy and never leaves Secrets Manager. Rotating it changes only the "
        "ids of customers created afterwards and the inbound FIFO groups (stored ids stay valid), so it is "
        "rotated by hand when needed (put-secret-value), not on a schedule."
    ),
    "AwsSolutions-APIG2": (
        "Webhook bodies must reach the function byte-for-byte: signatures are computed over the raw "
        "body and each provider has its own format (form, JSON, multipart, SNS). Validation happens "
        "after the signature check in the app (chalicelib/providers), never in API Gateway."
    ),
    "AwsSolutions-APIG3": (
        "No WAF by default: every webhook is authenticated by the provider's signature before anything "
        "is stored, the REST API by API key, and stage throttling caps load. Attach a WebACL to the "
        "stage if abuse shows up in the access logs."
    ),
    "AwsSolutions-IAM4": (
        "API Gateway's account-level CloudWatch role: AmazonAPIGatewayPushToCloudWatchLogs is the "
        "AWS-maintained policy for exactly this role, which only API Gateway can assume."
    ),
    "Serverless-LambdaTracing": (
        "X-Ray is off by default: Powertools Tracer costs hundreds of ms at import on the webhook "
        "path (README, Architecture: no slow import on the webhook path). Enable per stage with `xray` "
        "in .chalice/config.json."
    ),
    "Serverless-APIGWXrayEnabled": "Follows the functions' tracing (see Serverless-LambdaTracing).",
    "terminal-queue": (
        "A dead-letter queue is the end of the line: it is drained by an operator after the alarm on "
        "its depth fires; redriving a DLQ into another DLQ would only hide the failure."
    ),
    "stream-destination": (
        "This queue is the table stream's on-failure destination (a DLQ); cdk-nag only recognises "
        "queues named in an SQS redrive policy as DLQs."
    ),
    "sqs-esm-destination": (
        "SQS event source mappings do not support on-failure destinations; a message that keeps "
        "failing moves to the queue's own DLQ after maxReceiveCount (resources.py)."
    ),
    "log-streams": (
        "Lambda creates its log streams at run time with generated names; the grant is scoped to "
        "this function's own log group."
    ),
    "ses-identities": (
        "SES authorizes SendEmail against the verified sender identity and configuration set the message "
        "names; which ones are the operator's choice (OMNIHUB_EMAIL_FROM, OMNIHUB_SES_CONFIGURATION_SET), "
        "so the grant covers this account's identities and configuration sets in this region only."
    ),
    "payload-prefix": f"Object access is scoped to the raw payload prefix {RAW_PAYLOAD_PREFIX} (date/hash keys).",
    "mail-prefix": f"Object access is scoped to the prefix SES writes inbound mail to ({MAIL_OBJECTS_PREFIX}).",
    "media-prefix": f"Object access is scoped to the kept attachments prefix {MEDIA_PREFIX} (hash keys).",
    "reports-prefix": f"The weekly KPI report writes only under {REPORTS_PREFIX} (one folder per week).",
    "list-streams": (
        "dynamodb:ListStreams has no resource-level scope (IAM requires '*'); the stream poller "
        "needs it. Reads are scoped to this table's stream."
    ),
}


def apply(app: cdk.App, stack: OmnihubStack) -> None:
    cdk.Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True),
        ServerlessChecks(app, verbose=True),
    )
    _acknowledge(stack)


def _ack(construct: IConstruct, rule: str, reason_key: str | None = None, *, reason: str | None = None) -> None:
    text = reason or REASONS[reason_key or rule.split("[", 1)[0]]
    cdk.Validations.of(construct).acknowledge(cdk.Acknowledgment(id=rule, reason=text))


def _acknowledge(stack: OmnihubStack) -> None:
    settings = stack.settings
    _ack(stack.bucket, "AwsSolutions-S1")
    for group, secret in stack.secrets.items():
        _ack(secret, "AwsSolutions-SMG4", "id-key" if group == ID_KEY_GROUP else None)
    _ack(stack.rest_api, "AwsSolutions-APIG2")
    _ack(stack.api_stage, "AwsSolutions-APIG3")
    _ack(stack.api_stage, "Serverless-APIGWXrayEnabled")
    _ack(
        stack.api_push_role,
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AmazonAPIGatewayPushToCloudWatchLogs]",
    )
    for pair in stack.queue_pairs.values():
        _ack(pair.dlq, "Serverless-SQSRedrivePolicy", "terminal-queue")
    for queue in stack.failure_queues.values():
        _ack(queue, "Serverless-SQSRedrivePolicy", "terminal-queue")
    _ack(stack.failure_queues["relay"], "AwsSolutions-SQS3", "stream-destination")
    for mapping in stack.queue_mappings:
        _ack(mapping, "Serverless-LambdaEventSourceMappingDestination", "sqs-esm-destination")

    account = settings.account or "<AWS::AccountId>"
    bucket_id = stack.get_logical_id(stack.bucket.node.default_child)  # type: ignore[arg-type]
    sync_sources = {
        API_HANDLER_NAME: ("API Gateway proxy", "the caller's retry: 5xx when the durable write failed"),
    }
    for spec_consumer in stack.consumers:
        sync_sources[spec_consumer] = ("SQS event source mapping", "the queue's redrive DLQ")
    sync_sources[stack.stream_consumer] = ("DynamoDB stream mapping", "its on-failure destination relay-failures")
    # Amazon Connect waits for the answer (8 s at most) and takes the flow's error branch on a failure.
    sync_sources[resources.CONTACT_FLOW_FUNCTION] = ("Amazon Connect contact flow",
                                                     "the flow's error branch; the call is answered regardless")
    for handler, role in stack.roles.items():
        function = stack.chalice.function(handler)
        _ack(function, "AwsSolutions-L1", reason=RUNTIME)
        _ack(function, "Serverless-LambdaLatestVersion", reason=RUNTIME)
        _ack(function, "Serverless-LambdaTracing")
        if handler in sync_sources:
            source, kept = sync_sources[handler]
            _ack(function, "Serverless-LambdaDLQ", reason=SYNC_ONLY.format(source=source, kept=kept))
        name = stack.function_names[handler]
        log_arn = f"arn:<AWS::Partition>:logs:{settings.region}:{account}:log-group:/aws/lambda/{name}:*"
        _ack(role, f"AwsSolutions-IAM5[Resource::{log_arn}]", "log-streams")
        access = stack.access_of(handler)
        if access.payload_put or access.payload_get or access.payload_delete:
            _ack(role, f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{RAW_PAYLOAD_PREFIX}*]", "payload-prefix")
        if access.media_put or access.media_get or access.media_delete:
            _ack(role, f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{MEDIA_PREFIX}*]", "media-prefix")
        if access.mail_get or access.mail_delete:
            _ack(role, f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{MAIL_OBJECTS_PREFIX}*]", "mail-prefix")
        if access.reports_put:
            _ack(role, f"AwsSolutions-IAM5[Resource::<{bucket_id}.Arn>/{REPORTS_PREFIX}*]", "reports-prefix")
        if access.stream_read:
            _ack(role, "AwsSolutions-IAM5[Resource::*]", "list-streams")
        if access.sends_email:
            for kind in ("identity", "configuration-set"):
                ses_arn = f"arn:<AWS::Partition>:ses:{settings.region}:{account}:{kind}/*"
                _ack(role, f"AwsSolutions-IAM5[Resource::{ses_arn}]", "ses-identities")
