"""The table's stream read from moto's in-process backend, for the local pump.

The pump plays Lambda's event source mapping, which reads the stream on AWS's side. When moto runs
in the pump's own process (``make run``, the tests, the benchmarks) a GetRecords through boto3 costs
a round of serialization each way: moto's response serializer walks every record's images, then
botocore parses them back (16 % of the pump's time on a 1,000-webhook burst, more than any handler).
:class:`EmbeddedStreams` answers the pump's three stream calls from the backend instead, with the
records as Lambda delivers them: JSON, ``ApproximateCreationDateTime`` in epoch seconds, binary
values base64. Anything else (a pump aimed at a moto server or at AWS) keeps the boto3 client.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

AMAZON_ENDPOINT_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn")


def streams_reader(client: Any) -> Any:
    """``client`` (a boto3 dynamodbstreams client), or the in-process reader when moto intercepts its
    calls in this process (mock_aws active and the client aimed at AWS's own endpoint)."""
    try:
        from moto.core.models import botocore_stubber
    except ImportError:  # moto is a development dependency: never on Lambda
        return client
    endpoint = str(client.meta.endpoint_url).split("//", 1)[-1].split("/", 1)[0]
    if botocore_stubber.enabled and endpoint.endswith(AMAZON_ENDPOINT_SUFFIXES):
        return EmbeddedStreams(client.meta.region_name)
    return client


def _lambda_json(value: Any) -> Any:
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)  # moto keeps naive UTC times
        return moment.timestamp()
    if isinstance(value, bytes | bytearray):  # nested binary moto kept decoded; Lambda sends base64
        import base64

        return base64.b64encode(value).decode()
    raise TypeError(f"not JSON: {type(value).__name__}")


class EmbeddedStreams:
    """describe_stream, get_shard_iterator and get_records with boto3's keyword arguments and answers."""

    def __init__(self, region: str) -> None:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodbstreams.models import dynamodbstreams_backends

        self._backend = dynamodbstreams_backends[DEFAULT_ACCOUNT_ID][region]

    def describe_stream(self, *, StreamArn: str) -> dict[str, Any]:
        return {"StreamDescription": self._backend.describe_stream(StreamArn)}

    def get_shard_iterator(self, *, StreamArn: str, ShardId: str, ShardIteratorType: str,
                           SequenceNumber: str | None = None) -> dict[str, Any]:
        sequence = int(SequenceNumber) if SequenceNumber is not None else None
        iterator = self._backend.get_shard_iterator(StreamArn, ShardId, ShardIteratorType, sequence)  # type: ignore[arg-type]
        return {"ShardIterator": iterator.arn}

    def get_records(self, *, ShardIterator: str, Limit: int = 1000) -> dict[str, Any]:
        answer = self._backend.get_records(ShardIterator, Limit)
        # One JSON round trip: the records are copies, shaped as Lambda's event carries them.
        records = json.loads(json.dumps(answer["Records"], default=_lambda_json)) if answer["Records"] else []
        self._backend.shard_iterators.pop(ShardIterator, None)  # moto keeps every iterator otherwise
        return {"Records": records, "NextShardIterator": answer["NextShardIterator"]}
