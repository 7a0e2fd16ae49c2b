"""Where a ``./hub`` command finds AWS: the embedded AWS of ``make run`` (:4566, placeholder
credentials, stage ``local``) unless the environment names another; ``AWS_ENDPOINT_URL=`` (empty)
means AWS itself, with your own credentials."""

from __future__ import annotations

import os
from typing import Any

LOCAL_AWS_ENDPOINT = "http://127.0.0.1:4566"
LOCAL_AWS_DEFAULTS = {"AWS_ENDPOINT_URL": LOCAL_AWS_ENDPOINT, "OMNIHUB_STAGE": "local",
                      "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                      "AWS_DEFAULT_REGION": "us-east-1"}


def local_aws_endpoint() -> str | None:
    """The endpoint to reach, None for AWS itself."""
    return os.environ.get("AWS_ENDPOINT_URL", LOCAL_AWS_ENDPOINT) or None


def local_aws_client(service: str) -> Any:
    """A boto3 client of ``service`` on that endpoint (placeholder credentials only for the embedded AWS)."""
    import boto3

    endpoint = local_aws_endpoint()
    local = endpoint is not None
    return boto3.session.Session().client(
        service, region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"), endpoint_url=endpoint,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing") if local else None,
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing") if local else None,
    )


def apply_local_aws_defaults() -> None:
    """The same defaults in this process's environment, for code that builds its clients from it
    (chalicelib.adapters.runtime)."""
    aws_itself = local_aws_endpoint() is None
    for name, value in LOCAL_AWS_DEFAULTS.items():
        if not (aws_itself and name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")):
            os.environ.setdefault(name, value)
    if aws_itself:
        os.environ.pop("AWS_ENDPOINT_URL", None)
