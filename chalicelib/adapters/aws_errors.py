"""What a failed AWS call said, for the log only.

botocore's messages may quote the request (a parameter's value, a key); they go to the log here,
and the adapters raise errors with reasons of their own, so no dependency's text can reach a
response body.
"""

from __future__ import annotations

from typing import Literal

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.observability import logger


def aws_error_code(err: ClientError | BotoCoreError) -> str:
    """The service's error code (``ValidationException``), or the botocore failure's kind."""
    if isinstance(err, ClientError):
        return str(err.response.get("Error", {}).get("Code") or "ClientError")
    return type(err).__name__


def aws_error_message(err: ClientError | BotoCoreError) -> str:
    if isinstance(err, ClientError):
        return str(err.response.get("Error", {}).get("Message") or "")
    return str(err)


def log_aws_failure(
    service: str, operation: str, err: ClientError | BotoCoreError, *, severity: Literal["warning", "error"] = "error"
) -> None:
    """Log the failure with the service's own code and message (``warning`` for a refused input)."""
    log = logger.warning if severity == "warning" else logger.error
    log(
        f"{service} call failed",
        extra={
            "operation": operation,
            "aws_error_code": aws_error_code(err),
            "aws_error_message": aws_error_message(err)[:1000],
        },
    )
