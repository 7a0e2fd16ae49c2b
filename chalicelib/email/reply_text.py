"""The new text of a reply, apart from the quoted earlier message and from the signature.

Pure functions over plain text (HTML bodies are converted first, with ``<blockquote>`` turned into
``> `` lines). What counts as the start of the quoted part, at the beginning of a line:

- an attribution line, possibly wrapped over up to three lines by the client: ``On … wrote:``,
  ``Il giorno … ha scritto:`` / ``Il … ha scritto:``, ``Le … a écrit :``, ``Am … schrieb …:``,
  ``El … escribió:``, ``Em … escreveu:``, ``Op … schreef …:``;
- Outlook's separators: ``-----Original Message-----`` and its translations, or a header block
  ``From: …`` followed within four lines by ``Sent:``/``Date:``/``To:``/``Subject:`` (and the
  Italian, French, German and Spanish labels), optionally after a ``____`` rule;
- a line starting with ``>``.

A forwarded message (``---------- Forwarded message ---------``, ``Begin forwarded message:``) is
*not* cut: what a customer forwards to support is the content of their request.

The signature is cut at a ``-- `` line (RFC 3676's delimiter; a bare ``--`` too) or at a mobile
client's line (``Sent from my iPhone``, ``Inviato da iPhone``, ``Envoyé de mon iPhone``, ``Von
meinem iPhone gesendet``, ``Enviado desde mi iPhone``, ``Get Outlook for iOS``…). When cutting
would leave nothing (a bottom-posted reply, a message that is only a quote), the non-quoted lines
are kept instead, so a customer's words are never dropped.

Why written here rather than taken from a library: ``email_reply_parser`` (GitHub's, MIT) knows
only English and is unmaintained; ``talon`` (Mailgun) pulls in lxml, regex models and numpy, far
too heavy for the webhook Lambda; ``mail-parser-reply`` depends on ``regex``. The rules above are a
few dozen lines, tested on real replies from Gmail, Outlook and Apple Mail in five languages.
Bounded: only the first :data:`MAX_LINES` lines are examined, and every pattern is linear.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_LINES = 5_000

_WROTE = re.compile(
    r"^\s*(?:"
    r"on\s.{1,300}\swrote\s?:"  # en (Gmail, Apple Mail, Thunderbird)
    r"|il\s.{1,300}\sha\sscritto\s?:"  # it
    r"|le\s.{1,300}\sa\s[ée]crit\s?:"  # fr ("a écrit :", with a (no-break) space before the colon)
    r"|am\s.{1,300}\sschrieb\b.{0,300}:"  # de ("Am 03.06.2024 um 10:00 schrieb Anna <a@b.de>:")
    r"|el\s.{1,300}\sescribi[óo]\s?:"  # es
    r"|em\s.{1,300}\sescreveu\s?:"  # pt
    r"|op\s.{1,300}\sschreef\b.{0,300}:"  # nl
    r")\s*$",
    re.IGNORECASE | re.DOTALL,
)
_ORIGINAL_MESSAGE = re.compile(
    r"^\s*-{2,}\s*(?:original message|messaggio originale|message d'origine|message original"
    r"|urspr[üu]ngliche nachricht|mensaje original|mensagem original|oorspronkelijk bericht)\s*-{2,}\s*$",
    re.IGNORECASE,
)
_FROM_LABEL = re.compile(r"^\s*\*?(?:from|da|de|von|van)\s?\*?\s?:\s*\S", re.IGNORECASE)
_HEADER_LABEL = re.compile(
    r"^\s*\*?(?:sent|date|to|subject|cc|inviato|data|a|oggetto|envoy[ée]|[àa]|objet|gesendet|datum|an|betreff"
    r"|enviado|fecha|para|asunto|verzonden|aan|onderwerp)\s?\*?\s?:",
    re.IGNORECASE,
)
_RULE = re.compile(r"^\s*_{8,}\s*$")
_QUOTED = re.compile(r"^\s*>")
_FORWARDED = re.compile(
    r"^\s*(?:-{2,}\s*(?:forwarded message|messaggio inoltrato|message transf[ée]r[ée]|weitergeleitete nachricht"
    r"|mensaje reenviado)\s*-{2,}|begin forwarded message:|inizio messaggio inoltrato:)\s*$",
    re.IGNORECASE,
)
_SIGNATURE_DELIMITER = re.compile(r"^--\s?$")
_MOBILE_SIGNATURE = re.compile(
    r"^\s*(?:sent from my\s.{1,40}|sent from (?:outlook|mail for windows|yahoo mail).{0,40}"
    r"|get outlook for (?:ios|android).{0,20}"
    r"|inviato da(?:l mio)?\s.{1,40}|envoy[ée] de mon\s.{1,40}|von meinem\s.{1,40}\sgesendet"
    r"|enviado desde mi\s.{1,40}|enviado do meu\s.{1,40}|verzonden vanaf mijn\s.{1,40})\s*$",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ReplyParts:
    """``new_text`` is what the sender wrote now; ``quoted`` and ``signature`` are what was cut."""

    new_text: str
    quoted: str = ""
    signature: str = ""
    is_forward: bool = False


def split_reply(text: str) -> ReplyParts:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    examined = lines[:MAX_LINES]
    is_forward = any(_FORWARDED.match(line) for line in examined)
    cut = _quote_start(examined)
    if cut is None:
        body, quoted = lines, []
    else:
        body, quoted = lines[:cut], lines[cut:]
    if not "\n".join(body).strip() and quoted:
        # Bottom-posted or interleaved reply: the sender's words are the lines that are not quoted.
        body = [line for line in lines if not _QUOTED.match(line)]
        quoted = [line for line in lines if _QUOTED.match(line)]
    body, signature = _cut_signature(body)
    return ReplyParts(
        new_text=_strip_blank(body),
        quoted=_strip_blank(quoted),
        signature=_strip_blank(signature),
        is_forward=is_forward,
    )


def _quote_start(lines: list[str]) -> int | None:
    for index, line in enumerate(lines):
        if _FORWARDED.match(line):
            return None  # everything after a forward marker is the forwarded content, kept
        if _QUOTED.match(line) or _ORIGINAL_MESSAGE.match(line):
            return index
        if _is_attribution(lines, index):
            return index
        if _is_outlook_header(lines, index):
            return index - 1 if index and _RULE.match(lines[index - 1]) else index
    return None


def _is_attribution(lines: list[str], index: int) -> bool:
    line = lines[index].strip()
    if not line or len(line) > 400 or line.split(None, 1)[0].lower() not in _ATTRIBUTION_WORDS:
        return False
    # Clients wrap long attribution lines ("On Mon, 3 Jun 2024 at 10:00, Mario Rossi <\nm@x.it> wrote:").
    for span in (1, 2, 3):
        candidate = " ".join(part.strip() for part in lines[index : index + span])
        if _WROTE.match(candidate):
            return True
    return False


_ATTRIBUTION_WORDS = frozenset({"on", "il", "le", "am", "el", "em", "op"})


def _is_outlook_header(lines: list[str], index: int) -> bool:
    if not _FROM_LABEL.match(lines[index]):
        return False
    following = [line for line in lines[index + 1 : index + 5] if line.strip()]
    return sum(1 for line in following if _HEADER_LABEL.match(line)) >= 2


def _cut_signature(lines: list[str]) -> tuple[list[str], list[str]]:
    for index, line in enumerate(lines):
        if _SIGNATURE_DELIMITER.match(line) or _MOBILE_SIGNATURE.match(line):
            if "\n".join(lines[:index]).strip():
                return lines[:index], lines[index:]
            return lines, []
    return lines, []


def _strip_blank(lines: list[str]) -> str:
    return "\n".join(line.rstrip() for line in lines).strip("\n").strip()
