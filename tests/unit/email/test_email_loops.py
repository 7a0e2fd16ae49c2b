"""Loop safety: auto-replies, bounces and bulk mail are recognized (and DSNs read) so nothing answers them."""

from __future__ import annotations

import pytest

from chalicelib.email.loops import BounceKind, classify, classify_status, looks_like_auto_reply
from chalicelib.email.mime import parse_email
from tests.unit.email.payloads import eml


@pytest.mark.parametrize(("headers", "reason"), [
    ({"Auto-Submitted": "auto-replied"}, "auto_submitted"),
    ({"Auto-Submitted": "auto-generated; owner-email=x@y"}, "auto_submitted"),
    ({"Precedence": "auto_reply"}, "precedence_auto_reply"),
    ({"X-Autoreply": "yes"}, "x_autoreply"),
    ({"X-Autorespond": "Vacation"}, "x_autorespond"),
    ({"X-Auto-Response-Suppress": "All"}, "x_auto_response_suppress"),
    ({"Return-Path": "<>"}, "null_return_path"),
    ({"Return-Path": "< >"}, "null_return_path"),
])
def test_auto_reply_signals(headers: dict[str, str], reason: str) -> None:
    verdict = classify(headers, sender="person@example.com")
    assert verdict.auto_reply and verdict.automated and reason in verdict.reasons


@pytest.mark.parametrize("headers", [
    {"Precedence": "bulk"}, {"Precedence": "junk"}, {"Precedence": "list"},
    {"List-Id": "<news.shop.example>"}, {"List-Unsubscribe": "<mailto:u@shop.example>"},
])
def test_bulk_signals(headers: dict[str, str]) -> None:
    verdict = classify(headers, sender="news@shop.example")
    assert verdict.bulk and verdict.automated and not verdict.auto_reply


@pytest.mark.parametrize("sender", ["MAILER-DAEMON@mx.example.com", "postmaster@example.com",
                                    "noreply@shop.example", "no-reply@shop.example", "do-not-reply@x.example"])
def test_daemon_and_no_reply_senders(sender: str) -> None:
    assert classify({}, sender=sender.lower()).automated


@pytest.mark.parametrize("headers", [{"Auto-Submitted": "no"}, {"Precedence": "first-class"}, {}])
def test_a_person_writing_is_not_automated(headers: dict[str, str]) -> None:
    verdict = classify(headers, sender="mario.rossi@gmail.com", envelope_sender="mario.rossi@gmail.com")
    assert not verdict.automated and verdict.reasons == ()


def test_envelope_null_sender_counts_like_an_empty_return_path() -> None:
    assert classify({}, sender="a@example.com", envelope_sender="").auto_reply


def test_out_of_office_fixture() -> None:
    verdict = parse_email(eml("out_of_office.eml")).loop
    assert verdict.auto_reply and verdict.bounce is None
    assert {"auto_submitted", "x_auto_response_suppress", "null_return_path"} <= set(verdict.reasons)


def test_dsn_is_a_hard_bounce_with_recipient_and_original_message_id() -> None:
    bounce = parse_email(eml("bounce_dsn.eml")).loop.bounce
    assert bounce is not None
    assert bounce.kind is BounceKind.HARD
    assert (bounce.status, bounce.action, bounce.recipient) == ("5.1.1", "failed", "ghost.customer@example.com")
    assert bounce.original_message_id == "0102018ff1111111-oh-reply-05@eu-west-1.amazonses.com"
    assert bounce.diagnostic is not None and "User unknown" in bounce.diagnostic


def test_dsn_with_a_returned_message_and_a_delay() -> None:
    raw = eml("bounce_dsn.eml").replace(b"Action: failed", b"Action: delayed").replace(b"Status: 5.1.1",
                                                                                       b"Status: 4.4.1")
    raw = raw.replace(b"Content-Type: text/rfc822-headers\r\n", b"Content-Type: message/rfc822\r\n")
    bounce = parse_email(raw).loop.bounce
    assert bounce is not None and bounce.kind is BounceKind.SOFT and bounce.action == "delayed"
    assert bounce.original_message_id == "0102018ff1111111-oh-reply-05@eu-west-1.amazonses.com"


@pytest.mark.parametrize(("status", "action", "kind"), [
    ("5.1.1", "failed", BounceKind.HARD), ("5.7.1", "failed", BounceKind.HARD),
    ("5.2.2", "failed", BounceKind.SOFT), ("5.3.4", "failed", BounceKind.SOFT),
    ("4.2.2", "failed", BounceKind.SOFT), ("5.1.1", "delayed", BounceKind.SOFT), (None, "failed", BounceKind.SOFT),
])
def test_bounce_classification(status: str | None, action: str, kind: BounceKind) -> None:
    assert classify_status(status, action) is kind


def test_a_report_without_a_readable_dsn_is_a_soft_bounce() -> None:
    verdict = classify({}, sender="mailer-daemon@x.example", content_type="multipart/report",
                       report_type="delivery-status")
    assert verdict.bounce is not None and verdict.bounce.kind is BounceKind.SOFT


def test_read_receipts_are_automated_but_not_bounces() -> None:
    verdict = classify({}, sender="a@example.com", content_type="multipart/report",
                       report_type="disposition-notification")
    assert verdict.automated and verdict.bounce is None


CASES = [
    ({"Auto-Submitted": "auto-replied"}, True), ({"Auto-Submitted": "no"}, False), ({"Precedence": "bulk"}, True),
    ({"Precedence": "list"}, True), ({"X-Autoreply": "yes"}, True), ({"List-Id": "<x>"}, True),
    ({"Return-Path": "<>"}, True),
    ({"Content-Type": "multipart/report; report-type=delivery-status; boundary=x"}, True),
    ({"From": "MAILER-DAEMON@mx.example"}, True), ({"From": "Mario <mario@example.com>"}, False), ({}, False),
]


@pytest.mark.parametrize(("headers", "automated"), CASES)
def test_the_headers_only_helper_reads_headers_by_name(headers: dict[str, str], automated: bool) -> None:
    assert looks_like_auto_reply(headers) is automated
