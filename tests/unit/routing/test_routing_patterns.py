from __future__ import annotations

import json
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.routing import DEFAULT_CONFIG_PATH, MAX_MATCH_CHARS, MAX_PATTERN_CHARS, UnsafePatternError
from chalicelib.routing.patterns import backtracking_hazard, compile_pattern, fold_text


@pytest.mark.parametrize(
    "pattern",
    [
        "(a+)+$",
        "(a*)*b",
        "(\\w+\\s?)*$",
        "(a|ab)*c",
        "(x|y)+",
        "((ab)*c)+",
        "((x|y)z){2,}",
        "(?:a+){2,5}",
        "(?P<word>\\w+)+",
        "(a?){3}",
        "(a+)+?",
        "((a+))*",
    ],
)
def test_nested_repetition_is_refused(pattern: str) -> None:
    assert backtracking_hazard(pattern) is not None
    with pytest.raises(UnsafePatternError, match="repeated group"):
        compile_pattern(pattern)


@pytest.mark.parametrize("pattern", ["(a)\\1", "(?P<x>a)(?P=x)"])
def test_backreferences_are_refused(pattern: str) -> None:
    with pytest.raises(UnsafePatternError, match="backreferences"):
        compile_pattern(pattern)


@pytest.mark.parametrize(
    "pattern",
    [
        "avvocat\\w*",
        "\\bfattur\\w*",
        "\\bservizio (è )?(down|fermo)",
        "(refund|rimborso)s?",
        "\\b(r[üu]ck)?erstattung\\w*",
        "[(+*)]+",  # a class holding brackets and quantifier characters is literal
        "\\(a+\\)+",  # escaped brackets are not a group
        "(ab){1}",  # a group repeated once is not a repetition
        "(ab)?c",
        "a{2}b{1,3}",
        "\\d{4}-\\d{2}",
        "x{,}",  # a literal brace in Python's re
        "(?i)hello",
        "(?<=ref )\\d+",
        "(?#a comment a+ b* c?)plain",
        "[]a]+b",
        "[^]a]+",
    ],
)
def test_ordinary_routing_patterns_are_accepted(pattern: str) -> None:
    assert backtracking_hazard(pattern) is None
    assert compile_pattern(pattern).source == pattern


def test_length_type_and_syntax_are_checked() -> None:
    compile_pattern("a" * MAX_PATTERN_CHARS)
    with pytest.raises(UnsafePatternError, match=f"longer than {MAX_PATTERN_CHARS}"):
        compile_pattern("a" * (MAX_PATTERN_CHARS + 1))
    with pytest.raises(UnsafePatternError, match="non-empty string"):
        compile_pattern("")
    with pytest.raises(UnsafePatternError, match="non-empty string"):
        compile_pattern(3)
    with pytest.raises(UnsafePatternError, match="invalid regular expression"):
        compile_pattern("fattur(\\w*")


def test_patterns_are_case_insensitive_and_unicode_aware() -> None:
    pattern = compile_pattern("perch\\w+")
    assert pattern.search("PERCHÉ no?")
    assert compile_pattern("\\bst[öo]rung").search("STÖRUNG seit heute")


def test_every_shipped_pattern_stays_fast_on_hostile_text() -> None:
    """The shipped patterns against the longest text searched, built of the characters they repeat."""
    config = json.loads(DEFAULT_CONFIG_PATH.read_text())
    sources = [s for rule in config["rules"] for s in rule["if"].get("text_matches", [])]
    hostile = ("aaaa éé " * (MAX_MATCH_CHARS // 8))[:MAX_MATCH_CHARS]
    started = time.process_time()
    for source in sources:
        compile_pattern(source).search(hostile)
    assert time.process_time() - started < 2.0


@pytest.mark.parametrize(
    ("pattern", "literal"),
    [
        ("\\bfattur\\w*", "fattur"),
        ("avvocat\\w*", "avvocat"),
        ("\\blawyers?\\b", "lawyer"),
        ("\\bservizio (è )?(down|fermo)", "servizio "),
        ("^Invoice \\d+", "invoice "),
        ("\\bpacc[oh]\\w*", "pacc"),
        ("ab{2}", None),  # "a" alone is too short to be worth a lookup
        ("\\b(r[üu]ck)?erstattung", None),  # starts with an optional group
        ("refund|rimborso", None),  # a top-level alternation: neither word is required
        ("(?i)refund", None),
        ("perché", "perch"),  # ASCII only: the é is left to the regular expression
        ("x", None),
    ],
)
def test_the_required_literal_is_what_every_match_contains(pattern: str, literal: str | None) -> None:
    assert compile_pattern(pattern).literal == literal


TRICKY = "aiksIKS İıſ\u212a\u0307ΣσςéÉ -"

simple_patterns = st.builds(
    lambda anchor, word, tail: anchor + word + tail,
    st.sampled_from(("", "\\b", "^")),
    st.text(alphabet="aiksIKS ", min_size=1, max_size=4),
    st.sampled_from(("", "\\w*", "s?", "\\b", "[ıi]", "|k")),
)


@settings(max_examples=500, deadline=None)
@given(source=simple_patterns, text=st.text(alphabet=TRICKY, max_size=30))
def test_the_literal_prefilter_never_changes_a_result(source: str, text: str) -> None:
    pattern = compile_pattern(source)
    expected = pattern.compiled.search(text) is not None
    assert pattern.search(text, fold_text(text)) is expected
    assert pattern.search(text) is expected
