"""Every make target the README documents works as the first command after ``git clone``: each
depends, directly or through its prerequisites, on the virtualenv stamp that creates ``.venv``.

The rules are read from make's own database (``make -p``), after the Makefile and every file it
includes (infra/infra.mk) are parsed and their variables expanded, so what is checked is what make
would run.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# `make synth [STAGE=dev]` in text and tables, or a code-block line starting with `make run`.
_DOCUMENTED = re.compile(r"`make ([a-z][a-z-]*)|^make ([a-z][a-z-]*)", re.MULTILINE)
_RULE = re.compile(r"^([^\s#:=][^:=]*?):(?!=)\s*(.*)$")


def documented_targets(readme: str) -> set[str]:
    return {a or b for a, b in _DOCUMENTED.findall(readme)}


def parse_rules(database: str) -> dict[str, set[str]]:
    """target → prerequisites, from ``make -p``'s output (comments, variables and recipes skipped)."""
    rules: dict[str, set[str]] = {}
    for line in database.splitlines():
        if line.startswith(("\t", "#")) or not line.strip():
            continue
        match = _RULE.match(line)
        if match is None:
            continue
        prerequisites = match.group(2).split("|")[0].split()  # order-only prerequisites count too
        prerequisites += match.group(2).split("|")[1].split() if "|" in match.group(2) else []
        for target in match.group(1).split():
            rules.setdefault(target, set()).update(prerequisites)
    return rules


@cache
def make_database() -> str:
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    # -q: decide only, run nothing; -p: print the database; -R -r: no built-in rules or variables.
    done = subprocess.run([make, "-pqRr", "--no-print-directory"], cwd=REPO, capture_output=True, text=True,
                          check=False, timeout=60)
    return done.stdout


def reaches(rules: dict[str, set[str]], target: str, goal: str) -> bool:
    seen, todo = set(), [target]
    while todo:
        current = todo.pop()
        if current == goal:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(rules.get(current, ()))
    return False


def venv_stamp(rules: dict[str, set[str]]) -> str:
    [stamp] = [target for target in rules if target.startswith(".venv/.installed-")]
    return stamp


def test_the_parser_reads_prerequisites_and_order_only_ones() -> None:
    rules = parse_rules("# a comment\nX := 1\na: b c | d\nb:\n\techo b\nd: e\n.PHONY: a b\n")
    assert rules["a"] == {"b", "c", "d"} and reaches(rules, "a", "e") and not reaches(rules, "b", "e")
    assert "X " not in rules


def test_the_readme_documents_the_infra_targets() -> None:
    documented = documented_targets((REPO / "README.md").read_text())
    assert {"run", "test", "synth", "diff", "deploy", "infra-test", "cost"} <= documented


@pytest.mark.parametrize("target", sorted(documented_targets((REPO / "README.md").read_text())))
def test_every_documented_target_builds_the_virtualenv_first(target: str) -> None:
    rules = parse_rules(make_database())
    assert target in rules, f"README documents `make {target}`, which no Makefile defines"
    assert reaches(rules, target, venv_stamp(rules)), (
        f"`make {target}` does not depend on the virtualenv stamp: it fails on a fresh clone"
    )
