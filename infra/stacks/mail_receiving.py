"""Amazon SES receiving into the payload bucket: receipt rule set and rule (S3 action), the bucket policy
that lets SES write under the mail-objects prefix, the bucket's notification of each new mail to the
mail-objects queue (consumed by ``receive_mail_objects``), and the SNS topic whose notifications the
``/webhooks/email/ses`` endpoint accepts (``OMNIHUB_SES_TOPIC_ARNS``).

Plain CloudFormation (no custom resource): the notification is set on the bucket itself, and the
queue policy names the bucket by its deterministic ARN, which breaks the bucket ↔ queue cycle.
A rule set must still be made active once per account and region (``aws ses
set-active-receipt-rule-set``): CloudFormation cannot, and an account has one active set.
"""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Aws, Fn
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from chalicelib.adapters import resources
from chalicelib.providers.ses import TOPICS_ENV
from infra.stacks.settings import DeploySettings

RULE_NAME = "store-in-payload-bucket"


@dataclass(frozen=True, slots=True)
class MailReceiving:
    rule_set: ses.CfnReceiptRuleSet
    rule: ses.CfnReceiptRule
    topic: sns.Topic
    queue_policy: sqs.QueuePolicy

    @property
    def environment(self) -> dict[str, str]:
        """The functions' configuration: SNS notifications from SES (the SNS action, an S3 action's
        notification, bounces and complaints) are accepted on this topic."""
        return {TOPICS_ENV: self.topic.topic_arn}


def rule_set_name(stage: str) -> str:
    return f"omnihub-{stage}"


def build_mail_receiving(scope: Construct, settings: DeploySettings, *, bucket: s3.Bucket,
                         queue: sqs.Queue) -> MailReceiving:
    prefix = resources.MAIL_OBJECTS_PREFIX
    bucket_arn = Fn.sub("arn:${AWS::Partition}:s3:::" + resources.bucket_name(settings.stage, "${AWS::AccountId}"))
    queue.add_to_resource_policy(iam.PolicyStatement(  # the queue's one policy (it also enforces TLS)
        sid="BucketNotifiesNewMail",
        principals=[iam.ServicePrincipal("s3.amazonaws.com")],
        actions=["sqs:SendMessage"],
        resources=[queue.queue_arn],
        conditions={"ArnEquals": {"aws:SourceArn": bucket_arn},
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
    ))
    queue_policy = queue.node.try_find_child("Policy")
    assert isinstance(queue_policy, sqs.QueuePolicy)
    cfn_bucket = bucket.node.default_child
    assert isinstance(cfn_bucket, s3.CfnBucket)
    cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
        queue_configurations=[s3.CfnBucket.QueueConfigurationProperty(
            event="s3:ObjectCreated:*", queue=queue.queue_arn,
            filter=s3.CfnBucket.NotificationFilterProperty(s3_key=s3.CfnBucket.S3KeyFilterProperty(
                rules=[s3.CfnBucket.FilterRuleProperty(name="prefix", value=prefix)])),
        )])
    cfn_bucket.node.add_dependency(queue_policy)  # S3 checks it may send before it accepts the configuration

    name = rule_set_name(settings.stage)
    rule_arn = Fn.sub(f"arn:${{AWS::Partition}}:ses:${{AWS::Region}}:${{AWS::AccountId}}:receipt-rule-set/{name}"
                      f":receipt-rule/{RULE_NAME}")
    bucket.add_to_resource_policy(iam.PolicyStatement(
        sid="SesWritesInboundMail",
        principals=[iam.ServicePrincipal("ses.amazonaws.com")],
        actions=["s3:PutObject"],
        resources=[bucket.arn_for_objects(f"{prefix}*")],
        conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}, "ArnLike": {"aws:SourceArn": rule_arn}},
    ))
    rule_set = ses.CfnReceiptRuleSet(scope, "MailRuleSet", rule_set_name=name)
    rule = ses.CfnReceiptRule(
        scope, "MailRule", rule_set_name=name,
        rule=ses.CfnReceiptRule.RuleProperty(
            name=RULE_NAME, enabled=True, scan_enabled=True, tls_policy="Require",
            actions=[ses.CfnReceiptRule.ActionProperty(s3_action=ses.CfnReceiptRule.S3ActionProperty(
                bucket_name=bucket.bucket_name, object_key_prefix=prefix.rstrip("/")))],
        ),
    )
    rule.add_dependency(rule_set)
    if bucket.policy is not None:
        rule.node.add_dependency(bucket.policy)  # SES writes a test object when the rule is created
    topic = sns.Topic(scope, "MailNotificationsTopic", topic_name=f"omnihub-{settings.stage}-mail-notifications",
                      enforce_ssl=True)
    topic.add_to_resource_policy(iam.PolicyStatement(
        sid="SesPublishes", principals=[iam.ServicePrincipal("ses.amazonaws.com")], actions=["sns:Publish"],
        resources=[topic.topic_arn], conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
    ))
    return MailReceiving(rule_set, rule, topic, queue_policy)
