"""CDK entry point: ``python infra/cdk_app.py`` (or ``cdk synth`` from infra/) synthesizes one stage.

Stage and region come from CDK context (``-c stage=prod``) or the environment (``STAGE``,
``CDK_DEFAULT_REGION``/``AWS_REGION``); no AWS credentials are needed to synthesize. The
cdk-nag packs AwsSolutions and Serverless run during synth; an unacknowledged error fails it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")  # Node 20 on this machine
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo: chalicelib and infra

import aws_cdk as cdk
from aws_cdk import cx_api

from infra.stacks.build import build_app

OUTDIR = Path(__file__).resolve().parent / "cdk.out"


def main() -> int:
    outdir = os.environ.get("CDK_OUTDIR") or str(OUTDIR)
    app = cdk.App(outdir=outdir)
    build_app(app, build_dir=Path(outdir))
    try:
        assembly = app.synth()
    except RuntimeError as err:  # cdk-nag's unacknowledged errors fail the validation step
        print(f"synth failed: {err}", file=sys.stderr)
        return 1
    for stack in assembly.stacks:
        for message in stack.messages:
            if message.level != cx_api.SynthesisMessageLevel.INFO:
                print(f"{message.level.name} {message.id}: {message.entry.data}", file=sys.stderr)
        print(f"synthesized {stack.stack_name} -> {Path(outdir) / stack.template_file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
