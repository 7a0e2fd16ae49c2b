"""Answers in every form: digits, number words in six languages, stars, keycaps, button payloads,
a score followed by a comment; and what is not an answer."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.feedback.answers import _WORDS_BY_LANGUAGE, Answer, parse_answer, payload_for
from chalicelib.feedback.config import SurveyKind

CSAT, NPS = SurveyKind.CSAT, SurveyKind.NPS


@pytest.mark.parametrize(("text", "kind", "expected"), [
    ("5", CSAT, Answer(5)),
    (" 4 ", CSAT, Answer(4)),
    ("cinque", CSAT, Answer(5)),
    ("Cinque!", CSAT, Answer(5)),
    ("⭐⭐⭐⭐", CSAT, Answer(4)),
    ("⭐️⭐️⭐️", CSAT, Answer(3)),
    ("★★★★★ perfetto", CSAT, Answer(5, "perfetto")),
    ("10 great service", NPS, Answer(10, "great service")),
    ("9 - quick and kind", NPS, Answer(9, "quick and kind")),
    ("4/5", CSAT, Answer(4)),
    ("8 out of 10, thanks", NPS, Answer(8, "thanks")),
    ("3 su 5", CSAT, Answer(3)),
    ("5️⃣", CSAT, Answer(5)),
    ("🔟", NPS, Answer(10)),
    ("zehn", NPS, Answer(10)),
    ("fünf", CSAT, Answer(5)),
    ("funf", CSAT, Answer(5)),
    ("três", CSAT, Answer(3)),
    ("dix !", NPS, Answer(10)),
    ("cinque, ottimo servizio", CSAT, Answer(5, "ottimo servizio")),
    ("0", NPS, Answer(0)),
    ("omnihub-feedback:csat:2", CSAT, Answer(2)),
])
def test_answers_in_every_form(text: str, kind: SurveyKind, expected: Answer) -> None:
    assert parse_answer(text, kind) == expected


@pytest.mark.parametrize(("text", "kind"), [
    ("I have 2 more questions", CSAT),
    ("5000 euros were charged", CSAT),
    ("0", CSAT),  # CSAT is 1-5
    ("6", CSAT),
    ("11", NPS),
    ("3.5", CSAT),
    ("5th of May", CSAT),
    ("un problème avec ma commande", CSAT),
    ("uno dei vostri tecnici", CSAT),
    ("3/10", CSAT),  # another scale: ambiguous
    ("STOP", CSAT),
    ("", CSAT),
    ("⭐" * 6, CSAT),
    ("omnihub-feedback:nps:5", CSAT),  # a payload of another survey
    ("omnihub-feedback:csat:9", CSAT),
    ("x" * 5000, CSAT),
])
def test_what_is_not_an_answer(text: str, kind: SurveyKind) -> None:
    assert parse_answer(text, kind) is None


def test_a_button_payload_wins_over_the_button_title() -> None:
    assert parse_answer("Very good ⭐⭐⭐⭐⭐", CSAT, payload="omnihub-feedback:csat:4") == Answer(4)
    assert parse_answer("Rate", CSAT, payload="some-other-bot-payload") is None


kinds = st.sampled_from([CSAT, NPS])


@given(kinds, st.data())
def test_every_score_of_the_scale_in_digits_is_read_back(kind: SurveyKind, data: st.DataObject) -> None:
    low, high = kind.scale
    score = data.draw(st.integers(low, high))
    padding = data.draw(st.sampled_from(["", " ", "\n", "  "]))
    assert parse_answer(f"{padding}{score}{padding}", kind) == Answer(score)
    assert parse_answer(payload_for(kind, score), kind) == Answer(score)
    assert parse_answer("anything", kind, payload=payload_for(kind, score)) == Answer(score)


@given(st.sampled_from(sorted(_WORDS_BY_LANGUAGE)), st.data())
def test_number_words_of_six_languages(language: str, data: st.DataObject) -> None:
    score = data.draw(st.integers(0, 10))
    word = _WORDS_BY_LANGUAGE[language][score]
    styled = data.draw(st.sampled_from([word, word.upper(), word.capitalize(), f"{word}!", f"{word}."]))
    expected = Answer(score) if score >= 1 else None
    assert parse_answer(styled, NPS) == Answer(score)
    assert parse_answer(styled, CSAT) == (expected if score <= 5 else None)


@given(st.integers(1, 5), st.sampled_from(["⭐", "★", "⭐\ufe0f"]))
def test_stars_count(stars: int, star: str) -> None:
    assert parse_answer(star * stars, CSAT) == Answer(stars)


comments = st.text(st.characters(categories=["L", "Zs"]), min_size=1, max_size=40).filter(lambda t: t.strip())


@given(kinds, st.data(), comments)
def test_a_score_then_a_comment(kind: SurveyKind, data: st.DataObject, comment: str) -> None:
    low, high = kind.scale
    score = data.draw(st.integers(low, high))
    separator = data.draw(st.sampled_from([" ", ", ", " - ", ": ", "\n"]))
    assert parse_answer(f"{score}{separator}{comment}", kind) == Answer(score, comment.strip())


@given(st.text(max_size=300), kinds)
def test_any_text_is_an_answer_in_scale_or_none(text: str, kind: SurveyKind) -> None:
    answer = parse_answer(text, kind)
    if answer is not None:
        low, high = kind.scale
        assert low <= answer.score <= high
        assert answer.comment is None or 0 < len(answer.comment) <= 1000


@given(st.integers(0, 10**6), kinds)
def test_a_number_outside_the_scale_is_never_an_answer(number: int, kind: SurveyKind) -> None:
    low, high = kind.scale
    answer = parse_answer(f"{number} euro", kind)
    assert (answer is not None) == (low <= number <= high)
