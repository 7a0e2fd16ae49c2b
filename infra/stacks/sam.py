"""Render the SAM template ``chalice package`` writes as plain CloudFormation, before CDK includes it.

Why: cdk-nag's rules match CloudFormation L1 classes (``AWS::Lambda::Function``,
``AWS::ApiGateway::RestApi``); SAM resources pass through it unseen. Chalice's functions use a
small, fixed subset of SAM, so the translation is a few lines per property. Anything outside
that subset raises :class:`UnsupportedSam` at synth time rather than being dropped silently.

Event sources (SQS, DynamoDB stream, schedule) are removed from the functions and handed back:
the stack creates them from ``chalicelib/adapters/resources.py`` with the settings Chalice cannot emit
(``ReportBatchItemFailures``, bisect on error, on-failure destinations, rule DLQs).
The API's Lambda integration URI is rewritten to name the function instead of ``Fn::GetAtt``
so the API function can carry its own public URL (``PUBLIC_BASE_URL``) without a cycle.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

API_HANDLER = "APIHandler"
REST_API = "RestAPI"

_FUNCTION_PROPERTIES = frozenset(
    {
        "Runtime",
        "Handler",
        "CodeUri",
        "Tags",
        "Tracing",
        "Timeout",
        "MemorySize",
        "Architectures",
        "Environment",
        "Role",
        "VpcConfig",
        "ReservedConcurrentExecutions",
        "Layers",
        "Events",
    }
)
_API_PROPERTIES = frozenset({"EndpointConfiguration", "StageName", "DefinitionBody", "MinimumCompressionSize"})
_PLAIN_TYPES = frozenset({"AWS::Lambda::Permission", "AWS::IAM::Role", "AWS::Logs::LogGroup"})


class UnsupportedSam(ValueError):
    """The Chalice app uses a SAM feature this translation does not render; extend sam.py."""


@dataclass(frozen=True, slots=True)
class EventSource:
    function: str  # the function's logical id
    kind: str  # SQS | DynamoDB | Schedule | CloudWatchEvent (an EventBridge rule: wiring.wire_contact_events)
    properties: Mapping[str, Any]


@dataclass(slots=True)
class Translated:
    template: dict[str, Any]
    events: list[EventSource] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)  # logical ids
    api_stage_name: str | None = None
    api_definition_hash: str = ""
    routes: list[tuple[str, str]] = field(default_factory=list)  # (METHOD, /resource/path)


def _code(code_uri: Any) -> dict[str, Any]:
    if not isinstance(code_uri, Mapping) or set(code_uri) != {"Bucket", "Key"}:
        raise UnsupportedSam(f"CodeUri must be an S3 location after asset staging, got {code_uri!r}")
    return {"S3Bucket": code_uri["Bucket"], "S3Key": code_uri["Key"]}


def _function(
    logical_id: str, props: Mapping[str, Any], function_names: Mapping[str, str]
) -> tuple[dict[str, Any], list[EventSource]]:
    unknown = set(props) - _FUNCTION_PROPERTIES
    if unknown:
        raise UnsupportedSam(f"{logical_id}: SAM function properties not rendered: {sorted(unknown)}")
    out: dict[str, Any] = {
        key: props[key]
        for key in (
            "Runtime",
            "Handler",
            "Timeout",
            "MemorySize",
            "Architectures",
            "Environment",
            "Role",
            "VpcConfig",
            "ReservedConcurrentExecutions",
            "Layers",
        )
        if key in props
    }
    out["Code"] = _code(props["CodeUri"])
    out["TracingConfig"] = {"Mode": props.get("Tracing", "PassThrough")}
    out["Tags"] = [{"Key": k, "Value": v} for k, v in sorted(dict(props.get("Tags", {})).items())]
    if logical_id in function_names:
        out["FunctionName"] = function_names[logical_id]
    events = []
    for name, event in dict(props.get("Events", {})).items():
        kind = event.get("Type")
        if kind not in {"SQS", "DynamoDB", "Schedule", "CloudWatchEvent"}:
            raise UnsupportedSam(f"{logical_id}: event {name} of type {kind} is not wired by infra/")
        events.append(EventSource(function=logical_id, kind=kind, properties=event.get("Properties", {})))
    return {"Type": "AWS::Lambda::Function", "Properties": out}, events


def _layer(logical_id: str, props: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in props.items() if k != "ContentUri"}
    out["Content"] = _code(props["ContentUri"])
    return {"Type": "AWS::Lambda::LayerVersion", "Properties": out}


def _rewrite_integrations(node: Any, function_arn_sub: str) -> Any:
    """Point every Lambda integration at the API function by name instead of by ``Fn::GetAtt``."""
    if isinstance(node, dict):
        if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str) and "${APIHandler.Arn}" in node["Fn::Sub"]:
            return {"Fn::Sub": node["Fn::Sub"].replace("${APIHandler.Arn}", function_arn_sub)}
        return {k: _rewrite_integrations(v, function_arn_sub) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_integrations(v, function_arn_sub) for v in node]
    return node


def _rest_api(props: Mapping[str, Any], api_name: str, api_function_name: str) -> dict[str, Any]:
    unknown = set(props) - _API_PROPERTIES
    if unknown:
        raise UnsupportedSam(f"RestAPI: SAM API properties not rendered: {sorted(unknown)}")
    arn = "arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:" + api_function_name
    body = _rewrite_integrations(copy.deepcopy(props["DefinitionBody"]), arn)
    out: dict[str, Any] = {
        "Name": api_name,
        "Body": body,
        "EndpointConfiguration": {"Types": [props.get("EndpointConfiguration", "EDGE")]},
    }
    if "MinimumCompressionSize" in props:
        out["MinimumCompressionSize"] = props["MinimumCompressionSize"]
    return {"Type": "AWS::ApiGateway::RestApi", "Properties": out}


def translate(sam: Mapping[str, Any], *, function_names: Mapping[str, str], api_name: str) -> Translated:
    """Translate Chalice's SAM output; ``function_names`` maps logical ids to explicit function names."""
    resources: dict[str, Any] = {}
    result = Translated(template={})
    for logical_id, resource in sam.get("Resources", {}).items():
        kind, props = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::Serverless::Function":
            resources[logical_id], events = _function(logical_id, props, function_names)
            result.events.extend(events)
            result.functions.append(logical_id)
        elif kind == "AWS::Serverless::LayerVersion":
            resources[logical_id] = _layer(logical_id, props)
        elif kind == "AWS::Serverless::Api":
            if logical_id != REST_API or API_HANDLER not in function_names:
                raise UnsupportedSam(f"unexpected API resource {logical_id}")
            resources[logical_id] = _rest_api(props, api_name, function_names[API_HANDLER])
            result.api_stage_name = props["StageName"]
            result.api_definition_hash = hashlib.sha256(
                json.dumps(props["DefinitionBody"], sort_keys=True).encode()
            ).hexdigest()[:10]
            result.routes = sorted(
                (method.upper(), path)
                for path, methods in props["DefinitionBody"].get("paths", {}).items()
                for method in methods
                if method.lower() not in {"parameters", "options"}
            )
        elif kind in _PLAIN_TYPES:
            resources[logical_id] = copy.deepcopy(resource)
        else:
            raise UnsupportedSam(f"{logical_id}: resource type {kind} is not rendered by infra/")
    template = {k: copy.deepcopy(v) for k, v in sam.items() if k not in {"Transform", "Resources"}}
    template["Resources"] = resources
    result.template = template
    return result
