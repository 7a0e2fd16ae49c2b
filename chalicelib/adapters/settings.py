"""Frozen settings from the environment; precedence is explicit argument > environment > default."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from chalicelib.adapters import resources

DEFAULT_PUBLIC_BASE_URL = "http://127.0.0.1:8000"


@dataclass(frozen=True, slots=True)
class Settings:
    stage: str = "dev"
    region: str = "us-east-1"
    aws_endpoint_url: str | None = None  # the embedded AWS (moto) locally; None on AWS
    table_name: str = ""
    bucket_name: str = ""
    queue_url_prefix: str | None = None  # https://sqs.<region>.amazonaws.com/<account>/ when known
    table_stream_arn: str = ""
    public_base_url: str = DEFAULT_PUBLIC_BASE_URL
    inline_payload_limit: int = 256 * 1024  # raw payloads larger than this go to S3
    inbox_retention_days: int = resources.RETENTION.raw_payload_days  # the dedupe window: an older retry is new
    secrets_max_age_seconds: int = 300
    environ: Mapping[str, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, **explicit: object) -> Settings:
        env = dict(os.environ if environ is None else environ)
        stage = str(explicit.pop("stage", None) or env.get("OMNIHUB_STAGE") or "dev")
        values: dict[str, object] = {
            "stage": stage,
            "region": env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            "aws_endpoint_url": env.get("AWS_ENDPOINT_URL") or None,
            "table_name": env.get("OMNIHUB_TABLE") or resources.table_name(stage),
            "bucket_name": env.get("OMNIHUB_BUCKET") or resources.bucket_name(stage),
            "queue_url_prefix": env.get("OMNIHUB_QUEUE_URL_PREFIX") or None,
            "table_stream_arn": env.get("OMNIHUB_TABLE_STREAM_ARN", ""),
            "public_base_url": (env.get("PUBLIC_BASE_URL") or DEFAULT_PUBLIC_BASE_URL).rstrip("/"),
            "environ": env,
        }
        for name, cast in (
            ("inline_payload_limit", int),
            ("inbox_retention_days", int),
            ("secrets_max_age_seconds", int),
        ):
            raw = env.get(f"OMNIHUB_{name.upper()}")
            if raw:
                values[name] = cast(raw)
        values.update(explicit)
        return cls(**values)  # type: ignore[arg-type]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.from_environ()
