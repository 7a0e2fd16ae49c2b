"""Synthesize the dev stage once per session (chalice package + CDK + cdk-nag: a few seconds)."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@dataclass(frozen=True)
class Synthesized:
    template: Any  # aws_cdk.assertions.Template
    raw: dict[str, Any]
    stack: Any  # infra.stacks.omnihub_stack.OmnihubStack
    validation_error: str | None
    validation_report: dict[str, Any]
    messages: list[tuple[str, str]]  # (level, text) annotations of the stack


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.stacks.build import build_app

    outdir = tmp_path_factory.mktemp("cdk.out")
    context: dict[str, Any] = {"stage": "dev", "region": "us-east-1"}
    if os.environ.get("OMNIHUB_APP_DIR"):
        context["app_dir"] = os.environ["OMNIHUB_APP_DIR"]
    # chalice package imports app.py in this process: give it a fresh import for the synthesized
    # stage, not a module (and cached settings) left by an integration test under stage "local".
    import sys

    from chalicelib.adapters.settings import get_settings

    saved_stage = os.environ.get("OMNIHUB_STAGE")
    os.environ["OMNIHUB_STAGE"] = "dev"
    sys.modules.pop("app", None)
    get_settings.cache_clear()
    app = cdk.App(outdir=str(outdir), context=context)
    try:
        stack = build_app(app, build_dir=outdir)
    finally:
        sys.modules.pop("app", None)
        get_settings.cache_clear()
        if saved_stage is None:
            os.environ.pop("OMNIHUB_STAGE", None)
        else:
            os.environ["OMNIHUB_STAGE"] = saved_stage
    error = None
    try:
        assembly = app.synth()
        artifact = assembly.get_stack_by_name(stack.stack_name)
        messages = [(m.level.name, str(m.entry.data)) for m in artifact.messages]
    except RuntimeError as err:  # cdk-nag errors fail validation; the report says which
        error, messages = str(err), []
    report_file = outdir / "validation-report.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else {"pluginReports": []}
    raw = json.loads((outdir / f"{stack.artifact_id}.template.json").read_text()) if error is None else {}
    template = Template.from_json(raw) if raw else None
    return Synthesized(template, raw, stack, error, report, messages)
