"""Separating the new text from quoted replies and signatures, in five languages and as clients wrap them."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.email.reply_text import split_reply

QUOTE = "> the earlier message\n> second line"


@pytest.mark.parametrize("attribution", [
    "On Mon, 3 Jun 2024 at 10:12, Omnihub Support <support@omnihub.example> wrote:",
    "On Mon, Jun 3, 2024 at 10:12 AM Omnihub Support <support@omnihub.example>\nwrote:",  # Gmail wraps
    "On 3 Jun 2024, at 10:12, Omnihub <support@omnihub.example> wrote:",  # Apple Mail
    "Il giorno lun 3 giu 2024 alle ore 10:12 Assistenza <a@omnihub.example> ha scritto:",
    "Il 03/06/2024 10:12, Assistenza ha scritto:",
    "Le lun. 3 juin 2024 à 10:12, Support <support@omnihub.example> a écrit :",
    "Le lun. 3 juin 2024 à 10:12, Support <support@omnihub.example> a\u00a0écrit\u00a0:",
    "Am Mo., 3. Juni 2024 um 10:12 Uhr schrieb Support <support@omnihub.example>:",
    "El lun, 3 jun 2024 a las 10:12, Soporte (<soporte@omnihub.example>) escribió:",
    "Em seg., 3 de jun. de 2024 às 10:12, Suporte <s@omnihub.example> escreveu:",
    "Op ma 3 jun. 2024 om 10:12 schreef Support <support@omnihub.example>:",
])
def test_attribution_lines_start_the_quote(attribution: str) -> None:
    parts = split_reply(f"Thanks, it works now.\n\n{attribution}\n\n{QUOTE}\n")
    assert parts.new_text == "Thanks, it works now."
    assert parts.quoted.startswith(attribution.split("\n")[0])


@pytest.mark.parametrize("separator", [
    "-----Original Message-----",
    "-----Messaggio originale-----",
    "-----Ursprüngliche Nachricht-----",
    "________________________________\nFrom: Omnihub Support <support@omnihub.example>\n"
    "Sent: Tuesday, June 4, 2024 5:02 PM\nTo: Anna\nSubject: Your request",
    "Da: Assistenza <a@omnihub.example>\nInviato: martedì 4 giugno 2024 17:02\nA: Anna\nOggetto: Richiesta",
    "De : Support <s@omnihub.example>\nEnvoyé : mardi 4 juin 2024 17:02\nÀ : Anna\nObjet : Demande",
    "Von: Support <s@omnihub.example>\nGesendet: Dienstag, 4. Juni 2024 17:02\nAn: Anna\nBetreff: Anfrage",
    "*From:* Support <s@omnihub.example>\n*Sent:* Tuesday, June 4, 2024\n*To:* Anna",
])
def test_outlook_separators_start_the_quote(separator: str) -> None:
    parts = split_reply(f"Still waiting.\n\n{separator}\n\nHello Anna, shipped today.\n")
    assert parts.new_text == "Still waiting."
    assert "shipped today" in parts.quoted


def test_a_from_line_in_the_customers_own_words_is_not_a_quote() -> None:
    text = "From: my account page I cannot change the address.\nWhat should I do?"
    assert split_reply(text).new_text == text


@pytest.mark.parametrize(("signature", "expected"), [
    ("-- \nMario Rossi\nACME S.p.A.", "--\nMario Rossi\nACME S.p.A."),
    ("Sent from my iPhone", "Sent from my iPhone"),
    ("Inviato da iPhone", "Inviato da iPhone"),
    ("Inviato dal mio Galaxy", "Inviato dal mio Galaxy"),
    ("Envoyé de mon iPhone", "Envoyé de mon iPhone"),
    ("Von meinem iPhone gesendet", "Von meinem iPhone gesendet"),
    ("Enviado desde mi iPhone", "Enviado desde mi iPhone"),
    ("Get Outlook for iOS", "Get Outlook for iOS"),
])
def test_signatures_are_cut(signature: str, expected: str) -> None:
    parts = split_reply(f"Please call me back.\n\n{signature}\n")
    assert parts.new_text == "Please call me back."
    assert parts.signature == expected.rstrip()


def test_bottom_posted_reply_keeps_the_unquoted_lines() -> None:
    parts = split_reply("> Did the refund arrive?\nYes, yesterday.\n> Anything else?\nNo, thanks.")
    assert parts.new_text == "Yes, yesterday.\nNo, thanks."
    assert parts.quoted == "> Did the refund arrive?\n> Anything else?"


def test_a_message_that_is_only_a_signature_delimiter_keeps_its_text() -> None:
    assert split_reply("-- \nMario").new_text == "--\nMario"


def test_forwarded_messages_are_not_cut() -> None:
    text = "See below.\n\n---------- Forwarded message ---------\nFrom: Shop <a@shop.example>\n" \
           "Date: Fri, Jun 7, 2024\nSubject: Shipped\nTo: <me@example.com>\n\nDelivered."
    parts = split_reply(text)
    assert parts.is_forward and parts.new_text == text


def test_crlf_and_cr_line_ends() -> None:
    assert split_reply("Hi\r\n\r\n> old\r\n").new_text == "Hi"
    assert split_reply("Hi\r\r> old\r").new_text == "Hi"


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=3_000))
def test_never_raises_and_new_text_comes_from_the_input(text: str) -> None:
    parts = split_reply(text)
    lines = {line.strip() for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")}
    assert all(line.strip() in lines for line in parts.new_text.split("\n") if line.strip())


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(categories=("L", "N", "Zs"), exclude_characters="\u2028\u2029")
               | st.just("\n"), max_size=2_000))
def test_text_without_quote_or_signature_markers_is_kept_whole(text: str) -> None:
    expected = "\n".join(line.rstrip() for line in text.split("\n")).strip("\n").strip()
    assert split_reply(text).new_text == expected
