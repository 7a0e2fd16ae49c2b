"""Raw payloads too large for an item, as S3 objects; the item keeps ``s3://bucket/key``."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.adapters.aws_errors import aws_error_code, log_aws_failure
from chalicelib.core.errors import NotFound, StoreUnavailable


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
        try:
            body: bytes = self._client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as err:
            if aws_error_code(err) in ("NoSuchKey", "NoSuchBucket"):
                raise NotFound("the payload archive has no such object") from err
            log_aws_failure("s3", "get_object", err)
            raise StoreUnavailable("the payload archive is unavailable") from err
        return body


class S3MediaStore:
    """Media bytes (email attachments) as objects of the payload bucket, read through presigned URLs.

    A presigned URL is computed locally (no request); it names the file and its type so a browser
    saves ``invoice.pdf`` rather than a hash, and stops working after ``expires_in`` seconds.
    """

    def __init__(self, client: Any, bucket: str, *, presigner: Any | None = None) -> None:
        """``presigner``: an S3 client configured for SigV4 (``signature_version="s3v4"``), which signs
        the links; botocore's default presigns with the deprecated SigV2."""
        self._client = client
        self._bucket = bucket
        self._presigner = presigner or client

    def put(self, key: str, body: bytes, *, content_type: str | None = None) -> str:
        extra = {"ContentType": content_type} if content_type else {}
        try:
            self._client.put_object(Bucket=self._bucket, Key=key, Body=body, ServerSideEncryption="AES256", **extra)
        except (ClientError, BotoCoreError) as err:
            log_aws_failure("s3", "put_object", err)
            raise StoreUnavailable("the media store is unavailable") from err
        return f"s3://{self._bucket}/{key}"

    def link(self, pointer: str, *, filename: str | None, content_type: str | None, expires_in: int) -> str | None:
        bucket, _, key = pointer.removeprefix("s3://").partition("/")
        if not pointer.startswith("s3://") or bucket != self._bucket or not key:
            return None
        params: dict[str, str] = {"Bucket": bucket, "Key": key}
        if content_type:
            params["ResponseContentType"] = content_type
        if filename:
            params["ResponseContentDisposition"] = content_disposition(filename)
        try:
            url: str = self._presigner.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_in)
        except (ClientError, BotoCoreError) as err:  # no credentials to sign with: no link, the rest stands
            log_aws_failure("s3", "generate_presigned_url", err, severity="warning")
            return None
        return url


def content_disposition(filename: str) -> str:
    """``attachment`` with the name in ASCII and in RFC 5987 UTF-8 (``filename*``), quotes and breaks removed."""
    from urllib.parse import quote

    clean = "".join(c for c in filename if c.isprintable() and c not in '"\\\r\n')[:200] or "attachment"
    ascii_name = clean.encode("ascii", "replace").decode("ascii").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(clean, safe='')}"


class S3Objects:
    """The payload bucket as the privacy use cases see it: presigned links (export) and deletes that
    fail loudly (erasure: an object left behind would be a copy not erased, so the request is retried)."""

    def __init__(self, client: Any, bucket: str, *, presigner: Any | None = None) -> None:
        self._client = client
        self._bucket = bucket
        self._media = S3MediaStore(client, bucket, presigner=presigner)

    def link(self, pointer: str, *, filename: str | None, content_type: str | None, expires_in: int) -> str | None:
        return self._media.link(pointer, filename=filename, content_type=content_type, expires_in=expires_in)

    def delete(self, pointer: str) -> None:
        bucket, _, key = pointer.removeprefix("s3://").partition("/")
        if not pointer.startswith("s3://") or bucket != self._bucket or not key:
            return  # not an object of this bucket: nothing the hub wrote
        try:
            self._client.delete_object(Bucket=bucket, Key=key)
        except (ClientError, BotoCoreError) as err:
            if aws_error_code(err) in ("NoSuchKey",):
                return
            log_aws_failure("s3", "delete_object", err)
            raise StoreUnavailable("the payload bucket is unavailable") from err
