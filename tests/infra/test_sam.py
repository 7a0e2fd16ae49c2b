"""The SAM → CloudFormation rendering of Chalice's template (pure)."""

from __future__ import annotations

import pytest

from infra.stacks import sam

CODE = {"Bucket": "b", "Key": "k"}


def _function(**extra: object) -> dict[str, object]:
    return {
        "Type": "AWS::Serverless::Function",
        "Properties": {"Runtime": "python3.11", "Handler": "app.f", "CodeUri": CODE, **extra},
    }


def test_function_becomes_lambda_function_and_events_are_handed_back() -> None:
    event = {"Type": "SQS", "Properties": {"Queue": "arn:q", "BatchSize": 10}}
    out = sam.translate(
        {"Resources": {"F": _function(Tags={"a": "b"}, Tracing="Active", Events={"E": event})}},
        function_names={"F": "omnihub-dev-f"},
        api_name="omnihub-dev",
    )
    props = out.template["Resources"]["F"]["Properties"]
    assert out.template["Resources"]["F"]["Type"] == "AWS::Lambda::Function"
    assert props["Code"] == {"S3Bucket": "b", "S3Key": "k"}
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Tags"] == [{"Key": "a", "Value": "b"}]
    assert props["FunctionName"] == "omnihub-dev-f"
    assert "Events" not in props
    assert out.events == [sam.EventSource(function="F", kind="SQS", properties=event["Properties"])]


def test_unknown_sam_features_fail_loudly() -> None:
    with pytest.raises(sam.UnsupportedSam):
        sam.translate({"Resources": {"F": _function(AutoPublishAlias="live")}}, function_names={}, api_name="x")
    with pytest.raises(sam.UnsupportedSam):
        sam.translate(
            {"Resources": {"F": _function(Events={"E": {"Type": "S3", "Properties": {}}})}},
            function_names={},
            api_name="x",
        )
    with pytest.raises(sam.UnsupportedSam):
        sam.translate({"Resources": {"T": {"Type": "AWS::SNS::Topic"}}}, function_names={}, api_name="x")


def test_api_integrations_name_the_function_instead_of_referencing_it() -> None:
    uri = (
        "arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${APIHandler.Arn}/invocations"
    )
    body = {"paths": {"/webhooks/x": {"post": {"x-amazon-apigateway-integration": {"uri": {"Fn::Sub": uri}}}}}}
    out = sam.translate(
        {
            "Resources": {
                "APIHandler": _function(),
                "RestAPI": {
                    "Type": "AWS::Serverless::Api",
                    "Properties": {"EndpointConfiguration": "REGIONAL", "StageName": "api", "DefinitionBody": body},
                },
            }
        },
        function_names={"APIHandler": "omnihub-dev-api-handler"},
        api_name="omnihub-dev",
    )
    api = out.template["Resources"]["RestAPI"]
    assert api["Type"] == "AWS::ApiGateway::RestApi"
    assert api["Properties"]["Name"] == "omnihub-dev"
    assert api["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    rewritten = api["Properties"]["Body"]["paths"]["/webhooks/x"]["post"]["x-amazon-apigateway-integration"]["uri"]
    assert "APIHandler.Arn" not in rewritten["Fn::Sub"]
    assert ":function:omnihub-dev-api-handler/invocations" in rewritten["Fn::Sub"]
    assert out.routes == [("POST", "/webhooks/x")]
    assert out.api_stage_name == "api"
