"""The one MIME path: real mails from Gmail, Outlook, Apple Mail and bounces, and hostile ones."""

from __future__ import annotations

import hashlib
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.email.headers import normalize_message_id
from chalicelib.email.mime import MimeLimits, PartAttachment, decode_bytes, parse_email, parse_email_parts
from chalicelib.providers.base import PayloadError
from tests.unit.email.payloads import FIXTURES, eml


def no_surrogates(text: str) -> bool:
    return not any(0xD800 <= ord(ch) <= 0xDFFF for ch in text)


# --- real mails ---------------------------------------------------------------------------------


def test_gmail_mail_with_a_pdf_attachment() -> None:
    mail = parse_email(eml("multipart_pdf.eml"))
    pdf = (FIXTURES / "invoice-2024-118.pdf").read_bytes()
    assert mail.message_id == "CAH7yN8sQ1Z4vGx=P0kX9q3dLr2m+Fw@mail.gmail.com"
    assert mail.dedupe_key == mail.message_id
    assert mail.sender is not None and mail.sender.address == "mario.rossi@gmail.com"
    assert mail.sender.name == "Mario Rossi"
    assert [a.address for a in mail.to] == ["support@omnihub.example"]
    assert mail.delivered_to == ("support@omnihub.example",)
    assert mail.subject == "Invoice 2024-118 is wrong"
    assert mail.date == "2024-06-03T08:12:19.000Z"
    assert mail.body_source == "text"  # text/plain preferred over the HTML alternative
    assert "118,00 € but my plan costs 98,00 €" in mail.text  # quoted-printable soft break joined
    [attachment] = mail.attachments
    assert (attachment.filename, attachment.content_type, attachment.size) == ("invoice-2024-118.pdf",
                                                                               "application/pdf", len(pdf))
    assert attachment.sha256 == hashlib.sha256(pdf).hexdigest()
    assert attachment.content == pdf
    assert mail.inline_images == ()
    assert not mail.loop.automated
    assert not mail.truncated


def test_html_only_mail_becomes_readable_text() -> None:
    mail = parse_email(eml("html_only.eml"))
    assert mail.body_source == "html"
    assert mail.text.startswith("Buongiorno,\n\nvorrei il rimborso dell'ordine 5521: il prodotto è arrivato rotto.")
    assert "- Ordine: 5521\n- Data: 28/05/2024" in mail.text
    assert "Le foto sono qui (https://photos.example/album/77)." in mail.text
    assert "track(" not in mail.text and "color" not in mail.text and "Refund" not in mail.text  # script/style/title
    assert "<" not in mail.text


def test_gmail_reply_keeps_only_the_new_text_and_the_threading_headers() -> None:
    mail = parse_email(eml("reply_gmail.eml"))
    assert mail.new_text == "Thanks, here is my customer number: 88231."
    assert mail.reply.quoted.startswith("On Mon, 3 Jun 2024 at 10:12, Omnihub Support")
    # In-Reply-To's domain was upper-case: normalized like the id in References.
    assert mail.in_reply_to == "0102018fe4a1b2c3-oh-ack-01@eu-west-1.amazonses.com"
    assert mail.references == ("CAH7yN8sQ1Z4vGx=P0kX9q3dLr2m+Fw@mail.gmail.com",
                               "0102018fe4a1b2c3-oh-ack-01@eu-west-1.amazonses.com")


def test_outlook_reply_cuts_at_the_original_message_header_block() -> None:
    mail = parse_email(eml("reply_outlook.eml"))
    assert mail.new_text.endswith("Can you send the tracking number?\n\nBest regards\nAnna Schmidt")
    assert "shipped today" not in mail.new_text
    assert mail.sender is not None and mail.sender.name == "Schmidt, Anna"
    assert mail.to[0].name is None  # "support@omnihub.example" <support@omnihub.example>


def test_italian_reply_from_an_iphone() -> None:
    mail = parse_email(eml("reply_italian.eml"))
    assert mail.new_text == "Buonasera, il pacco non è ancora arrivato.\nPotete verificare?"
    assert mail.reply.signature == "Inviato da iPhone"
    assert mail.reply.quoted.startswith("Il giorno 6 giu 2024")
    assert mail.subject == "Re: La sua richiesta è stata ricevuta [OH-9XK2P]"
    assert mail.sender is not None and mail.sender.name == "Giulia Ferrà"


def test_non_ascii_subject_and_names_in_rfc2047_b_and_q() -> None:
    mail = parse_email(eml("non_ascii_names.eml"))
    assert mail.subject == "Problema con l'ordine n° 123 – urgente 🚨"
    assert mail.sender is not None
    assert (mail.sender.name, mail.sender.address) == ("Jürgen Müller", "juergen.mueller@example.de")
    assert [(a.name, a.address) for a in mail.to] == [("日本サポート", "support@omnihub.example"),
                                                      ("François", "billing@omnihub.example")]
    assert mail.cc[0].name == "Анна"
    assert mail.text == "Grüße aus München – the € sign matters."  # windows-1252 body
    assert mail.date == "2024-06-07T10:30:00.000Z"


def test_forwarded_mail_keeps_the_forwarded_content() -> None:
    mail = parse_email(eml("forwarded.eml"))
    assert mail.reply.is_forward
    assert "Your order 7781 was delivered on June 7." in mail.new_text
    assert not mail.loop.automated  # a no-reply address inside the forwarded text is not the sender


def test_inline_image_is_kept_apart_from_attachments() -> None:
    mail = parse_email(eml("inline_image.eml"))
    assert mail.attachments == ()
    [image] = mail.inline_images
    assert (image.filename, image.content_type, image.content_id) == ("image001.png", "image/png", "ii_abc123")
    assert image.content == (FIXTURES / "pixel.png").read_bytes()
    assert mail.text == "The app shows this:\n\n[error screenshot]"


def test_mail_without_message_id_gets_a_content_key_that_survives_relays() -> None:
    raw = eml("no_message_id.eml")
    mail = parse_email(raw)
    assert mail.message_id is None
    assert mail.dedupe_key.startswith("sha256:") and len(mail.dedupe_key) == 7 + 64
    relayed = b"Received: from relay.example by mx.example; Wed, 12 Jun 2024 14:00:03 +0000\r\n" \
              b"Delivered-To: support@omnihub.example\r\n" + raw
    assert parse_email(relayed).dedupe_key == mail.dedupe_key
    edited = raw.replace(b"9912", b"9913")
    assert parse_email(edited).dedupe_key != mail.dedupe_key


def test_header_injection_never_reaches_a_value() -> None:
    mail = parse_email(eml("header_injection.eml"))
    assert "\n" not in mail.subject and "\r" not in mail.subject
    assert mail.subject == "Hello Bcc: everyone@example.com injected body"
    assert mail.sender is not None and mail.sender.address == "eve@evil.example"  # the first From counts
    assert "\n" not in (mail.sender.name or "")
    assert mail.references == ("a@x.example", "b@x.example")  # folded header read as one value


def test_envelope_recipients_are_the_mailbox() -> None:
    mail = parse_email(eml("non_ascii_names.eml"), envelope_recipients=["Billing@Omnihub.Example"])
    assert mail.recipients == ("billing@omnihub.example",)
    assert mail.mailbox() == "billing@omnihub.example"
    plain = parse_email(eml("non_ascii_names.eml"))
    assert plain.mailbox({"billing@omnihub.example"}) == "billing@omnihub.example"
    assert plain.mailbox() == "support@omnihub.example"


@pytest.mark.parametrize(("raw", "expected"), [
    ("<AbC.123@Mail.Example.COM>", "AbC.123@mail.example.com"),
    ("  <x@y.z> (comment)", "x@y.z"),
    ("bare-id@host.example", "bare-id@host.example"),
    ("", None),
    ("<" + "a" * 300 + "@x.example>", "mid-sha256:" + hashlib.sha256(("a" * 300 + "@x.example").encode()).hexdigest()),
])
def test_message_id_normalization(raw: str, expected: str | None) -> None:
    assert normalize_message_id(raw) == expected


# --- provider fields through the same path -------------------------------------------------------


def test_parsed_fields_give_the_same_mail_as_the_raw_message() -> None:
    raw_mail = parse_email(eml("multipart_pdf.eml"))
    head = eml("multipart_pdf.eml").split(b"\r\n\r\n", 1)[0]
    pdf = (FIXTURES / "invoice-2024-118.pdf").read_bytes()
    parts_mail = parse_email_parts(headers=head, text=raw_mail.text, html=None,
                                   attachments=[PartAttachment(pdf, "invoice-2024-118.pdf", "application/pdf")])
    for field in ("dedupe_key", "message_id", "subject", "sender", "to", "date", "text"):
        assert getattr(parts_mail, field) == getattr(raw_mail, field), field
    assert [a.sha256 for a in parts_mail.attachments] == [a.sha256 for a in raw_mail.attachments]


def test_header_pairs_cannot_smuggle_a_header() -> None:
    mail = parse_email_parts(headers=[("From", "a@example.com"), ("Subject", "hi\r\nBcc: x@example.com"),
                                      ("Bad Name", "x"), ("Auto-Submitted", "no")], text="hello", html=None)
    assert mail.subject == "hi Bcc: x@example.com"
    assert not mail.loop.automated


# --- hostile input -------------------------------------------------------------------------------


def _wide(parts: int) -> bytes:
    head = b'From: a@example.com\r\nMessage-ID: <wide@x>\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
    body = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(parts))
    return head + body + b"--b--\r\n"


def _deep(levels: int) -> bytes:
    raw = b"From: a@example.com\r\nMessage-ID: <deep@x>\r\n"
    for level in range(levels):
        raw += b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (level, level)
    raw += b"Content-Type: text/plain\r\n\r\nthe bottom\r\n"
    for level in reversed(range(levels)):
        raw += b"--b%d--\r\n" % level
    return raw


def test_thousands_of_parts_are_cut_before_the_parser_and_stay_readable() -> None:
    started = time.monotonic()
    mail = parse_email(_wide(20_000))  # ~700 KB: 8 s through the bare stdlib parser
    assert time.monotonic() - started < 5
    assert mail.truncated and "mime_parts_over_limit" in mail.truncation
    assert mail.text.startswith("part 0\n\npart 1")
    assert mail.message_id == "wide@x"


def test_deep_nesting_is_cut_before_the_parser_recursion_limit() -> None:
    mail = parse_email(_deep(3_000))  # RecursionError in the bare stdlib parser
    assert mail.truncated and "mime_structure_over_limit" in mail.truncation
    assert mail.message_id == "deep@x"


def test_depth_within_the_structure_cap_is_walked_to_the_depth_cap() -> None:
    mail = parse_email(_deep(30), limits=MimeLimits(max_depth=5))
    assert "mime_depth_over_limit" in mail.truncation
    assert mail.text == ""
    assert parse_email(_deep(10)).text == "the bottom"


def test_header_bomb_keeps_the_first_fields() -> None:
    many = b"".join(b"X-Spam-%d: y\r\n" % i for i in range(10_000))
    huge = b"X-Huge: " + b"a" * 100_000 + b"\r\n"
    raw = b"From: a@example.com\r\nMessage-ID: <hb@x>\r\n" + huge + many + b"\r\nhello\r\n"
    mail = parse_email(raw)
    assert "headers_over_limit" in mail.truncation
    assert mail.message_id == "hb@x" and mail.text == "hello"


def test_too_many_attachments_are_dropped_not_the_mail() -> None:
    parts = b"".join(b"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; "
                     b'filename="f%d.bin"\r\n\r\nxx\r\n' % i for i in range(30))
    raw = (b'From: a@example.com\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
           b"Content-Type: text/plain\r\n\r\nsee files\r\n" + parts + b"--b--\r\n")
    mail = parse_email(raw, limits=MimeLimits(max_attachments=10))
    assert len(mail.attachments) == 10 and "attachments_over_limit" in mail.truncation
    assert mail.text == "see files"


def test_oversized_or_empty_message_is_refused() -> None:
    with pytest.raises(PayloadError):
        parse_email(b"From: a@example.com\r\n\r\n" + b"x" * 2_000, limits=MimeLimits(max_message_bytes=1_000))
    with pytest.raises(PayloadError):
        parse_email(b"  \r\n")


def test_bad_charsets_and_8bit_headers_are_replaced_never_raised() -> None:
    raw = (b"From: =?x-unknown?q?J=FCrg?= <j@example.com>\r\nSubject: caf\xe9 \xff\xfe\r\n"
           b"Content-Type: text/plain; charset=utf-7\r\n\r\n+2D3cAA- and +2D0-\r\n")
    mail = parse_email(raw)
    for value in (mail.subject, mail.text, mail.sender.name if mail.sender else ""):
        assert no_surrogates(value or "")
    assert "\ufffd" in mail.subject


@pytest.mark.parametrize("charset", ["rot13", "zlib", "idna", "punycode", "unicode_escape", "no-such-charset", ""])
def test_decode_bytes_never_uses_a_dangerous_or_unknown_codec(charset: str) -> None:
    assert decode_bytes("Grüße \\ud83d".encode(), charset) == "Grüße \\ud83d"
    assert decode_bytes(b"caf\xe9", charset) == "café"  # not UTF-8: read as Windows-1252


def test_multipart_without_boundary_and_garbage_base64_do_not_raise() -> None:
    no_boundary = b"From: a@example.com\r\nContent-Type: multipart/mixed\r\n\r\njust text\r\n"
    assert "just text" in parse_email(no_boundary).text
    garbage = (b'From: a@example.com\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
               b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
               b'Content-Disposition: attachment; filename="../../etc/passwd"\r\n\r\n!!!%%%***\r\n--b--\r\n')
    mail = parse_email(garbage)
    assert mail.attachments[0].filename == "passwd"  # never a path


_FIXTURE_NAMES = sorted(p.name for p in FIXTURES.glob("*.eml"))


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_FIXTURE_NAMES), st.data())
def test_mangled_real_mails_never_raise_anything_but_payload_error(name: str, data: st.DataObject) -> None:
    raw = bytearray(eml(name))
    for _ in range(data.draw(st.integers(0, 20))):
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position:position + data.draw(st.integers(0, 40))] = data.draw(st.binary(max_size=40))
    try:
        mail = parse_email(bytes(raw))
    except PayloadError as err:
        assert err.__cause__ is None, "a crash turned into PayloadError by the guard"
        return
    for value in (mail.subject, mail.text, mail.dedupe_key, *(a.filename or "" for a in mail.attachments)):
        assert no_surrogates(value)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=3_000))
def test_random_bytes_never_raise_anything_but_payload_error(raw: bytes) -> None:
    try:
        parse_email(raw)
    except PayloadError as err:
        assert err.__cause__ is None, "a crash turned into PayloadError by the guard"
