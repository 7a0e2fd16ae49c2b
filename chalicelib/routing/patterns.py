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

Speed: most routing patterns begin with a word (``\\bfattur\\w*``), and a message matches few of
them. A pattern's leading ASCII literal, when every match must contain it, is kept (``fattur``) and
looked for with ``in`` in the text folded once per decision (:func:`fold_text`) before the regular
expression runs; the fold sends every character ``re.IGNORECASE`` equates with an ASCII letter or
digit to exactly that letter or digit (``K`` Kelvin, ``ı``, ``ſ``, ``İ``), so skipping never changes
a result, it only saves the scan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chalicelib.core.errors import ConfigError

MAX_PATTERN_CHARS = 200
# Only the start of a long message is searched: the request is in the first lines, and the cost of
# a polynomial pattern stays bounded whatever a customer pastes.
MAX_MATCH_CHARS = 10_000

_BRACE_REPEAT = re.compile(r"\{(\d*)(,?)(\d*)\}")
_FLAG_CHARS = frozenset("aiLmsux-")
_LITERAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ")
_ZERO_WIDTH_PREFIXES = ("\\b", "\\A", "^")
# After str.lower(): the dotless i and the long s, which re.IGNORECASE equates with i and s, and the
# combining dot that "İ".lower() leaves after its i (the regular expression engine lowers it to "i").
_FOLD = str.maketrans({"\u0131": "i", "\u017f": "s", "\u0307": None})


class UnsafePatternError(ConfigError, ValueError):
    """The pattern is invalid, too long, or shaped for catastrophic backtracking; the text says which."""


@dataclass(frozen=True, slots=True)
class TextPattern:
    """One compiled, case-insensitive pattern and the text it was written as (for explanations)."""

    source: str
    compiled: re.Pattern[str]
    literal: str | None = None  # lower-case ASCII every match contains, or None when there is none to rely on

    def search(self, text: str, folded: str | None = None) -> bool:
        """Whether the pattern occurs in the first :data:`MAX_MATCH_CHARS` of ``text``; ``folded`` is
        :func:`fold_text` of ``text``, given to skip the scan when the literal is absent."""
        if folded is not None and self.literal is not None and self.literal not in folded:
            return False
        return self.compiled.search(text, 0, MAX_MATCH_CHARS) is not None


def fold_text(text: str) -> str:
    """The searched part of ``text`` folded for :attr:`TextPattern.literal` (compute once per text)."""
    return text[:MAX_MATCH_CHARS].lower().translate(_FOLD)


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
    return TextPattern(source, compiled, required_literal(source))


def required_literal(pattern: str) -> str | None:
    """The run of ASCII letters, digits and spaces the pattern starts with (after ``\\b``, ``\\A`` or
    ``^``), lower-cased, which every match therefore contains; ``None`` when shorter than two characters
    or when an alternation at the top level makes it optional. A character the next quantifier makes
    optional or repeats is left out (``lawyers?`` gives ``lawyer``)."""
    if _top_level_alternation(pattern):
        return None
    start = 0
    while prefix := next((p for p in _ZERO_WIDTH_PREFIXES if pattern.startswith(p, start)), None):
        start += len(prefix)
    end = start
    while end < len(pattern) and pattern[end] in _LITERAL_CHARS:
        end += 1
    if end < len(pattern) and pattern[end] in "?*+{":
        end -= 1
    literal = pattern[start:end].lower()
    return literal if len(literal) >= 2 else None


def _top_level_alternation(pattern: str) -> bool:
    depth, i = 0, 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            i = _after_class(pattern, i)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return True
        i += 1
    return False


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
