"""Key formats live in one module: no other file of chalicelib spells a key prefix or a sort key.

Everything else asks ``chalicelib.adapters.dynamo.keys`` for a key, so a key family is changed (or
added, for the next aggregate) in one place, and nothing outside the DynamoDB adapter depends on
the table's layout.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from chalicelib.adapters.dynamo import keys

ROOT = Path(__file__).resolve().parents[2]
CHALICELIB = ROOT / "chalicelib"
KEYS_MODULE = CHALICELIB / "adapters" / "dynamo" / "keys.py"

PREFIXES = frozenset(
    {"INBOX#", "IDENTITY#", "CUSTOMER#", "CONV#", "MSG#", "REF#", "PMSG#", "OUTBOX#", "IDEMPOTENCY#", "CONVSTATUS#"}
    | {prefix.value for prefix in keys.Prefix}  # a new key family is guarded as soon as it is declared
)
SORT_KEYS = frozenset({"PROFILE", "META"} | {sort_key.value for sort_key in keys.SortKey})


def key_formats_in(source: str) -> list[str]:
    """Where a source spells a key: a prefix anywhere in its text (strings, f-strings, comments), or a
    string that is exactly a sort key (``"PROFILE"``; ``keys.SortKey.PROFILE`` is the way)."""
    found = [
        f"line {number}: {prefix}"
        for number, line in enumerate(source.splitlines(), 1)
        for prefix in sorted(PREFIXES)
        if prefix in line
    ]
    found += [
        f"line {node.lineno}: {node.value!r}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in SORT_KEYS
    ]
    return found


def production_modules() -> list[Path]:
    return sorted(path for path in CHALICELIB.rglob("*.py") if path != KEYS_MODULE)


def test_no_module_but_keys_spells_a_key_format() -> None:
    modules = production_modules()
    assert len(modules) > 50  # the whole package was read, not an empty glob
    spelled = {
        str(path.relative_to(ROOT)): found
        for path in modules
        if (found := key_formats_in(path.read_text(encoding="utf-8")))
    }
    assert spelled == {}, f"key formats belong in {KEYS_MODULE.relative_to(ROOT)}: {spelled}"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('pk = f"CONV#{conversation_id}"', ["line 1: CONV#"]),
        ('item = {"pk": "CUSTOMER#" + cid, "sk": "PROFILE"}', ["line 1: CUSTOMER#", "line 1: 'PROFILE'"]),
        ("x = 1\n# reads PMSG#twilio#SM1\n", ["line 2: MSG#", "line 2: PMSG#"]),
        ('"""The inbox is INBOX#{key}."""', ["line 1: INBOX#"]),
        ("if sk == 'META':\n    pass\n", ["line 1: 'META'"]),
    ],
)
def test_the_scan_sees_a_key_however_it_is_spelled(source: str, expected: list[str]) -> None:
    assert key_formats_in(source) == expected


@pytest.mark.parametrize(
    "source",
    ["sort_key = keys.SortKey.PROFILE", 'provider = "meta"', 'env = "OMNIHUB_META_GRAPH_VERSION"', 'tag = "Profile"'],
)
def test_names_and_ordinary_words_are_not_keys(source: str) -> None:
    assert key_formats_in(source) == []


def test_the_keys_module_itself_is_where_they_are_found() -> None:
    found = key_formats_in(KEYS_MODULE.read_text(encoding="utf-8"))
    assert {entry.split(": ", 1)[1] for entry in found} >= PREFIXES | {repr(value) for value in SORT_KEYS}
