"""cold_start_import: wall time of a fresh interpreter importing the app, against one importing boto3.

Both run with the environment the API Lambda has (stage, region, service name, placeholder
credentials, no endpoint override, no network needed) and alternate so drift hits both alike; the
median of the repeats is kept. ``-X importtime`` of ``import app`` then names the heaviest imports.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass

from bench.common import ROOT
from bench.report import Row

NAME = "cold_start_import"
TRACING_MODULES = ("aws_lambda_powertools.tracing", "aws_xray_sdk")


def lambda_environment() -> dict[str, str]:
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",  # noqa: S108 - what Lambda gives, nothing is written there
        "LANG": "C.UTF-8",
        "OMNIHUB_STAGE": "prod",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "ASIAPLACEHOLDER",
        "AWS_SECRET_ACCESS_KEY": "placeholder",
        "AWS_SESSION_TOKEN": "placeholder",
        "AWS_LAMBDA_FUNCTION_NAME": "omnihub-prod-api_handler",
        "POWERTOOLS_SERVICE_NAME": "omnihub",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }


def _run(statement: str, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter, a fixed statement
        [sys.executable, *flags, "-c", statement],
        cwd=ROOT,
        env=lambda_environment(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )


def wall_seconds(statement: str) -> float:
    started = time.perf_counter()
    _run(statement)
    return time.perf_counter() - started


@dataclass(frozen=True, slots=True)
class ImportCost:
    module: str
    cumulative_ms: float
    package_self_ms: float  # every module of its top-level package, exclusive times summed


def import_times(statement: str) -> dict[str, tuple[float, float]]:
    """module → (self µs, cumulative µs) from one ``-X importtime`` run."""
    found: dict[str, tuple[float, float]] = {}
    for line in _run(statement, "-X", "importtime").stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        found[name.strip()] = (float(own), float(cumulative))
    return found


def heaviest_imports(runs: list[dict[str, tuple[float, float]]], top: int = 5) -> list[ImportCost]:
    """The ``top`` packages by their heaviest import's cumulative time (medians over runs); ``app`` left out."""
    modules = set.intersection(*(set(run) for run in runs))
    median_cumulative = {m: statistics.median(run[m][1] for run in runs) for m in modules}
    package_self: dict[str, float] = defaultdict(float)
    heaviest: dict[str, str] = {}
    for module in modules:
        package = module.split(".")[0]
        package_self[package] += statistics.median(run[module][0] for run in runs)
        if package != "app" and median_cumulative[module] > median_cumulative.get(heaviest.get(package, ""), -1):
            heaviest[package] = module
    ranked = sorted(heaviest.items(), key=lambda item: -median_cumulative[item[1]])[:top]
    return [
        ImportCost(module, median_cumulative[module] / 1000, package_self[package] / 1000) for package, module in ranked
    ]


def run(quick: bool) -> list[Row]:
    repeats = 3 if quick else 7
    app_import, boto3_import = "import app", "import boto3"
    _run(app_import)  # write the bytecode caches first: Lambda ships them warm or pays once per version
    _run(boto3_import)
    app_times: list[float] = []
    boto3_times: list[float] = []
    for _ in range(repeats):
        app_times.append(wall_seconds(app_import))
        boto3_times.append(wall_seconds(boto3_import))
    runs = [import_times(app_import) for _ in range(3 if quick else 5)]
    tracing = {m: statistics.median(r[m][1] for r in runs) / 1000 for m in runs[0] if m.startswith(TRACING_MODULES)}
    rows = [
        Row(
            NAME,
            statistics.median(app_times) * 1000,
            "ms",
            floor=statistics.median(boto3_times) * 1000,
            goal="↓ (≤ 1.5)",
            note=f"median of {repeats}; floor = python -c 'import boto3'",
        ),
    ]
    for cost in heaviest_imports(runs):
        rows.append(
            Row(
                f"  import {cost.module}",
                cost.cumulative_ms,
                "ms",
                note=f"cumulative; package {cost.module.split('.')[0]} self total {cost.package_self_ms:.1f} ms",
            )
        )
    xray_loaded = any(m.startswith("aws_xray_sdk") for m in tracing)
    xray = "aws_xray_sdk imported!" if xray_loaded else "aws_xray_sdk not imported"
    top_tracing = max(tracing.values(), default=0.0)
    rows.append(
        Row(
            "  powertools tracing",
            top_tracing,
            "ms",
            goal="0",
            note=f"{len(tracing)} tracing modules via the aws_lambda_powertools package __init__; {xray}",
        )
    )
    return rows
