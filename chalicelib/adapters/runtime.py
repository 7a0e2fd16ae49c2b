"""Lazily built, cached adapters (store, bus, secrets) for the Lambda handlers.

Built on first use, not at import, so a cold start pays only for what its handler touches;
tests reset them with :func:`reset` after changing the environment.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

from chalicelib.adapters.dynamo.store import DynamoStore, S3PayloadArchive
from chalicelib.adapters.secrets import SecretSource
from chalicelib.adapters.settings import Settings, get_settings
from chalicelib.adapters.sqs import SqsBus


@cache
def aws_client(service: str) -> Any:
    import boto3

    settings = get_settings()
    return boto3.session.Session().client(
        service, region_name=settings.region, endpoint_url=settings.aws_endpoint_url
    )


@lru_cache(maxsize=1)
def store() -> DynamoStore:
    settings = get_settings()
    return DynamoStore(
        aws_client("dynamodb"),
        settings.table_name,
        payloads=S3PayloadArchive(aws_client("s3"), settings.bucket_name),
        inline_payload_limit=settings.inline_payload_limit,
        retention_days=settings.inbox_retention_days,
    )


@lru_cache(maxsize=1)
def bus() -> SqsBus:
    settings = get_settings()
    return SqsBus(aws_client("sqs"), settings.stage, queue_url_prefix=settings.queue_url_prefix)


@lru_cache(maxsize=1)
def secrets() -> SecretSource:
    return SecretSource(get_settings())


def settings() -> Settings:
    return get_settings()


def reset() -> None:
    """Forget every cached adapter and the settings (tests, after changing the environment)."""
    for cached in (aws_client, store, bus, secrets, get_settings):
        cached.cache_clear()
