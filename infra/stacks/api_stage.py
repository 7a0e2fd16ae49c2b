"""The REST API's deployment and stage: throttling, detailed metrics, execution and access logs.

Chalice's SAM API carried an implicit stage; rendered as plain CloudFormation we declare it.
Detailed metrics (``MetricsEnabled``) are what make API Gateway emit per-route metrics with
``Resource``/``Method`` dimensions, which the 5xx alarms per webhook route need.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.stacks.settings import DeploySettings

_ACCESS_LOG_FIELDS = apigateway.AccessLogFormat.json_with_standard_fields(
    caller=False,
    http_method=True,
    ip=True,
    protocol=True,
    request_time=True,
    resource_path=True,
    response_length=True,
    status=True,
    user=False,
)


def build_api_stage(
    scope: Construct,
    settings: DeploySettings,
    *,
    rest_api: apigateway.CfnRestApi,
    stage_name: str,
    definition_hash: str,
) -> tuple[apigateway.CfnStage, iam.Role]:
    access_logs = logs.LogGroup(
        scope,
        "ApiAccessLogs",
        log_group_name=f"/omnihub/{settings.stage}/api-access",
        retention=retention(settings.log_retention_days),
        removal_policy=RemovalPolicy.DESTROY,
    )
    # API Gateway writes execution logs with an account-level role (one per account and region).
    push_role = iam.Role(
        scope,
        "ApiGatewayCloudWatchRole",
        assumed_by=iam.ServicePrincipal("apigateway.amazonaws.com"),
        managed_policies=[
            iam.ManagedPolicy.from_aws_managed_policy_name("service-role/AmazonAPIGatewayPushToCloudWatchLogs")
        ],
    )
    account = apigateway.CfnAccount(scope, "ApiGatewayAccount", cloud_watch_role_arn=push_role.role_arn)
    # A new logical id per API definition: CloudFormation only redeploys a new Deployment.
    deployment = apigateway.CfnDeployment(
        scope, f"RestAPIDeployment{definition_hash}", rest_api_id=rest_api.ref, description=definition_hash
    )
    stage = apigateway.CfnStage(
        scope,
        "RestAPIStage",
        rest_api_id=rest_api.ref,
        stage_name=stage_name,
        deployment_id=deployment.ref,
        tracing_enabled=False,
        access_log_setting=apigateway.CfnStage.AccessLogSettingProperty(
            destination_arn=access_logs.log_group_arn, format=_ACCESS_LOG_FIELDS.to_string()
        ),
        method_settings=[
            apigateway.CfnStage.MethodSettingProperty(
                http_method="*",
                resource_path="/*",
                throttling_rate_limit=settings.api_rate_limit,
                throttling_burst_limit=settings.api_burst_limit,
                metrics_enabled=True,
                logging_level="ERROR",
                data_trace_enabled=False,  # bodies carry personal data and secrets' signatures
            )
        ],
    )
    stage.node.add_dependency(account)
    return stage, push_role


_RETENTION = {
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


def retention(days: int) -> logs.RetentionDays:
    """The shortest CloudWatch Logs retention of at least ``days`` (capped at one year)."""
    return next((value for limit, value in sorted(_RETENTION.items()) if limit >= days), logs.RetentionDays.ONE_YEAR)
