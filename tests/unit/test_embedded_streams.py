"""The pump's in-process stream reader answers what the DynamoDB Streams API answers, as Lambda shapes it."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from devstack.embedded_streams import EmbeddedStreams, streams_reader


@pytest.fixture
def table() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        description = client.create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        yield client, description["TableDescription"]["LatestStreamArn"]


def _as_lambda_sends(value: Any) -> Any:
    """boto3's parsed record as Lambda's JSON carries it: times in epoch seconds, binary in base64."""
    if isinstance(value, dict):
        return {key: _as_lambda_sends(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_lambda_sends(item) for item in value]
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def _read_all(reader: Any, arn: str, limit: int) -> list[dict[str, Any]]:
    shard = reader.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    start = reader.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    iterator = start["ShardIterator"]
    records: list[dict[str, Any]] = []
    while True:
        answer = reader.get_records(ShardIterator=iterator, Limit=limit)
        if not answer["Records"]:
            return records
        records += answer["Records"]
        iterator = answer["NextShardIterator"]


def test_the_records_are_the_apis_records_as_lambda_delivers_them(table: tuple[Any, str]) -> None:
    client, arn = table
    for index in range(5):
        client.put_item(TableName="t", Item={"pk": {"S": f"p{index}"}, "sk": {"S": "1"}, "raw": {"B": b"\x00\xff"},
                                             "m": {"M": {"n": {"N": "1"}, "l": {"L": [{"S": "é"}]}}}})
    client.update_item(TableName="t", Key={"pk": {"S": "p0"}, "sk": {"S": "1"}}, UpdateExpression="SET x = :x",
                       ExpressionAttributeValues={":x": {"S": "y"}})
    client.delete_item(TableName="t", Key={"pk": {"S": "p1"}, "sk": {"S": "1"}})
    api = boto3.client("dynamodbstreams", region_name="us-east-1", config=Config(account_id_endpoint_mode="disabled"))
    through_the_api = [_as_lambda_sends(record) for record in _read_all(api, arn, limit=100)]
    in_process = _read_all(EmbeddedStreams("us-east-1"), arn, limit=3)
    assert [r["eventName"] for r in in_process] == ["INSERT"] * 5 + ["MODIFY", "REMOVE"]
    for ours, theirs in zip(in_process, through_the_api, strict=True):  # the API rounds to the millisecond
        ours_at, theirs_at = ours["dynamodb"].pop("ApproximateCreationDateTime"), theirs["dynamodb"].pop(
            "ApproximateCreationDateTime")
        assert abs(ours_at - theirs_at) < 0.001
    assert in_process == through_the_api
    assert in_process[0]["dynamodb"]["NewImage"]["raw"] == {"B": "AP8="}


def test_the_records_are_copies_the_reader_may_keep(table: tuple[Any, str]) -> None:
    client, arn = table
    client.put_item(TableName="t", Item={"pk": {"S": "p"}, "sk": {"S": "1"}})
    first = _read_all(EmbeddedStreams("us-east-1"), arn, limit=10)
    first[0]["dynamodb"]["NewImage"]["pk"]["S"] = "changed"
    assert _read_all(EmbeddedStreams("us-east-1"), arn, limit=10)[0]["dynamodb"]["NewImage"]["pk"]["S"] == "p"


def test_the_reader_is_in_process_only_where_moto_answers_in_process(table: tuple[Any, str]) -> None:
    aws = boto3.client("dynamodbstreams", region_name="us-east-1")
    assert isinstance(streams_reader(aws), EmbeddedStreams)
    server = boto3.client("dynamodbstreams", region_name="us-east-1", endpoint_url="http://127.0.0.1:4566")
    assert streams_reader(server) is server


def test_outside_moto_the_client_is_kept() -> None:
    client = boto3.client("dynamodbstreams", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    assert streams_reader(client) is client
