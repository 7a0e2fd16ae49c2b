"""The acknowledgment configuration's error, and the checks its parsers share.

Every error names the file and the key path (``acknowledgments.v1.json: languages.it.in_hours: ...``);
the parsers build it through a ``fail(path, message)`` function bound to the file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


class AckConfigError(ValueError):
    """The acknowledgment configuration is unreadable or invalid; the message names file and key."""


Fail = Callable[[str, str], AckConfigError]


def failure_in(source: str) -> Fail:
    """``fail(path, message)`` → the :class:`AckConfigError` for ``source`` (raise it where you call it)."""

    def fail(path: str, message: str) -> AckConfigError:
        return AckConfigError(f"{source}: {path}: {message}")

    return fail


def reject_unknown_keys(data: Mapping[str, Any], allowed: frozenset[str], path: str, fail: Fail) -> None:
    # Keys starting with "_" are comments; anything else unknown is most likely a typo.
    unknown = sorted(k for k in data if k not in allowed and not str(k).startswith("_"))
    if unknown:
        raise fail(path, f"unknown key(s) {', '.join(unknown)} (expected {', '.join(sorted(allowed))})")


def whole_number(
    data: Mapping[str, Any],
    key: str,
    fail: Fail,
    *,
    minimum: int,
    default: int | None = None,
    path: str = "",
    unit: str = "minutes",
) -> int:
    value = data.get(key, default)
    if value is None:
        raise fail(f"{path}{key}", f"required, a whole number of {unit} (>= {minimum})")
    if type(value) is not int or value < minimum:  # type(...) so that true/false are refused
        raise fail(f"{path}{key}", f"must be a whole number of {unit} >= {minimum}, got {value!r}")
    return value
