"""Lazily built, cached adapters (repositories, bus, secrets) for the Lambda handlers.

Built on first use, not at import, so a cold start pays only for what its handler touches;
tests reset them with :func:`reset` after changing the environment.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

from chalicelib.adapters.dynamo import Table, dynamo_repositories
from chalicelib.adapters.s3 import S3MediaStore, S3PayloadArchive
from chalicelib.adapters.secrets import SecretSource
from chalicelib.adapters.settings import Settings, get_settings
from chalicelib.adapters.sqs import SqsBus
from chalicelib.core.ports import Repositories


@cache
def aws_client(service: str) -> Any:
    import boto3

    settings = get_settings()
    return boto3.session.Session().client(
        service, region_name=settings.region, endpoint_url=settings.aws_endpoint_url
    )


@lru_cache(maxsize=1)
def repositories() -> Repositories:
    settings = get_settings()
    return dynamo_repositories(
        aws_client("dynamodb"),
        settings.table_name,
        payloads=S3PayloadArchive(aws_client("s3"), settings.bucket_name),
        media=S3MediaStore(aws_client("s3"), settings.bucket_name, presigner=s3_presigner()),
        inline_payload_limit=settings.inline_payload_limit,
        retention_days=settings.inbox_retention_days,
        cursor_key=_cursor_key,
    )


@cache
def s3_presigner() -> Any:
    """An S3 client that presigns with SigV4 (attachment links); its requests are never sent."""
    import boto3
    from botocore.config import Config

    settings = get_settings()
    return boto3.session.Session().client("s3", region_name=settings.region, endpoint_url=settings.aws_endpoint_url,
                                          config=Config(signature_version="s3v4"))


def mail_objects() -> S3PayloadArchive:
    """Reads mail objects (Amazon SES's S3 action) from the payload bucket."""
    return S3PayloadArchive(aws_client("s3"), get_settings().bucket_name)


def _cursor_key() -> bytes:
    from chalicelib.adapters.id_keys import id_key

    return id_key()


def table() -> Table:
    """The raw table (tests and the local stack inspect it; the use cases go through repositories)."""
    return Table(aws_client("dynamodb"), get_settings().table_name)


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
    for cached in (aws_client, s3_presigner, repositories, bus, secrets, get_settings):
        cached.cache_clear()
