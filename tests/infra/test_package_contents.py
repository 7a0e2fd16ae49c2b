"""The Lambda deployment package, as `make synth` builds it: the app and chalicelib, never the dev stack.

The package is the zip CDK stages for the Chalice app (``chalice package`` output, the asset the
functions' code points at), taken from the session's synthesized stack (tests/infra/conftest.py).
"""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
NOT_SHIPPED = ("devstack", "tests", "bench", "infra")


@pytest.fixture(scope="module")
def package(synthesized: Any) -> list[str]:
    assert synthesized.validation_error is None, synthesized.validation_error
    asset = synthesized.stack.chalice.node.find_child("ChaliceAppCode")  # chalice.cdk's code asset
    staged = Path(synthesized.stack.node.root.outdir) / asset.asset_path
    assert zipfile.is_zipfile(staged), staged
    with zipfile.ZipFile(staged) as archive:
        assert archive.read("app.py") == (REPO / "app.py").read_bytes()
        return archive.namelist()


def test_the_package_holds_the_app_and_all_of_chalicelib(package: list[str]) -> None:
    shipped = set(package)
    assert "app.py" in shipped
    ours = {str(p.relative_to(REPO)) for p in (REPO / "chalicelib").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}
    assert any(name.endswith(".json") for name in ours), "the configuration ships with the code"
    assert ours <= shipped, sorted(ours - shipped)


def test_the_package_holds_no_dev_stack_test_bench_or_infra_file(package: list[str]) -> None:
    leaked = sorted(name for name in package if name.split("/", 1)[0] in NOT_SHIPPED)
    assert not leaked, leaked
    assert (REPO / "devstack" / "sandbox" / "__init__.py").exists()  # so the check above guards something real
