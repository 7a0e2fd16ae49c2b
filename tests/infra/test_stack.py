"""The synthesized stack against chalicelib/adapters/resources.py: queues, mappings, IAM, alarms, cdk-nag."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.adapters import resources
from chalicelib.adapters.secrets import SECRET_GROUP_NAMES, STORED_SECRETS, secret_id

STAGE = "dev"


def _by_type(raw: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {key: res for key, res in raw["Resources"].items() if res["Type"] == kind}


def _logical_id_of_queue(raw: dict[str, Any], name: str) -> str:
    matches = [k for k, r in _by_type(raw, "AWS::SQS::Queue").items() if r["Properties"].get("QueueName") == name]
    assert len(matches) == 1, f"queue {name}: {matches}"
    return matches[0]


def _function_id(synthesized: Any, handler: str) -> str:
    return synthesized.stack.chalice.handler_names[handler]


@pytest.fixture
def raw(synthesized: Any) -> dict[str, Any]:
    assert synthesized.validation_error is None, synthesized.validation_error
    return synthesized.raw


def test_functions_and_api_are_plain_cloudformation(raw: dict[str, Any]) -> None:
    assert "Transform" not in raw
    assert not [r for r in raw["Resources"].values() if r["Type"].startswith("AWS::Serverless::")]
    assert _by_type(raw, "AWS::ApiGateway::RestApi")


@pytest.mark.parametrize("spec", resources.all_queues(), ids=lambda spec: spec.logical_name)
def test_every_queue_has_its_dlq_with_the_receive_count_of_resources(raw: dict[str, Any], spec: Any) -> None:
    queue = raw["Resources"][_logical_id_of_queue(raw, resources.queue_name(STAGE, spec))]["Properties"]
    dlq_id = _logical_id_of_queue(raw, resources.dlq_name(STAGE, spec))
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": spec.max_receive_count,
    }
    assert queue["MessageRetentionPeriod"] == spec.retention_seconds
    assert queue["VisibilityTimeout"] == spec.visibility_timeout_seconds
    assert queue["SqsManagedSseEnabled"] is True
    assert queue.get("FifoQueue", False) is spec.fifo
    assert raw["Resources"][dlq_id]["Properties"]["MessageRetentionPeriod"] == spec.dlq_retention_seconds


def test_every_queue_denies_insecure_transport(raw: dict[str, Any]) -> None:
    guarded = set()
    for policy in _by_type(raw, "AWS::SQS::QueuePolicy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}:
                guarded.update(q["Ref"] for q in policy["Properties"]["Queues"])
    assert guarded == set(_by_type(raw, "AWS::SQS::Queue"))


@pytest.mark.parametrize("spec", [s for s in resources.QUEUES if s.consumer], ids=lambda s: s.logical_name)
def test_every_consumer_mapping_reports_batch_item_failures(synthesized: Any, raw: dict[str, Any], spec: Any) -> None:
    queue_id = _logical_id_of_queue(raw, resources.queue_name(STAGE, spec))
    assert spec.consumer in synthesized.stack.chalice.handler_names, f"app.py has no handler {spec.consumer}"
    function_id = _function_id(synthesized, spec.consumer)
    mappings = [
        m["Properties"]
        for m in _by_type(raw, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    ]
    assert len(mappings) == 1
    assert mappings[0]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mappings[0]["BatchSize"] == spec.batch_size
    assert function_id in str(mappings[0]["FunctionName"])
    timeout = raw["Resources"][function_id]["Properties"]["Timeout"]
    assert timeout == spec.consumer_timeout_seconds
    assert raw["Resources"][queue_id]["Properties"]["VisibilityTimeout"] >= 6 * timeout


def test_stream_relay_bisects_retries_and_has_a_failure_destination(synthesized: Any, raw: dict[str, Any]) -> None:
    table_id = next(iter(_by_type(raw, "AWS::DynamoDB::Table")))
    failures = _logical_id_of_queue(raw, f"omnihub-{STAGE}-relay-failures")
    (mapping,) = [
        m["Properties"]
        for m in _by_type(raw, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    ]
    assert _function_id(synthesized, resources.STREAM_CONSUMER) in str(mapping["FunctionName"])
    assert mapping["BisectBatchOnFunctionError"] is True
    assert 0 < mapping["MaximumRetryAttempts"] <= 10
    assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [failures, "Arn"]}}}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_every_event_source_mapping_reports_batch_item_failures(raw: dict[str, Any]) -> None:
    for mapping in _by_type(raw, "AWS::Lambda::EventSourceMapping").values():
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def _role_actions(raw: dict[str, Any], role_id: str) -> set[str]:
    actions: set[str] = set()
    for policy in _by_type(raw, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                assert statement["Effect"] == "Allow"
                found = statement["Action"]
                actions.update([found] if isinstance(found, str) else found)
    return actions


def test_api_function_role_has_exactly_the_permissions_it_uses(synthesized: Any, raw: dict[str, Any]) -> None:
    function = raw["Resources"][_function_id(synthesized, "api_handler")]["Properties"]
    role_id = function["Role"]["Fn::GetAtt"][0]
    role = raw["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role and "Policies" not in role
    assert _role_actions(raw, role_id) == {
        "dynamodb:PutItem",
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",  # a phone's identities on SMS, WhatsApp and voice, for the instant ack
        "dynamodb:Query",
        "dynamodb:UpdateItem",  # resolve, reopen, pending, assign; PATCH /customers/{id}
        "dynamodb:DeleteItem",  # DELETE /customers/{id}: the customer's items, under their prefixes only
        "sqs:SendMessage",  # lifecycle events; an assignment's envelope on its route queue
        "s3:PutObject",
        "s3:DeleteObject",  # a large body archived for a duplicate delivery is discarded; an erasure's objects
        "s3:GetObject",  # attachments and mail: the presigned links (conversation, export) are signed with this role
        "secretsmanager:GetSecretValue",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    bucket_id = next(iter(_by_type(raw, "AWS::S3::Bucket")))
    put = [
        s
        for p in _by_type(raw, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        if s["Action"] == "s3:PutObject"
    ]
    assert put[0]["Resource"] == {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/raw/*"]]}
    def under(prefix: str) -> dict[str, Any]:
        return {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, f"/{prefix}*"]]}

    deletes = [s["Resource"] for s in _role_statements(raw, role_id) if s["Action"] == "s3:DeleteObject"]
    assert put[0]["Resource"] == under("raw/")
    assert sorted(map(str, deletes)) == sorted(map(str, (under("raw/"), under("attachments/"), under("inbound-mail/"))))
    links = [s["Resource"] for s in _role_statements(raw, role_id) if s["Action"] == "s3:GetObject"]
    assert sorted(map(str, links)) == sorted(map(str, (under("attachments/"), under("inbound-mail/"))))


def _role_statements(raw: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in _by_type(raw, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def _role_of(synthesized: Any, raw: dict[str, Any], handler: str) -> str:
    return str(raw["Resources"][_function_id(synthesized, handler)]["Properties"]["Role"]["Fn::GetAtt"][0])


def test_only_the_sender_deletes_items_and_only_its_delivery_claims(synthesized: Any, raw: dict[str, Any]) -> None:
    """And the API function, for DELETE /customers/{id}: only under the prefixes an erasure reaches."""
    from chalicelib.adapters.dynamo.keys import SURVEY_DUE_PARTITION, Prefix

    table_id = next(iter(_by_type(raw, "AWS::DynamoDB::Table")))
    deleting = {}
    for handler in synthesized.stack.roles:
        for statement in _role_statements(raw, _role_of(synthesized, raw, handler)):
            actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            if "dynamodb:DeleteItem" in actions:
                deleting[handler] = statement
    assert set(deleting) == {str(resources.OUTBOUND_QUEUE.consumer), "api_handler"}
    erasing = deleting.pop("api_handler")
    assert erasing["Action"] == "dynamodb:DeleteItem" and erasing["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}
    erased = {Prefix.CUSTOMER, Prefix.CONVERSATION, Prefix.IDENTITY, Prefix.EXPIRING_CLAIM, Prefix.PROVIDER_MESSAGE,
              Prefix.CALL, Prefix.FEEDBACK, Prefix.INCIDENT, SURVEY_DUE_PARTITION}
    assert sorted(erasing["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]) == sorted(
        f"{prefix}*" for prefix in erased)  # never INBOX# (kept as dedupe records), BCAST#, OUTBOX#, REF#, ERASURE#
    [statement] = deleting.values()
    assert statement["Action"] == "dynamodb:DeleteItem"
    assert statement["Resource"] == {"Fn::GetAtt": [table_id, "Arn"]}
    assert statement["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{Prefix.OUTBOX}*"]}}


def _secret_ids_readable(synthesized: Any, raw: dict[str, Any], handler: str) -> set[str]:
    names = {key: r["Properties"]["Name"] for key, r in _by_type(raw, "AWS::SecretsManager::Secret").items()}
    found = set()
    for statement in _role_statements(raw, _role_of(synthesized, raw, handler)):
        if statement["Action"] == "secretsmanager:GetSecretValue":
            resource = statement["Resource"]
            found |= {names[r["Ref"]] for r in (resource if isinstance(resource, list) else [resource])}
    return found


def test_the_api_function_and_the_sender_each_read_their_half_of_the_provider_secrets(
    synthesized: Any, raw: dict[str, Any]
) -> None:
    api = _secret_ids_readable(synthesized, raw, "api_handler")
    sender = _secret_ids_readable(synthesized, raw, str(resources.OUTBOUND_QUEUE.consumer))
    assert {secret_id(STAGE, g) for g in ("api", "meta", "twilio", "vonage", "ids")} <= api
    assert {secret_id(STAGE, g) for g in ("meta-send", "twilio-send", "vonage-send", "telegram-send")}.isdisjoint(api)
    assert {secret_id(STAGE, g) for g in ("meta-send", "twilio", "twilio-send", "vonage-send", "viber")} <= sender
    assert {secret_id(STAGE, g) for g in ("api", "meta", "vonage", "telegram", "ids")}.isdisjoint(sender)


def test_every_function_has_its_own_role_and_no_wildcard_action(synthesized: Any, raw: dict[str, Any]) -> None:
    roles = [raw["Resources"][_function_id(synthesized, h)]["Properties"]["Role"] for h in synthesized.stack.roles]
    assert len({str(role) for role in roles}) == len(roles)
    for policy in _by_type(raw, "AWS::IAM::Policy").values():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
            assert not [a for a in actions if "*" in a]


def _alarms(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return [a["Properties"] for a in _by_type(raw, "AWS::CloudWatch::Alarm").values()]


def _dimension(alarm: dict[str, Any], name: str) -> Any:
    return next((d["Value"] for d in alarm.get("Dimensions", []) if d["Name"] == name), None)


def test_alarms_on_every_dlq_depth_and_every_queue_age(raw: dict[str, Any]) -> None:
    alarms = _alarms(raw)
    topic_id = next(i for i, t in _by_type(raw, "AWS::SNS::Topic").items()
                    if t["Properties"].get("TopicName") == f"omnihub-{STAGE}-alarms")
    assert all(alarm["AlarmActions"] == [{"Ref": topic_id}] for alarm in alarms)

    def watched(metric: str) -> set[str]:
        return {
            _dimension(a, "QueueName")["Fn::GetAtt"][0]
            for a in alarms
            if a["MetricName"] == metric and a["Namespace"] == "AWS/SQS"
        }

    dlqs = {_logical_id_of_queue(raw, resources.dlq_name(STAGE, s)) for s in resources.all_queues()}
    dlqs |= {_logical_id_of_queue(raw, f"omnihub-{STAGE}-{n}-failures") for n in ("relay", "sweep", "contact-event")}
    assert watched("ApproximateNumberOfMessagesVisible") == dlqs
    queues = {_logical_id_of_queue(raw, resources.queue_name(STAGE, s)) for s in resources.all_queues()}
    assert watched("ApproximateAgeOfOldestMessage") == queues


def test_5xx_alarm_per_webhook_route_and_errors_alarm_per_function(synthesized: Any, raw: dict[str, Any]) -> None:
    alarms = _alarms(raw)
    routes = {(m, p) for m, p in synthesized.stack.chalice.translated.routes if p.startswith("/webhooks/")}
    assert routes
    alarmed = {
        (_dimension(a, "Method"), _dimension(a, "Resource"))
        for a in alarms
        if a["MetricName"] == "5XXError" and _dimension(a, "ApiName") == f"omnihub-{STAGE}"
    }
    assert alarmed == routes
    errors = {_dimension(a, "FunctionName") for a in alarms if a["MetricName"] == "Errors"}
    names = {r["Properties"]["FunctionName"] for r in _by_type(raw, "AWS::Lambda::Function").values()}
    assert errors == names


def test_api_stage_throttles_and_emits_per_route_metrics(raw: dict[str, Any]) -> None:
    (stage,) = [s["Properties"] for s in _by_type(raw, "AWS::ApiGateway::Stage").values()]
    (settings,) = stage["MethodSettings"]
    assert settings["ThrottlingRateLimit"] > 0 and settings["ThrottlingBurstLimit"] > 0
    assert settings["MetricsEnabled"] is True  # per Resource/Method metrics for the 5xx alarms
    assert stage["AccessLogSetting"]["DestinationArn"]
    (api,) = _by_type(raw, "AWS::ApiGateway::RestApi").values()
    assert api["Properties"]["Name"] == f"omnihub-{STAGE}"


def test_schedule_runs_the_sweeper_every_minute(synthesized: Any, raw: dict[str, Any]) -> None:
    ((handler, seconds),) = resources.SCHEDULE_HANDLERS
    assert seconds == 60
    (rule,) = [r["Properties"] for r in _by_type(raw, "AWS::Events::Rule").values()
               if "ScheduleExpression" in r["Properties"]]
    assert rule["ScheduleExpression"] == "rate(1 minute)"
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [_function_id(synthesized, handler), "Arn"]}
    assert "DeadLetterConfig" in target


def test_amazon_connect_may_invoke_the_contact_flow_function_and_only_that_one(
    synthesized: Any, raw: dict[str, Any]
) -> None:
    permissions = [r["Properties"] for r in _by_type(raw, "AWS::Lambda::Permission").values()
                   if r["Properties"].get("Principal") == resources.CONNECT_PRINCIPAL]
    (permission,) = permissions
    assert permission["Action"] == "lambda:InvokeFunction"
    assert permission["FunctionName"] == {"Fn::GetAtt": [_function_id(synthesized, resources.CONTACT_FLOW_FUNCTION),
                                                         "Arn"]}
    assert "SourceAccount" in permission  # only this account's Connect instances


def test_contact_events_reach_their_consumer_through_an_eventbridge_rule(synthesized: Any, raw: dict[str, Any]) -> None:
    (rule,) = [r["Properties"] for r in _by_type(raw, "AWS::Events::Rule").values()
               if "EventPattern" in r["Properties"]]
    assert rule["EventPattern"] == resources.CONTACT_EVENT_PATTERN
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": [_function_id(synthesized, resources.CONTACT_EVENTS_CONSUMER), "Arn"]}
    assert "DeadLetterConfig" in target and target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    queue = _logical_id_of_queue(raw, f"omnihub-{STAGE}-contact-event-failures")
    assert target["DeadLetterConfig"]["Arn"] == {"Fn::GetAtt": [queue, "Arn"]}


def test_table_matches_resources(synthesized: Any) -> None:
    from aws_cdk.assertions import Match

    spec = resources.TABLE
    synthesized.template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": resources.table_name(STAGE),
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
            "TimeToLiveSpecification": {"AttributeName": spec.ttl_attribute, "Enabled": True},
            "StreamSpecification": {"StreamViewType": spec.stream_view},
            "GlobalSecondaryIndexes": [Match.object_like({"IndexName": index.name}) for index in spec.indexes],
        },
    )


def test_bucket_is_private_encrypted_ssl_only_and_expires_payloads(synthesized: Any, raw: dict[str, Any]) -> None:
    (bucket,) = [b["Properties"] for b in _by_type(raw, "AWS::S3::Bucket").values()]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    rules = {rule["Id"]: rule for rule in bucket["LifecycleConfiguration"]["Rules"]}
    for expiry in resources.PAYLOAD_BUCKET.expiry_rules:  # per prefix: raw payloads do not take attachments along
        assert rules.pop(expiry.rule_id) == {"Id": expiry.rule_id, "Prefix": expiry.prefix,
                                             "ExpirationInDays": expiry.days, "Status": "Enabled"}
    assert rules == {"abort-incomplete-uploads": {"Id": "abort-incomplete-uploads", "Status": "Enabled",
                                                  "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}}
    prefixes = {rule.prefix: rule.days for rule in resources.PAYLOAD_BUCKET.expiry_rules}
    assert prefixes["attachments/"] > prefixes["raw/"] == resources.RETENTION.raw_payload_days
    (policy,) = _by_type(raw, "AWS::S3::BucketPolicy").values()
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    )


def test_one_secret_per_provider_group_and_reader(raw: dict[str, Any]) -> None:
    found = _by_type(raw, "AWS::SecretsManager::Secret")
    secrets = {s["Properties"]["Name"]: (key, s["Properties"]) for key, s in found.items()}
    assert set(secrets) == {secret_id(STAGE, group) for group in SECRET_GROUP_NAMES}
    for stored in STORED_SECRETS:  # each created with exactly its names, empty
        _, properties = secrets[secret_id(STAGE, stored.group)]
        template = json.loads(properties["GenerateSecretString"]["SecretStringTemplate"])
        assert template == {name: "" for name in stored.names}, stored.group
    # The secrets that predate the split keep their logical ids (a new id would replace the secret).
    assert secrets[secret_id(STAGE, "meta")][0].startswith("SecretMeta")
    assert not secrets[secret_id(STAGE, "meta")][0].startswith("SecretMetaSend")
    assert secrets[secret_id(STAGE, "meta-send")][0].startswith("SecretMetaSend")


def test_cdk_nag_reports_no_unacknowledged_error(synthesized: Any) -> None:
    assert synthesized.validation_error is None, synthesized.validation_error
    findings = [
        (report["pluginName"], violation["ruleName"], violation["severity"])
        for report in synthesized.validation_report.get("pluginReports", [])
        for violation in report.get("violations", [])
    ]
    assert not findings
    nag_messages = [text for level, text in synthesized.messages if "AwsSolutions-" in text or "Serverless-" in text]
    assert not nag_messages


def test_every_acknowledgment_carries_a_reason(raw: dict[str, Any]) -> None:
    acknowledged = [
        rule
        for resource in raw["Resources"].values()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]
    assert acknowledged
    assert all(len(rule["reason"]) > 40 for rule in acknowledged), acknowledged


def test_only_the_outbound_function_may_send_email(synthesized: Any, raw: dict[str, Any]) -> None:
    for handler in ("api_handler", "handle_inbound", "handle_outbound", "relay_inbox_stream", "sweep_sla"):
        function = raw["Resources"][_function_id(synthesized, handler)]["Properties"]
        actions = _role_actions(raw, function["Role"]["Fn::GetAtt"][0])
        assert ("ses:SendEmail" in actions) is (handler == "handle_outbound"), handler


def test_the_worker_reads_stored_bodies_and_keeps_attachments_under_their_prefix(
        synthesized: Any, raw: dict[str, Any]) -> None:
    role_id = _role_of(synthesized, raw, str(resources.INBOUND_QUEUE.consumer))
    bucket_id = next(iter(_by_type(raw, "AWS::S3::Bucket")))
    s3_statements = {(s["Action"], s["Resource"]["Fn::Join"][1][1]) for s in _role_statements(raw, role_id)
                     if str(s["Action"]).startswith("s3:")}
    assert s3_statements == {("s3:GetObject", "/raw/*"), ("s3:PutObject", "/attachments/*"),
                             ("s3:GetObject", f"/{resources.MAIL_OBJECTS_PREFIX}*")}
    assert all(s["Resource"]["Fn::Join"][1][0] == {"Fn::GetAtt": [bucket_id, "Arn"]}
               for s in _role_statements(raw, role_id) if str(s["Action"]).startswith("s3:"))


def test_ses_writes_mail_under_its_prefix_and_the_bucket_notifies_the_mail_objects_queue(
        synthesized: Any, raw: dict[str, Any]) -> None:
    prefix = resources.MAIL_OBJECTS_PREFIX
    [rule_set] = _by_type(raw, "AWS::SES::ReceiptRuleSet").values()
    [rule] = _by_type(raw, "AWS::SES::ReceiptRule").values()
    name = rule_set["Properties"]["RuleSetName"]
    assert rule["Properties"]["RuleSetName"] == name == f"omnihub-{STAGE}"
    [action] = rule["Properties"]["Rule"]["Actions"]
    assert action["S3Action"]["ObjectKeyPrefix"] == prefix.rstrip("/")
    assert rule["Properties"]["Rule"]["Enabled"] is True and rule["Properties"]["Rule"]["ScanEnabled"] is True
    [bucket_policy] = _by_type(raw, "AWS::S3::BucketPolicy").values()
    [ses_write] = [s for s in bucket_policy["Properties"]["PolicyDocument"]["Statement"]
                   if s.get("Principal") == {"Service": "ses.amazonaws.com"}]
    assert ses_write["Action"] == "s3:PutObject" and ses_write["Resource"]["Fn::Join"][1][1] == f"/{prefix}*"
    assert "aws:SourceAccount" in ses_write["Condition"]["StringEquals"]
    [bucket] = _by_type(raw, "AWS::S3::Bucket").values()
    [notification] = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    queue_id = _logical_id_of_queue(raw, resources.queue_name(STAGE, resources.MAIL_OBJECTS_QUEUE))
    assert notification["Queue"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    assert notification["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": prefix}]
    [queue_policy] = [p for p in _by_type(raw, "AWS::SQS::QueuePolicy").values()
                      if {"Ref": queue_id} in p["Properties"]["Queues"]]  # one per queue: none overwrites another
    [send] = [s for s in queue_policy["Properties"]["PolicyDocument"]["Statement"]
              if s.get("Principal") == {"Service": "s3.amazonaws.com"}]
    assert send["Action"] == "sqs:SendMessage" and "aws:SourceArn" in send["Condition"]["ArnEquals"]
    topics = {t["Properties"]["TopicName"]: i for i, t in _by_type(raw, "AWS::SNS::Topic").items()}
    ses_topic = topics[f"omnihub-{STAGE}-mail-notifications"]
    for function in _by_type(raw, "AWS::Lambda::Function").values():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        if "OMNIHUB_TABLE" in variables:
            assert variables["OMNIHUB_SES_TOPIC_ARNS"] == {"Ref": ses_topic}
