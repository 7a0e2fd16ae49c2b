from __future__ import annotations

import pytest

from chalicelib.email.loops import looks_like_auto_reply


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto-Submitted": "auto-replied"},
        {"auto-submitted": "auto-generated"},
        {"Precedence": "bulk"},
        {"Precedence": "Junk"},
        {"Precedence": "list"},
        {"X-Autoreply": "yes"},
        {"List-Id": "<news.example.com>"},
        {"Return-Path": "<>"},
        {"Content-Type": "multipart/report; report-type=delivery-status"},
        {"From": "MAILER-DAEMON@mx.example.com"},
    ],
)
def test_automatic_email_is_recognized(headers: dict[str, str]) -> None:
    assert looks_like_auto_reply(headers)


def test_a_person_writing_is_not_an_auto_reply() -> None:
    assert not looks_like_auto_reply({"Auto-Submitted": "no", "From": "maria@example.com", "Subject": "Order"})
    assert not looks_like_auto_reply({})


def test_the_envelope_sender_counts_when_given() -> None:
    assert looks_like_auto_reply({"From": "maria@example.com"}, sender="postmaster@mx.example.com")
    assert not looks_like_auto_reply({"From": "MAILER-DAEMON@mx.example.com"}, sender="maria@example.com")
