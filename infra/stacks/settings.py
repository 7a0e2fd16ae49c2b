"""Per-stage deployment settings: CDK context (``-c key=value``) > environment > the defaults here."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

STAGES: tuple[str, ...] = ("dev", "prod")
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True, slots=True)
class DeploySettings:
    stage: str
    region: str = DEFAULT_REGION
    account: str | None = None  # None: an environment-agnostic template (offline synth)
    app_dir: Path = REPO_ROOT  # the Chalice project (app.py, chalicelib/, .chalice/config.json)
    public_base_url: str | None = None  # a custom domain; default: the API's execute-api URL
    api_rate_limit: float = 50.0  # requests/second, every method (stage method settings)
    api_burst_limit: int = 100
    log_retention_days: int = 30
    retain_data: bool = False  # table, bucket, secrets survive `cdk destroy` (prod)
    connect_instance_arn: str | None = None  # the Amazon Connect instance allowed to invoke the flow function

    @property
    def stack_name(self) -> str:
        return f"omnihub-{self.stage}"

    def function_name(self, handler: str) -> str:
        return f"omnihub-{self.stage}-{handler.replace('_', '-')}"


_STAGE_DEFAULTS: dict[str, dict[str, object]] = {
    "dev": {},
    "prod": {"api_rate_limit": 500.0, "api_burst_limit": 1000, "log_retention_days": 90, "retain_data": True},
}


def load(context: Callable[[str], object | None], environ: dict[str, str] | None = None) -> DeploySettings:
    """Build settings from a CDK context lookup (``app.node.try_get_context``) and the environment."""
    env = dict(os.environ if environ is None else environ)

    def pick(key: str, env_name: str) -> str | None:
        value = context(key)
        return str(value) if value not in (None, "") else (env.get(env_name) or None)

    stage = pick("stage", "STAGE") or "dev"
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
    values: dict[str, object] = dict(_STAGE_DEFAULTS[stage])
    values["region"] = pick("region", "CDK_DEFAULT_REGION") or env.get("AWS_REGION") or DEFAULT_REGION
    values["account"] = pick("account", "CDK_DEFAULT_ACCOUNT")
    app_dir = pick("app_dir", "OMNIHUB_APP_DIR")
    if app_dir:
        values["app_dir"] = Path(app_dir).resolve()
    public_base_url = pick("public_base_url", "OMNIHUB_PUBLIC_BASE_URL")
    if public_base_url:
        values["public_base_url"] = public_base_url.rstrip("/")
    connect_instance_arn = pick("connect_instance_arn", "OMNIHUB_CONNECT_INSTANCE_ARN")
    if connect_instance_arn:
        values["connect_instance_arn"] = connect_instance_arn
    for key, cast in (("api_rate_limit", float), ("api_burst_limit", int), ("log_retention_days", int)):
        raw = context(key)
        if raw not in (None, ""):
            values[key] = cast(str(raw))
    return DeploySettings(stage=stage, **values)  # type: ignore[arg-type]
