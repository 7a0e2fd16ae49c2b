from __future__ import annotations

import pytest

from chalicelib.core.language import is_language_tag, language_hint, match_language, normalize_language_tag


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("pt_BR", "pt-br"),
        (" PT-br ", "pt-br"),
        ("it", "it"),
        ("zh-Hant-TW", "zh-hant-tw"),
        ("", None),
        (None, None),
        ("klingon!", None),
        ("e", None),
        ("english", None),
        ("??", None),
    ],
)
def test_normalize_language_tag(raw: str | None, expected: str | None) -> None:
    assert normalize_language_tag(raw) == expected


def test_is_language_tag_wants_the_normalized_form() -> None:
    assert is_language_tag("pt-br")
    assert not is_language_tag("pt-BR")
    assert not is_language_tag("pt_br")


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        (("it", "en"), "it"),  # the first candidate wins
        ((None, "it-IT"), "it"),  # a regional tag falls back to its base
        (("pt-BR", "es"), "es"),  # an unsupported one gives way to the next, before the fallback
        (("pt-BR", None), "en"),
        (("bogus tag", "FR"), "fr"),
        ((), "en"),
    ],
)
def test_match_language(candidates: tuple[str | None, ...], expected: str) -> None:
    assert match_language(candidates, {"en", "it", "es", "fr"}, "en") == expected


def test_an_exact_regional_match_beats_the_base() -> None:
    assert match_language(["pt-BR"], {"pt", "pt-br"}, "en") == "pt-br"
    assert match_language(["pt-PT"], {"pt", "pt-br"}, "en") == "pt"


def test_language_hint_from_a_phone_or_a_country() -> None:
    assert language_hint("+393331234567") == "it"
    assert language_hint("+15551234567") == "en"
    assert language_hint("user-123", country="de") == "de"
    assert language_hint("+999123") is None
