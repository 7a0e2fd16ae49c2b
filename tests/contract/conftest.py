"""The two implementations every contract test runs against: the in-memory twins, and the DynamoDB
repositories (with the S3 archive) on moto in-process, on a table made from ``resources.TABLE``."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.adapters import resources
from chalicelib.core.ports import PayloadArchive, Repositories

CURSOR_KEY = b"contract-cursor-key-0123456789abcdef"
_NUMBERS = itertools.count()


@dataclass
class Backend:
    """Builds repositories (as often as a test needs, over the same storage) and the payload archive."""

    name: str
    payloads: PayloadArchive
    build: Callable[..., Repositories]

    def repositories(self, **options: Any) -> Repositories:
        return self.build(payloads=self.payloads, **options)


class OneRequestAtATime:
    """A client whose requests reach moto one at a time.

    DynamoDB applies each request atomically (a conditional write is checked and written as one);
    moto in-process does not when threads race, so the racing tests would test moto. Serialized,
    they still catch a repository that reads, decides and then writes without a condition.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._client, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attribute(*args, **kwargs)

        return call


def create_table(client: Any, name: str) -> None:
    spec = resources.TABLE
    attributes = {spec.partition_key, spec.sort_key}
    for index in spec.indexes:
        attributes.update((index.partition_key, index.sort_key))
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in sorted(attributes)],
        KeySchema=[{"AttributeName": spec.partition_key, "KeyType": "HASH"},
                   {"AttributeName": spec.sort_key, "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {"IndexName": index.name,
             "KeySchema": [{"AttributeName": index.partition_key, "KeyType": "HASH"},
                           {"AttributeName": index.sort_key, "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": index.projection}}
            for index in spec.indexes
        ],
    )


@pytest.fixture(scope="module")
def moto_clients() -> Iterator[tuple[Any, Any]]:
    """One moto for a module (building clients is the slow part); each test gets its own table and bucket."""
    import boto3
    from moto import mock_aws

    with pytest.MonkeyPatch.context() as patch:
        for key in [k for k in os.environ if k.startswith("AWS_")]:
            patch.delenv(key)
        patch.setenv("AWS_ACCESS_KEY_ID", "testing")
        patch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        patch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        with mock_aws():
            session = boto3.session.Session()
            yield session.client("dynamodb"), session.client("s3")


def boto3_client(service: str, config: Any) -> Any:
    import boto3

    return boto3.session.Session().client(service, config=config)


@pytest.fixture(params=["memory", "dynamo"])
def backend(request: pytest.FixtureRequest) -> Backend:
    if request.param == "memory":
        from chalicelib.adapters.memory import MemoryMediaStore, MemoryPayloadArchive, MemoryStore, memory_repositories

        store, media = MemoryStore(), MemoryMediaStore()
        return Backend("memory", MemoryPayloadArchive(),
                       lambda **options: memory_repositories(store, **{"media": media, **options}))
    from chalicelib.adapters.dynamo import dynamo_repositories
    from chalicelib.adapters.s3 import S3MediaStore, S3PayloadArchive

    dynamodb, s3 = request.getfixturevalue("moto_clients")
    table, bucket = f"omnihub-contract-{next(_NUMBERS)}", f"omnihub-contract-{next(_NUMBERS)}"
    create_table(dynamodb, table)
    s3.create_bucket(Bucket=bucket)
    atomic = OneRequestAtATime(dynamodb)
    from botocore.config import Config

    presigner = boto3_client("s3", Config(signature_version="s3v4"))
    media = S3MediaStore(s3, bucket, presigner=presigner)
    return Backend("dynamo", S3PayloadArchive(s3, bucket),
                   lambda **options: dynamo_repositories(atomic, table, cursor_key=lambda: CURSOR_KEY,
                                                         **{"media": media, **options}))


@pytest.fixture
def repos(backend: Backend) -> Repositories:
    return backend.repositories()
