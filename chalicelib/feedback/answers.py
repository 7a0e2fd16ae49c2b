"""Understanding a survey answer, whatever its form. Pure.

Accepted, for a CSAT (1-5) or NPS (0-10) survey:
- a button's payload (``omnihub-feedback:csat:5``: Telegram callback data, a WhatsApp list reply id,
  a Messenger quick reply payload);
- a number at the start of the message, with an optional scale (``4/5``, ``4 out of 5``, ``8 su 10``)
  and any text after it as the comment (``10 great service``);
- a number word in English, Italian, Spanish, French, German or Portuguese (``cinque``, ``zehn``),
  alone or followed by punctuation and a comment (``cinque, ottimo``): a word such as ``un`` or
  ``uno`` also begins ordinary sentences, so a bare word followed by prose is not an answer;
- a keycap emoji (``5️⃣``, ``🔟``) or a run of stars (``⭐⭐⭐⭐``, ``★★★``).

Anything else (``I have 2 questions`` does not start with a number; ``5000 euros`` is out of scale)
is not an answer and the message is handled as a new message.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from chalicelib.feedback.config import SurveyKind

PAYLOAD_PREFIX = "omnihub-feedback"
MAX_ANSWER_CHARS = 2000  # a longer message is prose, not an answer
MAX_COMMENT_CHARS = 1000

NUMBER_WORDS: dict[str, int] = {}
_WORDS_BY_LANGUAGE = {
    "en": ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
    "it": ("zero", "uno", "due", "tre", "quattro", "cinque", "sei", "sette", "otto", "nove", "dieci"),
    "es": ("cero", "uno", "dos", "tres", "cuatro", "cinco", "seis", "siete", "ocho", "nueve", "diez"),
    "fr": ("zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix"),
    "de": ("null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun", "zehn"),
    "pt": ("zero", "um", "dois", "três", "quatro", "cinco", "seis", "sete", "oito", "nove", "dez"),
}
for _language_words in _WORDS_BY_LANGUAGE.values():
    for _number, _spelled in enumerate(_language_words):
        NUMBER_WORDS[_spelled] = _number
        NUMBER_WORDS[unicodedata.normalize("NFKD", _spelled).encode("ascii", "ignore").decode()] = _number  # funf
# Feminine and alternative forms.
NUMBER_WORDS.update({"una": 1, "une": 1, "uma": 1, "duas": 2, "ein": 1, "eine": 1, "fuenf": 5, "zwo": 2})

_STARS = frozenset("⭐★🌟✩☆")  # ☆/✩ are hollow stars, counted the same: a customer types what they have
_KEYCAP = re.compile(r"^([0-9])\ufe0f?\u20e3")
_TEN_KEYCAP = "🔟"
_DIGITS = re.compile(r"^(\d{1,3})(?![\d])")
_DECIMAL_TAIL = re.compile(r"^[.,]\d")
_SCALE = re.compile(r"^\s*(?:/|out of|of|su|di|de|sur|von|aus|em)\s*(\d{1,2})(?!\d)", re.IGNORECASE)
_SEPARATORS = " \t\r\n,.;:!-–—/)"
_WORD = re.compile(r"^([^\W\d_]+)")


@dataclass(frozen=True, slots=True)
class Answer:
    score: int
    comment: str | None = None


def payload_for(kind: SurveyKind, score: int) -> str:
    """A button's payload; :func:`parse_answer` reads it back."""
    return f"{PAYLOAD_PREFIX}:{kind.value}:{score}"


def parse_payload(payload: str | None, kind: SurveyKind) -> Answer | None:
    if not payload or not payload.startswith(PAYLOAD_PREFIX + ":"):
        return None
    _, payload_kind, score = ([*payload.split(":", 2), "", ""])[:3]
    if payload_kind != kind.value or not score.isascii() or not score.isdigit() or len(score) > 2:
        return None
    return _in_scale(int(score), kind, None)


def parse_answer(text: str | None, kind: SurveyKind, payload: str | None = None) -> Answer | None:
    """The answer a message gives to a ``kind`` survey, or None when it is not one."""
    from_payload = parse_payload(payload, kind) or parse_payload((text or "").strip(), kind)
    if from_payload is not None:
        return from_payload
    if not text or len(text) > MAX_ANSWER_CHARS:
        return None
    body = text.strip()  # the comment is kept as written
    for reader in (_stars, _keycap, _digits, _word):
        read = reader(body)
        if read is not None:
            score, rest, needs_separator = read
            return _with_comment(score, rest, kind, needs_separator)
    return None


def _stars(body: str) -> tuple[int, str, bool] | None:
    count, end = 0, 0
    for index, char in enumerate(body):
        if char in _STARS:
            count, end = count + 1, index + 1
        elif char == "\ufe0f" and count:
            end = index + 1
        elif char != " ":
            break
    return (count, body[end:], False) if count else None


def _keycap(body: str) -> tuple[int, str, bool] | None:
    if body.startswith(_TEN_KEYCAP):
        return 10, body[len(_TEN_KEYCAP):], False
    match = _KEYCAP.match(body)
    return (int(match.group(1)), body[match.end():], False) if match else None


def _digits(body: str) -> tuple[int, str, bool] | None:
    match = _DIGITS.match(body)
    if match is None or not match.group(1).isascii():
        return None
    rest = body[match.end():]
    if _DECIMAL_TAIL.match(rest):  # 3.5, 4,5: not a score of the scale
        return None
    return int(match.group(1)), rest, False


def _word(body: str) -> tuple[int, str, bool] | None:
    match = _WORD.match(body)
    if match is None:
        return None
    value = NUMBER_WORDS.get(unicodedata.normalize("NFC", match.group(1)).casefold())
    return (value, body[match.end():], True) if value is not None else None


def _with_comment(score: int, rest: str, kind: SurveyKind, needs_separator: bool) -> Answer | None:
    scale = _SCALE.match(rest)
    if scale is not None:
        if int(scale.group(1)) != kind.scale[1]:
            return None  # "3/10" to a 1-5 question: ambiguous, not taken
        rest = rest[scale.end():]
    if rest and rest[0].isalnum() and not rest[0].isspace():
        return None  # "5th", "2x": not a bare number
    stripped = rest.lstrip(_SEPARATORS + "\ufe0f")
    if stripped and needs_separator and scale is None and not _separated(rest):
        return None  # "uno dei vostri", "un problème": a number word beginning a sentence
    return _in_scale(score, kind, stripped[:MAX_COMMENT_CHARS].strip() or None)


def _separated(rest: str) -> bool:
    """Punctuation between the number word and what follows (``cinque, ottimo``; ``dix !``)."""
    head = rest.lstrip(" \t")
    return bool(head) and head[0] in ",.;:!-–—)\n"


def _in_scale(score: int, kind: SurveyKind, comment: str | None) -> Answer | None:
    low, high = kind.scale
    return Answer(score, comment) if low <= score <= high else None
