"""Regular expressions from the routing configuration, compiled once and kept away from catastrophe.

Rules are written by people, and Python's ``re`` is a backtracking engine: a pattern such as
``(a+)+$`` or ``(\\w|\\d)*x`` takes exponential time on a text that almost matches, and one such
pattern would stall the conversation worker on every message. So each pattern is checked before it
is compiled:

- at most :data:`MAX_PATTERN_CHARS` characters;
- no repeated group (``*``, ``+``, ``{n,}``, ``{n,m}`` with m > 1) that itself contains a quantifier
  (``?`` included) or an alternation, at any depth: ``(a+)+``, ``(\\w+\\s?)*``, ``(a|ab)*``,
  ``((x|y)z){2,}`` are refused — the nested-quantifier shape behind every exponential case;
- no backreferences (``\\1``, ``(?P=name)``), which defeat any bound on backtracking.

What remains can still be polynomial (``.*a.*b``), so the text a rule searches is also bounded
(:data:`MAX_MATCH_CHARS`, applied by the rules). Patterns are case-insensitive (``re.IGNORECASE``)
and Unicode-aware (``\\w`` matches ``è``), so ``fattur\\w*`` matches "Fatturazione".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_PATTERN_CHARS = 200
# Only the start of a long message is searched: the request is in the first lines, and the cost of
# a polynomial pattern stays bounded whatever a customer pastes.
MAX_MATCH_CHARS = 10_000

_BRACE_REPEAT = re.compile(r"\{(\d*)(,?)(\d*)\}")
_FLAG_CHARS = frozenset("aiLmsux-")


class UnsafePatternError(ValueError):
    """The pattern is invalid, too long, or shaped for catastrophic backtracking; the text says which."""


@dataclass(frozen=True, slots=True)
class TextPattern:
    """One compiled, case-insensitive pattern and the text it was written as (for explanations)."""

    source: str
    compiled: re.Pattern[str]

    def search(self, text: str) -> bool:
        return self.compiled.search(text, 0, MAX_MATCH_CHARS) is not None


def compile_pattern(source: object) -> TextPattern:
    """Check and compile one rule pattern; :class:`UnsafePatternError` says what is wrong."""
    if not isinstance(source, str) or not source:
        raise UnsafePatternError("must be a non-empty string (a regular expression)")
    if len(source) > MAX_PATTERN_CHARS:
        raise UnsafePatternError(f"longer than {MAX_PATTERN_CHARS} characters ({len(source)})")
    try:
        compiled = re.compile(source, re.IGNORECASE)
    except re.error as err:
        raise UnsafePatternError(f"invalid regular expression ({err})") from err
    hazard = backtracking_hazard(source)
    if hazard is not None:
        raise UnsafePatternError(hazard)
    return TextPattern(source, compiled)


def backtracking_hazard(pattern: str) -> str | None:
    """Why ``pattern`` (already known to compile) risks catastrophic backtracking, or ``None``.

    A lexical walk: for each open group it records whether the group holds a quantifier or an
    ``|``; a group closing with either and then repeated is the hazard. Conservative on purpose (it
    refuses the harmless ``(ab|cd)+`` too): a routing rule never needs a repeated alternation.
    """
    # per open group: [holds a quantifier, holds an alternation]; index 0 is the whole pattern
    stack: list[list[bool]] = [[False, False]]
    just_closed: tuple[bool, bool] | None = None  # the atom before the cursor, when it is a group
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\":
            if i + 1 < n and pattern[i + 1] in "123456789":
                return "backreferences (\\1 ...) are not allowed"
            i, just_closed = i + 2, None
            continue
        if char == "[":
            i, just_closed = _after_class(pattern, i), None
            continue
        if char == "(":
            if pattern.startswith("(?P=", i):
                return "backreferences ((?P=name)) are not allowed"
            if pattern.startswith("(?#", i):
                i, just_closed = pattern.find(")", i) + 1 or n, None
                continue
            stack.append([False, False])
            i, just_closed = _after_group_opening(pattern, i + 1), None
            continue
        if char == ")":
            held = stack.pop() if len(stack) > 1 else [False, False]
            stack[-1][0] |= held[0]
            stack[-1][1] |= held[1]
            i, just_closed = i + 1, (held[0], held[1])
            continue
        if char == "|":
            stack[-1][1] = True
            i, just_closed = i + 1, None
            continue
        quantifier = _quantifier_at(pattern, i)
        if quantifier is not None:
            end, repeats = quantifier
            if repeats and just_closed is not None and any(just_closed):
                return (
                    "a repeated group that contains a quantifier or an alternation (like (a+)+, (\\w+\\s?)* "
                    "or (a|ab)*) can take exponential time; write it without the nested repetition"
                )
            stack[-1][0] = True
            if end < n and pattern[end] in "?+":  # lazy or possessive suffix
                end += 1
            i, just_closed = end, None
            continue
        i, just_closed = i + 1, None
    return None


def _quantifier_at(pattern: str, i: int) -> tuple[int, bool] | None:
    """``(end, repeats more than once)`` when a quantifier starts at ``i``."""
    char = pattern[i]
    if char in "*+":
        return i + 1, True
    if char == "?":
        return i + 1, False
    if char == "{":
        brace = _BRACE_REPEAT.match(pattern, i)
        if brace is None or not (brace.group(1) or brace.group(3)):
            return None  # a literal brace
        low, comma, high = brace.groups()
        repeats = (not high or int(high) > 1) if comma else int(low) > 1
        return brace.end(), repeats
    return None


def _after_class(pattern: str, i: int) -> int:
    """The index after the character class opening at ``i`` (``[]a]`` and ``[^]a]`` hold a literal ``]``)."""
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        j += 1
    while j < len(pattern):
        if pattern[j] == "\\":
            j += 2
            continue
        if pattern[j] == "]":
            return j + 1
        j += 1
    return len(pattern)


def _after_group_opening(pattern: str, i: int) -> int:
    """Skip an extension after ``(``: ``?:``, ``?=``, ``?!``, ``?>``, ``?<=``, ``?<!``, ``?P<name>``, ``?i:``."""
    if i >= len(pattern) or pattern[i] != "?":
        return i
    i += 1
    if pattern.startswith("P<", i):
        close = pattern.find(">", i)
        return len(pattern) if close < 0 else close + 1
    if pattern.startswith(("<=", "<!"), i):
        return i + 2
    if i < len(pattern) and pattern[i] in ":=!>":
        return i + 1
    while i < len(pattern) and pattern[i] in _FLAG_CHARS:
        i += 1
    return i + 1 if i < len(pattern) and pattern[i] == ":" else i
