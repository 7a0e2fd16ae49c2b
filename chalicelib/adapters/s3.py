"""Raw payloads too large for an item, as S3 objects; the item keeps ``s3://bucket/key``."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws_errors import log_aws_failure
from chalicelib.core.errors import StoreUnavailable


class S3PayloadArchive:
    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def put(self, key: str, body: bytes) -> str:
        try:
            self._client.put_object(Bucket=self._bucket, Key=key, Body=body, ServerSideEncryption="AES256")
        except (ClientError, BotoCoreError) as err:
            log_aws_failure("s3", "put_object", err)
            raise StoreUnavailable("the payload archive is unavailable") from err
        return f"s3://{self._bucket}/{key}"

    def delete(self, pointer: str) -> None:
        bucket, _, key = pointer.removeprefix("s3://").partition("/")
        try:
            self._client.delete_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError) as err:
            # Left behind, the object expires with the bucket's lifecycle rule; the refusal stands.
            log_aws_failure("s3", "delete_object", err, severity="warning")

    def get(self, pointer: str) -> bytes:
        bucket, _, key = pointer.removeprefix("s3://").partition("/")
        body: bytes = self._client.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body
