"""The Omnihub stack of one stage: storage, queues, secrets, the Chalice app, wiring, alarms."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Annotations, CfnOutput, Environment, Fn, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from chalicelib.adapters import resources
from infra.stacks import access, alarms, queues, storage, wiring
from infra.stacks.api_stage import build_api_stage, retention
from infra.stacks.chalice_app import API_HANDLER_NAME, ChaliceApp
from infra.stacks.mail_receiving import build_mail_receiving
from infra.stacks.provider_secrets import build_secrets
from infra.stacks.sam import REST_API
from infra.stacks.settings import DeploySettings


def _camel(handler: str) -> str:
    return "".join(part.capitalize() for part in handler.split("_"))


class OmnihubStack(Stack):
    """Construct id = the stage (Chalice reads its stage from it); stack name ``omnihub-{stage}``."""

    def __init__(self, scope: Construct, settings: DeploySettings, *, build_dir: Path) -> None:
        super().__init__(
            scope,
            settings.stage,
            stack_name=settings.stack_name,
            env=Environment(account=settings.account, region=settings.region),
            description=f"Omnihub omnichannel customer-care hub ({settings.stage})",
        )
        self.settings = settings
        table = storage.build_table(self, settings)
        bucket = storage.build_bucket(self, settings)
        pairs = queues.build_queues(self, settings)
        failure_queues = {
            "relay": queues.build_failure_queue(self, settings, queues.RELAY_FAILURES),
            "sweep": queues.build_failure_queue(self, settings, queues.SWEEP_FAILURES),
            "contact_events": queues.build_failure_queue(self, settings, queues.CONTACT_EVENT_FAILURES),
        }
        secrets = build_secrets(self, settings)
        self.mail_receiving = build_mail_receiving(
            self, settings, bucket=bucket, queue=pairs[resources.MAIL_OBJECTS_QUEUE.logical_name].queue
        )
        res = access.Resources(
            table=table,
            bucket=bucket,
            queues={name: pair.queue for name, pair in pairs.items()},
            failure_queues=failure_queues,
            secrets=secrets,
        )

        self.chalice = ChaliceApp(self, "Chalice", settings=settings, build_dir=build_dir)
        translated = self.chalice.translated
        rest_api = self.chalice.get_resource(REST_API)
        stage_name = translated.api_stage_name or "api"
        self.rest_api = rest_api
        self.api_stage, self.api_push_role = build_api_stage(
            self,
            settings,
            rest_api=rest_api,
            stage_name=stage_name,
            definition_hash=translated.api_definition_hash,
        )
        public_base_url = settings.public_base_url or Fn.sub(
            "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/" + stage_name, {"Api": rest_api.ref}
        )
        environment = {
            "OMNIHUB_STAGE": settings.stage,
            "OMNIHUB_TABLE": table.table_name,
            "OMNIHUB_BUCKET": bucket.bucket_name,
            "OMNIHUB_QUEUE_URL_PREFIX": Fn.sub("https://sqs.${AWS::Region}.${AWS::URLSuffix}/${AWS::AccountId}/"),
            "OMNIHUB_TABLE_STREAM_ARN": table.table_stream_arn or "",
            "PUBLIC_BASE_URL": public_base_url,
            **self.mail_receiving.environment,  # the topic whose SNS notifications the mail webhook accepts
        }

        self.bucket = bucket
        self.secrets = secrets
        self.queue_pairs = pairs
        self.failure_queues = failure_queues
        self.table = table
        self.consumers = [spec.consumer for spec in resources.QUEUES if spec.consumer]
        self.stream_consumer = resources.STREAM_CONSUMER
        self.function_names: dict[str, str] = {}
        self.roles: dict[str, iam.Role] = {}
        self.queue_mappings: list[lambda_.EventSourceMapping] = []
        functions: dict[str, lambda_.IFunction] = {}
        for handler in sorted(self.chalice.handler_names):
            cfn_function = self.chalice.function(handler)
            name = settings.function_name(handler)
            self.function_names[handler] = name
            log_group = logs.LogGroup(
                self,
                f"{_camel(handler)}Logs",
                log_group_name=f"/aws/lambda/{name}",
                retention=retention(settings.log_retention_days),
                removal_policy=RemovalPolicy.DESTROY,
            )
            role = access.build_role(self, f"{_camel(handler)}Role", handler=handler, function_name=name, res=res)
            self.roles[handler] = role
            cfn_function.role = role.role_arn
            for key, value in environment.items():
                cfn_function.add_property_override(f"Environment.Variables.{key}", value)
            cfn_function.node.add_dependency(role, log_group)
            functions[handler] = lambda_.Function.from_function_attributes(
                self, f"{_camel(handler)}Ref", function_arn=cfn_function.attr_arn, role=role, same_environment=True
            )

        self.missing_handlers = wiring.check_app_events(
            self, settings.stage, translated.events, self.chalice.handler_names
        )
        for spec in resources.QUEUES:
            if spec.consumer and spec.consumer in functions:
                mapping = wiring.wire_queue_consumer(
                    self, functions[spec.consumer], spec, pairs[spec.logical_name].queue
                )
                mapping.node.add_dependency(self.roles[spec.consumer])
                self.queue_mappings.append(mapping)
        relay = resources.STREAM_CONSUMER
        self.stream_mapping = wiring.wire_stream_relay(self, functions[relay], table, failure_queues["relay"])
        self.stream_mapping.node.add_dependency(self.roles[relay])
        for handler, period in resources.SCHEDULE_HANDLERS:
            if handler not in functions:
                continue
            rule = wiring.wire_schedule(self, functions[handler], handler, period, failure_queues["sweep"])
            Annotations.of(rule).acknowledge_warning(
                "@aws-cdk/aws-events:ruleUnresolvedEnvironment",
                "Rule and function are in this stack; the account is only unresolved in offline synth.",
            )
            # Lambda's own async retries end in the same queue as EventBridge's delivery failures.
            self.chalice.function(handler).dead_letter_config = lambda_.CfnFunction.DeadLetterConfigProperty(
                target_arn=failure_queues["sweep"].queue_arn
            )

        # Amazon Connect: the flow's function may be invoked by Connect; contact events reach their consumer.
        if resources.CONTACT_FLOW_FUNCTION in functions:
            self.connect_permission = wiring.grant_connect_invoke(
                self, functions[resources.CONTACT_FLOW_FUNCTION], settings.connect_instance_arn)
        if resources.CONTACT_EVENTS_CONSUMER in functions:
            contact_rule = wiring.wire_contact_events(
                self, functions[resources.CONTACT_EVENTS_CONSUMER], failure_queues["contact_events"])
            Annotations.of(contact_rule).acknowledge_warning(
                "@aws-cdk/aws-events:ruleUnresolvedEnvironment",
                "Rule and function are in this stack; the account is only unresolved in offline synth.",
            )
            self.chalice.function(resources.CONTACT_EVENTS_CONSUMER).dead_letter_config = (
                lambda_.CfnFunction.DeadLetterConfigProperty(target_arn=failure_queues["contact_events"].queue_arn))

        self.alarm_topic = topic = alarms.build_topic(self, settings.stage)
        for pair in pairs.values():
            alarms.dlq_alarm(self, topic, pair.spec.logical_name, pair.dlq)
            alarms.age_alarm(self, topic, pair.spec, pair.queue)
        for name, queue in failure_queues.items():
            alarms.dlq_alarm(self, topic, f"{name}-failures", queue)
        alarms.webhook_5xx_alarms(
            self, topic, api_name=settings.stack_name, stage_name=stage_name, routes=translated.routes
        )
        alarms.function_error_alarms(self, topic, self.function_names)

        CfnOutput(self, "ApiUrl", value=public_base_url, description="Base URL for provider webhooks")
        CfnOutput(self, "TableName", value=table.table_name)
        CfnOutput(self, "PayloadBucketName", value=bucket.bucket_name)
        CfnOutput(self, "AlarmTopicArn", value=topic.topic_arn)
        CfnOutput(self, "ApiFunctionName", value=self.function_names[API_HANDLER_NAME])

    def access_of(self, handler: str) -> access.FunctionAccess:
        return access.ACCESS[handler]
