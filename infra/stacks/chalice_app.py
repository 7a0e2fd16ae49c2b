"""Chalice's CDK construct, with its SAM output rendered as plain CloudFormation (see sam.py).

``chalice.cdk.Chalice`` runs ``chalice package`` (which pip-downloads requirements.txt wheels
for Lambda's platform, cached in ``.chalice/deployments``), then ``CfnInclude``s the SAM
template. We hook the one step between the two to translate the template, so the included
resources are ``AWS::Lambda::Function``/``AWS::ApiGateway::RestApi`` L1s that cdk-nag checks.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from aws_cdk import aws_lambda as lambda_
from chalice.cdk import Chalice
from constructs import Construct

from infra.stacks import sam
from infra.stacks.settings import DeploySettings

# Chalice requires a role ARN when it does not manage roles; CDK sets the real one afterwards.
PLACEHOLDER_ROLE_ARN = "arn:aws:iam::000000000000:role/omnihub-placeholder"
# app.py may read the stream ARN at import (on_dynamodb_record); the real value is set by CDK.
PLACEHOLDER_STREAM_ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/omnihub-placeholder/stream/placeholder"
API_HANDLER_NAME = "api_handler"


def handler_name(sam_function: Mapping[str, Any], logical_id: str) -> str:
    """``app.handle_inbound`` → ``handle_inbound``; the REST API's function is ``api_handler``."""
    if logical_id == sam.API_HANDLER:
        return API_HANDLER_NAME
    return str(sam_function["Properties"]["Handler"]).rsplit(".", 1)[-1]


@contextlib.contextmanager
def _packaging_environment(build_dir: Path, region: str) -> Iterator[None]:
    """Chalice writes ``chalice.out`` into the working directory and botocore wants a region."""
    previous_cwd = Path.cwd()
    previous_region = os.environ.get("AWS_DEFAULT_REGION")
    shutil.rmtree(build_dir / "chalice.out", ignore_errors=True)
    build_dir.mkdir(parents=True, exist_ok=True)
    os.chdir(build_dir)
    os.environ.setdefault("AWS_DEFAULT_REGION", region)
    try:
        yield
    finally:
        os.chdir(previous_cwd)
        if previous_region is None:
            os.environ.pop("AWS_DEFAULT_REGION", None)


class ChaliceApp(Chalice):
    """The Chalice app of ``settings.app_dir``, packaged for ``settings.stage``.

    The enclosing scope's id must be the Chalice stage name (Chalice reads the stage from it).
    """

    def __init__(self, scope: Construct, construct_id: str, *, settings: DeploySettings, build_dir: Path) -> None:
        if scope.to_string() != settings.stage:
            raise ValueError(f"the stack's construct id must be the stage {settings.stage!r}")
        _PENDING[scope.to_string()] = settings
        stage_config = {
            "autogen_policy": False,
            "manage_iam_role": False,
            "iam_role_arn": PLACEHOLDER_ROLE_ARN,
            "environment_variables": {"OMNIHUB_TABLE_STREAM_ARN": PLACEHOLDER_STREAM_ARN},
        }
        with _packaging_environment(build_dir, settings.region):
            super().__init__(scope, construct_id, source_dir=str(settings.app_dir), stage_config=stage_config)
        self.translated: sam.Translated = _TRANSLATED.pop(scope.to_string())
        self.handler_names: dict[str, str] = _HANDLERS.pop(scope.to_string())

    def _generate_sam_template_with_assets(self, chalice_out_dir: str, package_id: str) -> str:
        path = super()._generate_sam_template_with_assets(chalice_out_dir, package_id)
        key = self.stage_name  # the enclosing scope's path, set by Chalice before packaging
        settings = _PENDING.pop(key)
        with open(path) as handle:
            template = json.load(handle)
        handlers = {
            logical_id: handler_name(resource, logical_id)
            for logical_id, resource in template["Resources"].items()
            if resource["Type"] == "AWS::Serverless::Function"
        }
        names = {logical_id: settings.function_name(name) for logical_id, name in handlers.items()}
        translated = sam.translate(template, function_names=names, api_name=settings.stack_name)
        with open(path, "w") as handle:
            json.dump(translated.template, handle, indent=1)
        _TRANSLATED[key] = translated
        _HANDLERS[key] = {name: logical_id for logical_id, name in handlers.items()}
        return path

    def function(self, handler: str) -> lambda_.CfnFunction:
        """The included L1 function of an app.py handler name (``api_handler`` for the REST API)."""
        resource = self.get_resource(self.handler_names[handler])
        assert isinstance(resource, lambda_.CfnFunction), type(resource)
        return resource


# Chalice calls the hook from its own __init__, before our attributes can be set on the jsii
# object; these hand values across that call, keyed by the enclosing scope's path (the stage).
_PENDING: dict[str, DeploySettings] = {}
_TRANSLATED: dict[str, sam.Translated] = {}
_HANDLERS: dict[str, dict[str, str]] = {}
