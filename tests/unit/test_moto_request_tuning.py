"""The way into moto in process costs less and answers the same: the same account and region, the
same routes, the same errors; real signatures wherever something could check them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.auth import AUTH_TYPE_MAPS
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from moto import mock_aws

from devstack import moto_request_tuning
from devstack.moto_tuning import tune_moto

REAL_SIGNATURE = re.compile(r"Signature=[0-9a-f]{64}$")


@pytest.fixture
def in_process() -> Iterator[None]:
    tune_moto()  # before the clients' sessions: botocore reads its handlers when a session starts
    with mock_aws():
        yield


def _sent_headers(client: Any) -> list[dict[str, str]]:
    sent: list[dict[str, str]] = []
    def keep(request: Any, **_: Any) -> None:
        sent.append({name: value.decode() if isinstance(value, bytes) else value
                     for name, value in request.headers.items()})

    client.meta.events.register_first("before-send", keep)
    return sent


def test_an_in_process_call_carries_its_scope_and_no_computed_signature(in_process: None) -> None:
    ireland = boto3.client("dynamodb", region_name="eu-west-1")
    sent = _sent_headers(ireland)
    ireland.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    authorization = sent[-1]["Authorization"]
    assert "/eu-west-1/dynamodb/aws4_request" in authorization and authorization.endswith("Signature=in-process")
    assert "X-Amz-Date" in sent[-1]
    assert ireland.list_tables()["TableNames"] == ["t"]  # moto read the region from the scope
    assert boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"] == []


def test_the_account_is_still_read_from_the_access_key(in_process: None) -> None:
    assumed = boto3.client("sts", region_name="us-east-1").assume_role(
        RoleArn="arn:aws:iam::111122223333:role/other", RoleSessionName="session")["Credentials"]
    theirs = boto3.client("sqs", region_name="us-east-1", aws_access_key_id=assumed["AccessKeyId"],
                          aws_secret_access_key=assumed["SecretAccessKey"], aws_session_token=assumed["SessionToken"])
    queue_url = theirs.create_queue(QueueName="q")["QueueUrl"]
    assert "/111122223333/" in queue_url  # moto found the role's account from the key in the scope
    assert boto3.client("sqs", region_name="us-east-1").list_queues().get("QueueUrls", []) == []


def test_presigned_urls_and_other_services_still_sign_for_real(in_process: None) -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="bucket")
    presigned = s3.generate_presigned_url("get_object", Params={"Bucket": "bucket", "Key": "k"})
    assert re.search(r"Signature=[0-9A-Za-z%]{20,}", presigned) and "in-process" not in presigned
    sent = _sent_headers(s3)
    s3.put_object(Bucket="bucket", Key="k", Body=b"x")
    assert REAL_SIGNATURE.search(sent[-1]["Authorization"])


def test_without_the_mock_the_scope_only_signer_signs_for_real() -> None:
    tune_moto()
    signer = AUTH_TYPE_MAPS[moto_request_tuning.SCOPE_ONLY](Credentials("AKIDEXAMPLE", "secret"), "dynamodb",
                                                            "us-east-1")
    request = AWSRequest(method="POST", url="https://dynamodb.us-east-1.amazonaws.com/", data=b"{}")
    signer.add_auth(request)
    assert REAL_SIGNATURE.search(str(request.headers["Authorization"]))


def test_a_url_routed_once_answers_and_refuses_as_moto_routes_it(in_process: None, monkeypatch: Any) -> None:
    def calls(moto_routes: bool) -> list[Any]:
        if moto_routes:
            from moto.core.botocore_stubber import BotocoreStubber

            monkeypatch.setattr(BotocoreStubber, "process_request", moto_request_tuning.moto_process_request)
        prefix = "moto" if moto_routes else "ours"
        sqs, s3 = boto3.client("sqs", region_name="us-east-1"), boto3.client("s3", region_name="us-east-1")
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.list_tables()  # DynamoDB's root URL routed (and kept, with ours)
        url = sqs.create_queue(QueueName=f"{prefix}-q")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="hello")
        answers: list[Any] = [[m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]]]
        s3.create_bucket(Bucket=f"{prefix}-b")
        s3.put_object(Bucket=f"{prefix}-b", Key="a/b c", Body=b"body")
        answers.append(s3.get_object(Bucket=f"{prefix}-b", Key="a/b c")["Body"].read())
        for refused in [lambda: s3.get_object(Bucket=f"{prefix}-b", Key="absent"),  # routed by moto each time
                        lambda: dynamodb.describe_table(TableName="absent"),  # a refusal answered, route kept
                        lambda: s3.delete_bucket(Bucket=f"{prefix}-b"),  # not empty: refused, route kept
                        lambda: sqs.get_queue_url(QueueName="absent")] * 2:
            with pytest.raises(ClientError) as error:
                refused()
            answers.append((error.value.response["Error"]["Code"],
                            error.value.response["ResponseMetadata"]["HTTPStatusCode"]))
        return answers

    ours = calls(moto_routes=False)
    assert "https://sqs.us-east-1.amazonaws.com/" in moto_request_tuning.routes  # every SQS call's URL
    assert all(url.count("/") == 3 for url in moto_request_tuning.routes)  # root URLs only: none per S3 key
    assert ours == calls(moto_routes=True)
    assert ours[:2] == [["hello"], b"body"] and ours[2] == ours[6] == ("NoSuchKey", 404)
    assert ours[3] == ours[7] == ("ResourceNotFoundException", 400)
    assert ours[4] == ours[8] == ("BucketNotEmpty", 409)


def _environ(request: Any) -> dict[str, Any]:
    environ = {key: value for key, value in request.environ.items() if key != "werkzeug.request"}
    environ["wsgi.input"] = request.get_data()
    return {**environ, "url": request.url, "raw_url": request.raw_url, "headers": sorted(request.headers.items()),
            "form": dict(request.form), "args": dict(request.args), "content_type": request.content_type}


def test_a_request_is_built_as_moto_builds_it(in_process: None) -> None:
    from botocore.awsrequest import AWSPreparedRequest
    from botocore.compat import HTTPHeaders
    from moto.core.request import Request

    sent: list[Any] = []
    clients = [boto3.client(name, region_name="eu-west-1") for name in ("dynamodb", "sqs", "s3", "sts")]
    for client in clients:
        client.meta.events.register_first("before-send", lambda request, **_: sent.append(request))
    dynamodb, sqs, s3, sts = clients
    dynamodb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
    dynamodb.put_item(TableName="t", Item={"pk": {"S": "é😀"}, "b": {"B": b"\x00\xff"}})
    dynamodb.list_tables()
    queue = sqs.create_queue(QueueName="q")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody="hello", MessageAttributes={
        "a": {"DataType": "String", "StringValue": "v"}})
    s3.create_bucket(Bucket="bucket", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.put_object(Bucket="bucket", Key="a/b c", Body=b"", Metadata={"my_key": "v"})
    s3.list_objects_v2(Bucket="bucket", Prefix="a/")
    sts.get_caller_identity()
    odd = HTTPHeaders()
    for name, value in (("Content-Type", "application/json"), ("X-Twice", "1"), ("x-twice", "2"),
                        ("Transfer-Encoding", "chunked"), ("Content-Length", "999"), ("X-Bytes", b"v")):
        odd[name] = value
    sent += [AWSPreparedRequest("POST", "http://127.0.0.1:4566/", odd, b"{}", False),
             AWSPreparedRequest("POST", "https://host:8443/", odd, b"{}", False)]
    assert len(sent) >= 10
    plain = 0
    for request in sent:
        assert moto_request_tuning.moto_from_primitives is not None
        theirs = moto_request_tuning.moto_from_primitives(Request, request.method, request.url, request.headers,
                                                          request.body)
        ours = Request.from_primitives(request.method, request.url, request.headers, request.body)
        assert _environ(ours) == _environ(theirs), request.url
        plain += request.url.endswith("/") and bool(request.body)
    assert plain >= 6  # most were built the direct way
