"""The payload archive and the secret reader, in memory."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

from chalicelib.core.errors import StoreUnavailable

POINTER_SCHEME = "memory://"


class MemoryPayloadArchive:
    """Raw payloads too large for an inbox entry; a pointer names the object like ``s3://bucket/key``."""

    def __init__(self, bucket: str = "payloads") -> None:
        self.bucket = bucket
        self.objects: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, key: str, body: bytes) -> str:
        with self._lock:
            self.objects[key] = bytes(body)
        return f"{POINTER_SCHEME}{self.bucket}/{key}"

    def delete(self, pointer: str) -> None:
        bucket, _, key = pointer.removeprefix(POINTER_SCHEME).partition("/")
        with self._lock:
            if bucket == self.bucket:
                self.objects.pop(key, None)

    def get(self, pointer: str) -> bytes:
        bucket, _, key = pointer.removeprefix(POINTER_SCHEME).partition("/")
        with self._lock:
            body = self.objects.get(key) if bucket == self.bucket else None
        if body is None:
            raise StoreUnavailable("the payload archive has no such object")
        return body


class MemorySecrets:
    """Named secrets; an empty value counts as missing, as it does in the environment.

    ``reads`` lists every name asked for, in order: a test can check that nothing was read too early.
    """

    def __init__(self, values: Mapping[str, str] | None = None) -> None:
        self.values = dict(values or {})
        self.reads: list[str] = []

    def get(self, name: str) -> str | None:
        self.reads.append(name)
        return self.values.get(name) or None

    def get_many(self, names: Iterable[str]) -> Mapping[str, str]:
        return {name: value for name in names if (value := self.get(name))}


class MemoryMediaStore:
    """Media bytes in memory; a link is ``memory://bucket/key?expires_in=…`` (the twin of S3MediaStore)."""

    def __init__(self, bucket: str = "payloads") -> None:
        self.bucket = bucket
        self.objects: dict[str, tuple[bytes, str | None]] = {}
        self._lock = threading.Lock()

    def put(self, key: str, body: bytes, *, content_type: str | None = None) -> str:
        with self._lock:
            self.objects[key] = (bytes(body), content_type)
        return f"{POINTER_SCHEME}{self.bucket}/{key}"

    def link(self, pointer: str, *, filename: str | None, content_type: str | None, expires_in: int) -> str | None:
        bucket, _, key = pointer.removeprefix(POINTER_SCHEME).partition("/")
        if not pointer.startswith(POINTER_SCHEME) or bucket != self.bucket or not key:
            return None
        return f"{pointer}?expires_in={expires_in}"
