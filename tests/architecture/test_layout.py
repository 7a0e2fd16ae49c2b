"""The layout's rules (DESIGN.md, "one room per concern"), read from the imports with ``ast``, not run.

- providers/ are pure: they read bytes and secrets and return events, so they import only core/,
  each other and the one MIME path (email/) from chalicelib, and no AWS, web-framework or network library;
- email/ is pure too: the MIME path imports only core/, itself and the providers' base (its errors);
- core/ is the vocabulary everything else shares: it imports nothing from chalicelib outside core/
  and no AWS or HTTP library;
- the dev stack never reaches production code: nothing in chalicelib/ or app.py imports devstack;
- modules stay small: at most 400 lines.

Every import counts, including the lazy ones inside functions: a lazy import still runs in production.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAX_LINES = 400

AWS_AND_NETWORK = ("boto3", "botocore", "aws_lambda_powertools", "chalice", "urllib.request", "http.client",
                   "requests", "urllib3", "socket", "ssl")

# Modules over MAX_LINES today. The lead is splitting each of them (issue 8); remove a line as its
# file is split. The list only shrinks: a file that is back under the limit must leave it.
def python_files(*tops: str) -> list[Path]:
    found: list[Path] = []
    for top in tops:
        path = ROOT / top
        found += [path] if path.is_file() else sorted(p for p in path.rglob("*.py") if "cdk.out" not in p.parts)
    return found


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, source: str | None = None) -> Iterator[tuple[int, str]]:
    """Every module ``path`` imports (absolute names, relative imports resolved), with its line."""
    tree = ast.parse(path.read_text() if source is None else source, filename=str(path))
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # ``from chalicelib.providers import twilio`` imports chalicelib.providers.twilio too.
            yield node.lineno, prefix
            for alias in node.names:
                yield node.lineno, f"{prefix}.{alias.name}"


def within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def refused(module: str, forbidden: tuple[str, ...], chalicelib_allowed: tuple[str, ...] | None) -> bool:
    if within(module, forbidden):
        return True
    inside = within(module, ("chalicelib",)) and module != "chalicelib"
    return chalicelib_allowed is not None and inside and not within(module, chalicelib_allowed)


def violations(paths: list[Path], forbidden: tuple[str, ...] = (), *,
               chalicelib_allowed: tuple[str, ...] | None = None) -> list[str]:
    return sorted({
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in paths
        for line, module in imported_modules(path)
        if refused(module, forbidden, chalicelib_allowed)
    })


def test_providers_are_pure() -> None:
    found = violations(python_files("chalicelib/providers"), (*AWS_AND_NETWORK, "devstack"),
                       chalicelib_allowed=("chalicelib.core", "chalicelib.providers", "chalicelib.email"))
    assert not found, "\n".join(found)


def test_the_mime_path_is_pure() -> None:
    found = violations(python_files("chalicelib/email"), (*AWS_AND_NETWORK, "devstack"),
                       chalicelib_allowed=("chalicelib.core", "chalicelib.email", "chalicelib.providers.base"))
    assert not found, "\n".join(found)


def test_core_depends_on_nothing_but_itself() -> None:
    found = violations(python_files("chalicelib/core"), (*AWS_AND_NETWORK, "devstack"),
                       chalicelib_allowed=("chalicelib.core",))
    assert not found, "\n".join(found)


def test_production_code_never_imports_the_dev_stack() -> None:
    found = violations(python_files("chalicelib", "app.py"), ("devstack",))
    assert not found, "\n".join(found)


def test_the_rules_see_what_they_must_refuse() -> None:
    # The reader finds every form an import takes (relative, dotted, lazy inside a function) and the
    # rules refuse each of them in a provider module.
    source = ("from . import registry\nimport boto3.session\nfrom urllib import request\n"
              "def lazy():\n    from ..adapters import secrets\n    import devstack.cli\n")
    found = {m: line for line, m in imported_modules(ROOT / "chalicelib/providers/probe.py", source)}
    assert {"chalicelib.providers.registry", "boto3.session", "urllib.request", "chalicelib.adapters.secrets",
            "devstack.cli"} <= set(found)
    rules = ((*AWS_AND_NETWORK, "devstack"), ("chalicelib.core", "chalicelib.providers"))
    assert sorted(m for m in found if refused(m, *rules)) == [
        "boto3.session", "chalicelib.adapters", "chalicelib.adapters.secrets", "devstack.cli", "urllib.request"]
    assert found["devstack.cli"] == 6


def line_counts() -> dict[str, int]:
    return {str(p.relative_to(ROOT)): len(p.read_text().splitlines())
            for p in python_files("app.py", "chalicelib", "devstack", "infra", "bench")}


def test_no_module_is_over_400_lines() -> None:
    too_long = {path: lines for path, lines in line_counts().items() if lines > MAX_LINES}
    assert not too_long, f"split these (at most {MAX_LINES} lines a module): {too_long}"


def test_the_webhook_path_loads_no_sender() -> None:
    """The instant acknowledgment decides on the webhook path; sending (and its imports) is the worker's."""
    import subprocess
    import sys

    code = (
        "import sys, app, chalicelib.ingest.instant_ack\n"
        "loaded = [m for m in sys.modules if m.startswith('chalicelib.outbound')]\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == ""
