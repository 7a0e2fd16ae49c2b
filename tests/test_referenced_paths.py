"""Every repository path the docs point at exists: in README.md, in chalicelib/config/*.json, in the
comments and docstrings of every .py file, and in every string of the shipped code (chalicelib/,
devstack/, infra/, bench/, app.py: log lines, errors, cdk-nag reasons that end up in the template).

A reference is a path under a top-level folder of the repository (``chalicelib/adapters/sqs.py``,
``tests/infra/``), a top-level file (``app.py``, ``Makefile``), or a dotted ``chalicelib`` module
name (``chalicelib.adapters.dynamo``), optionally followed by ``::name`` or a name the module
defines. Placeholders (``<name>``, ``{stage}``) and globs (``*``) are checked up to where they
start; what the build generates (``infra/cdk.out/``) is not in the repository and is skipped. A
path in another repository is written after that repository's name
(``twilio/twilio-python/tests/unit/test_request_validator.py``), which is not a reference here.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP_FOLDERS = ("chalicelib", "devstack", "infra", "tests", "bench", "schemas", "docs", ".chalice", ".ci")
TOP_FILES = ("app.py", "Makefile", "README.md", "pyproject.toml", "requirements.txt", "requirements-dev.txt")
GENERATED = ("infra/cdk.out", ".chalice/deployments", ".chalice/venv", ".venv", ".local-stack")
SKIPPED_DIRS = {".venv", "node_modules", "cdk.out", ".git", "__pycache__", ".ruff_cache", ".pytest_cache",
                ".chalice", ".local-stack"}

_PATH = re.compile(
    r"(?<![\w./\-~])"  # not the tail of a longer path or of a URL (…/omnihub/chalicelib/x)
    r"((?:" + "|".join(re.escape(f) for f in TOP_FOLDERS) + r")/[\w./*<>{}\-]*"
    r"|(?:" + "|".join(re.escape(f) for f in TOP_FILES) + r")(?![\w.\-]))"
)
_MODULE = re.compile(r"(?<![\w./\-])(chalicelib(?:\.[A-Za-z_]\w*)+)")
# In the README, a file or folder named alone in backticks (`resources.py`, `senders/`) must exist
# somewhere in the repository; the README's one hypothetical name is listed with its reason.
_BARE_NAME = re.compile(r"`([\w.\-]+\.(?:py|json|md|txt|toml|mk|yml|yaml)|[\w.\-]+/)`")
HYPOTHETICAL = {"acknowledgments.v2.json": "the name an incompatible policy version would take"}


# ------------------------------------------------------------------ what the docs say
def python_files() -> Iterator[Path]:
    for path in sorted(ROOT.rglob("*.py")):
        if not SKIPPED_DIRS & set(path.relative_to(ROOT).parts):
            yield path


def comments_and_docstrings(source: str, *, every_string: bool = False) -> Iterator[tuple[int, str]]:
    """(line, text) of every comment and docstring of a Python source (with ``every_string``, of
    every string constant: docstrings are among them)."""
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string
    for node in ast.walk(ast.parse(source)):
        if every_string:
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                yield node.lineno, node.value
        elif isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(
                first.value.value, str
            ):
                yield first.lineno, first.value.value


def documents() -> Iterator[tuple[str, int, str]]:
    """(file, line, text) of every place whose references must exist."""
    readme = ROOT / "README.md"
    for number, line in enumerate(readme.read_text().splitlines(), 1):
        yield "README.md", number, line
    for config in sorted((ROOT / "chalicelib" / "config").glob("*.json")):
        for number, line in enumerate(config.read_text().splitlines(), 1):
            yield str(config.relative_to(ROOT)), number, line
    for path in python_files():
        relative = path.relative_to(ROOT)
        shipped = relative.parts[0] != "tests"  # tests build paths on purpose, in code
        for number, text in comments_and_docstrings(path.read_text(), every_string=shipped):
            yield str(relative), number, text


def references(text: str) -> Iterator[str]:
    for match in _PATH.finditer(text):
        yield match.group(1)
    for match in _MODULE.finditer(text):
        yield match.group(1)


# ------------------------------------------------------------------ does it exist
def _clean(path: str) -> str:
    path = path.split("::", 1)[0]
    return path.rstrip(".,;:)")


def _module_exists(dotted: str) -> bool:
    """A dotted name is a module or package, or a module followed by a name that module defines."""
    parts = dotted.rstrip(".").split(".")
    for length in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:length])
        module = base.with_suffix(".py") if not base.is_dir() else base / "__init__.py"
        if not module.exists():
            continue
        rest = parts[length:]
        return not rest or rest[0] in _top_level_names(module)
    return False


def _top_level_names(module: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(module.read_text()).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.ImportFrom | ast.Import):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    if module.name == "__init__.py":
        names |= {child.stem for child in module.parent.iterdir() if child.suffix == ".py" or child.is_dir()}
    return names


def exists(reference: str) -> bool:
    if reference.startswith("chalicelib.") and "/" not in reference:
        return _module_exists(reference)
    path = _clean(reference)
    if path.startswith(GENERATED):
        return True
    placeholder = re.search(r"[<{*]", path)
    if placeholder:
        if "*" in path and not re.search(r"[<{]", path):
            return any(ROOT.glob(path))
        prefix = path[: placeholder.start()]
        return (ROOT / (prefix if prefix.endswith("/") else prefix.rsplit("/", 1)[0])).is_dir()
    return (ROOT / path).exists()


def dangling() -> list[str]:
    found = ((where, line, ref) for where, line, text in documents() for ref in references(text))
    return [f"{where}:{line}: {ref}" for where, line, ref in found if not exists(ref)]


def repository_names() -> set[str]:
    names: set[str] = set()
    for path in ROOT.rglob("*"):
        parts = path.relative_to(ROOT).parts
        if not SKIPPED_DIRS & set(parts):
            names.add(path.name + "/" if path.is_dir() else path.name)
    return names


def dangling_bare_names(readme: str, names: set[str]) -> list[str]:
    return [
        f"README.md:{number}: {name}"
        for number, line in enumerate(readme.splitlines(), 1)
        for name in _BARE_NAME.findall(line)
        if name not in names and name not in HYPOTHETICAL
    ]


# ------------------------------------------------------------------ the checks
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see chalicelib/adapters/sqs.py::fifo_token.", ["chalicelib/adapters/sqs.py"]),
        ("`tests/infra` and app.py, then (docs/deploy.md).", ["tests/infra", "docs/deploy.md", "app.py"]),
        ("https://example.com/omnihub/chalicelib/x.py and ../shared/tools/x", []),
        ("chalicelib.adapters.dynamo.store imports boto3", ["chalicelib.adapters.dynamo.store"]),
        ("an app.python file, a Makefiles folder", []),
    ],
)
def test_references_are_found_in_text(text: str, expected: list[str]) -> None:
    assert sorted(references(text)) == sorted(expected)


def test_the_check_tells_existing_from_dangling_references() -> None:
    assert exists("chalicelib/adapters/sqs.py.") and exists("tests/infra/") and exists("app.py")
    assert exists("chalicelib/providers/<name>.py") and exists("schemas/*.json") and exists("infra/cdk.out/x.json")
    assert exists("chalicelib.core.ids") and exists("chalicelib.core.ids.customer_id_for")
    assert exists("chalicelib.adapters.dynamo")
    assert not exists("docs/deploy.md") and not exists("chalicelib/channels/") and not exists("schemas/*.yaml")
    assert not exists("chalicelib.adapters.dynamo.store") and not exists("chalicelib.core.ids.no_such_name")
    assert not exists("chalicelib/nowhere/<name>.py")


def test_bare_names_in_the_readme_are_checked_against_the_repository() -> None:
    names = {"resources.py", "senders/"}
    text = "`resources.py` and `senders/`, `store.py`, `local/`, `acknowledgments.v2.json`, `x.py` is"
    assert dangling_bare_names(text, names) == ["README.md:1: store.py", "README.md:1: local/", "README.md:1: x.py"]


def test_every_referenced_path_exists() -> None:
    assert dangling() == []


def test_every_file_or_folder_the_readme_names_alone_exists() -> None:
    assert dangling_bare_names((ROOT / "README.md").read_text(), repository_names()) == []
