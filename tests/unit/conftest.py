"""Unit tests run without AWS: the use cases take the deployment's id key as a port."""

from __future__ import annotations

from tests.conftest import TEST_SECRETS


def test_id_key() -> bytes:
    """The id key the unit tests give the worker's use cases (the one `make run` and the moto tests use)."""
    return TEST_SECRETS["OMNIHUB_ID_KEY"].encode()


test_id_key.__test__ = False  # type: ignore[attr-defined]  # a key provider, not a test
