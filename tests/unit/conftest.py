"""Unit tests run without AWS: the deployment's id key comes from the environment, as in `make run`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import TEST_SECRETS


@pytest.fixture(autouse=True)
def id_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from chalicelib.adapters import runtime

    monkeypatch.setenv("OMNIHUB_ID_KEY", TEST_SECRETS["OMNIHUB_ID_KEY"])
    runtime.reset()
    yield
    runtime.reset()
