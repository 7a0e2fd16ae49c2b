"""One language's section of the acknowledgment configuration → a checked :class:`LanguagePack`.

Templates are checked when the file is loaded, not when a customer writes: every placeholder must
be one the template may use, the required ones must be there, and each template must render with
typical values (format specs such as ``{hour:02d}`` included).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from chalicelib.acknowledgments.validation import Fail, reject_unknown_keys
from chalicelib.acknowledgments.wording import LanguagePack, Variant, compose

# Placeholder values used to check templates when the configuration is loaded.
_SAMPLE_NAME = "Alessandra"
_SAMPLE_REFERENCE = "ABC-12345678"
_SAMPLE_STATUS_LINE = "Some card payments are failing; we are working on it."

_TEMPLATE_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    # key: (allowed placeholders, required placeholders)
    "greeting_named": (frozenset({"name"}), frozenset({"name"})),
    "greeting_neutral": (frozenset(), frozenset()),
    "in_hours": (frozenset({"name_greeting", "name", "reference", "expected"}), frozenset({"reference"})),
    "out_of_hours": (
        frozenset({"name_greeting", "name", "reference", "expected", "back_at"}),
        frozenset({"reference"}),
    ),
    "crisis": (frozenset({"status_line"}), frozenset({"status_line"})),
    "time_format": (frozenset({"hour", "minute"}), frozenset({"hour", "minute"})),
    "date_format": (frozenset({"day", "month"}), frozenset({"day", "month"})),
}
_EXPECTED_FIELDS: dict[str, frozenset[str]] = {
    "within_minutes": frozenset({"minutes"}),
    "within_an_hour": frozenset(),
    "within_hours": frozenset({"hours"}),
    "today": frozenset({"time"}),
    "tomorrow": frozenset({"time"}),
    "weekday": frozenset({"weekday", "time"}),
    "date": frozenset({"date", "time"}),
}
_BACK_AT_FIELDS: dict[str, frozenset[str]] = {
    "today": frozenset({"time"}),
    "tomorrow": frozenset({"time"}),
    "weekday": frozenset({"weekday", "time"}),
    "date": frozenset({"date", "time"}),
}
_DEFAULT_TEMPLATES = {
    "crisis": "{status_line}",
    "time_format": "{hour:02d}:{minute:02d}",
    "date_format": "{day} {month}",
}
_LANGUAGE_KEYS = frozenset({*_TEMPLATE_FIELDS, "expected", "back_at", "weekdays", "months"})


def parse_language_pack(code: str, data: Any, fail: Fail) -> LanguagePack:
    """``languages.<code>`` → its :class:`LanguagePack`; errors name ``languages.<code>.<key>``."""
    base = f"languages.{code}"
    if not isinstance(data, Mapping):
        raise fail(base, "must be an object of templates")
    reject_unknown_keys(data, _LANGUAGE_KEYS, base, fail)
    templates: dict[str, str] = {}
    for key, (allowed, required) in _TEMPLATE_FIELDS.items():
        value = data.get(key, _DEFAULT_TEMPLATES.get(key))
        templates[key] = _checked_template(value, f"{base}.{key}", allowed, required, fail)
    phrase_groups: dict[str, dict[str, str]] = {}
    for group, fields in (("expected", _EXPECTED_FIELDS), ("back_at", _BACK_AT_FIELDS)):
        group_data = data.get(group)
        if not isinstance(group_data, Mapping):
            raise fail(f"{base}.{group}", f"required, an object with {', '.join(fields)}")
        reject_unknown_keys(group_data, frozenset(fields), f"{base}.{group}", fail)
        phrase_groups[group] = {
            key: _checked_template(group_data.get(key), f"{base}.{group}.{key}", allowed, allowed, fail)
            for key, allowed in fields.items()
        }
    names: dict[str, tuple[str, ...]] = {}
    for key, count in (("weekdays", 7), ("months", 12)):
        value = data.get(key)
        if (
            not isinstance(value, list)
            or len(value) != count
            or not all(isinstance(v, str) and v.strip() for v in value)
        ):
            first = "Monday" if key == "weekdays" else "January"
            raise fail(f"{base}.{key}", f"required, a list of {count} names starting with {first}")
        names[key] = tuple(value)
    pack = LanguagePack(
        code=code,
        greeting_named=templates["greeting_named"],
        greeting_neutral=templates["greeting_neutral"],
        in_hours=templates["in_hours"],
        out_of_hours=templates["out_of_hours"],
        crisis=templates["crisis"],
        time_format=templates["time_format"],
        date_format=templates["date_format"],
        expected=MappingProxyType(phrase_groups["expected"]),
        back_at=MappingProxyType(phrase_groups["back_at"]),
        weekdays=names["weekdays"],
        months=names["months"],
    )
    try:  # format specs such as {hour:02d} are allowed, so try every template with sample values
        render_sample(pack, Variant.IN_HOURS)
    except (ValueError, TypeError, IndexError, KeyError) as err:
        raise fail(base, f"a template does not render: {err}") from err
    return pack


def _checked_template(
    value: Any, path: str, allowed: frozenset[str], required: frozenset[str], fail: Fail
) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(path, "required, a non-empty string")
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
    except ValueError as err:
        raise fail(path, f"{err} (write a literal brace as {{{{ or }}}})") from err
    for name in sorted(fields):
        if name not in allowed:
            hint = ", ".join("{" + f + "}" for f in sorted(allowed)) or "no placeholders"
            raise fail(path, f"unknown placeholder {{{name}}} (allowed: {hint})")
    missing = sorted(required - fields)
    if missing:
        raise fail(path, "must contain " + ", ".join("{" + f + "}" for f in missing))
    return value


def render_sample(pack: LanguagePack, variant: Variant) -> str:
    """The template rendered with typical (longish) values, to check it renders and stays short."""
    time_text = pack.time_format.format(hour=10, minute=30)
    date_text = pack.date_format.format(day=30, month=max(pack.months, key=len))
    values = {"time": time_text, "weekday": max(pack.weekdays, key=len), "date": date_text, "minutes": 45, "hours": 3}
    expected = max((p.format(**values) for p in pack.expected.values()), key=len)
    back_at = max((p.format(**values) for p in pack.back_at.values()), key=len)
    pack.crisis.format(status_line=_SAMPLE_STATUS_LINE)
    return compose(
        pack, variant, customer_name=_SAMPLE_NAME, reference=_SAMPLE_REFERENCE, expected=expected, back_at=back_at
    )
