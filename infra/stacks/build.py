"""Assemble one stage's stack on a CDK app, with cdk-nag's packs and our acknowledged findings."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk

from infra.stacks import nag, settings
from infra.stacks.omnihub_stack import OmnihubStack


def build_app(app: cdk.App, *, build_dir: Path) -> OmnihubStack:
    deploy_settings = settings.load(app.node.try_get_context)
    stack = OmnihubStack(app, deploy_settings, build_dir=build_dir)
    nag.apply(app, stack)
    return stack
