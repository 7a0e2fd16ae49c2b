"""A parsed mail as the hub's events: one event per mail, email identity, string metadata, attachments."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.core.model import Channel, DeliveryStatus, EventKind, InboundEvent
from chalicelib.email.events import (
    MAX_EVENT_TEXT_CHARS,
    EmailDelivery,
    attachment_object_key,
    email_events,
    inbox_namespace,
)
from chalicelib.email.mime import parse_email
from tests.unit.email.payloads import RECEIVED_AT, eml


def events_of(name: str, provider: str = "ses", **extra: object) -> list[InboundEvent]:
    return email_events(EmailDelivery(provider, parse_email(eml(name)), RECEIVED_AT, **extra))  # type: ignore[arg-type]


def test_a_mail_is_one_message_event_with_the_email_identity() -> None:
    [event] = events_of("multipart_pdf.eml", provider_event_id="d6iitobk75ur44p8kdnnp7g2n800")
    assert event.kind is EventKind.MESSAGE and event.channel is Channel.EMAIL
    assert event.event_id == "CAH7yN8sQ1Z4vGx=P0kX9q3dLr2m+Fw@mail.gmail.com"
    assert event.sender is not None and event.sender.identity.key == "email#mario.rossi@gmail.com"
    assert event.sender.name == "Mario Rossi"
    assert event.text is not None and event.text.startswith("Hello,\n\nthe attached invoice")
    assert event.occurred_at == "2024-06-03T08:12:19.000Z"
    assert event.provider_message_id == "d6iitobk75ur44p8kdnnp7g2n800"
    metadata = event.metadata
    assert all(isinstance(v, str) for v in metadata.values())
    assert metadata["message_id"] == event.event_id
    assert metadata["mailbox"] == "support@omnihub.example"
    assert metadata["subject"] == "Invoice 2024-118 is wrong"
    assert "auto_reply" not in metadata
    [attachment] = event.attachments
    assert attachment.kind == "document" and attachment.url is None
    assert attachment.media_id is not None and attachment.media_id.startswith("sha256:")
    assert (attachment.name, attachment.content_type, attachment.size) == ("invoice-2024-118.pdf",
                                                                           "application/pdf", 218)
    assert InboundEvent.from_dict(event.to_dict()) == event


def test_a_reply_carries_the_new_text_and_the_threading_metadata() -> None:
    [event] = events_of("reply_gmail.eml")
    assert event.text == "Thanks, here is my customer number: 88231."
    assert event.metadata["in_reply_to"] == "0102018fe4a1b2c3-oh-ack-01@eu-west-1.amazonses.com"
    assert event.metadata["references"] == ("CAH7yN8sQ1Z4vGx=P0kX9q3dLr2m+Fw@mail.gmail.com "
                                            "0102018fe4a1b2c3-oh-ack-01@eu-west-1.amazonses.com")
    assert event.metadata["text_full"].startswith("Thanks, here is my customer number")
    assert "[OH-7K3Q9]" in event.metadata["subject"]


def test_the_same_mail_to_two_mailboxes_is_one_event_id() -> None:
    first = events_of("non_ascii_names.eml", mailbox="support@omnihub.example")[0]
    second = events_of("non_ascii_names.eml", provider="mailgun", mailbox="billing@omnihub.example")[0]
    assert first.event_id == second.event_id
    assert inbox_namespace(first) == inbox_namespace(second) == "email"
    assert first.metadata["mailbox"] != second.metadata["mailbox"]


def test_out_of_office_is_flagged_for_the_acknowledgment_flow() -> None:
    [event] = events_of("out_of_office.eml")
    assert event.kind is EventKind.MESSAGE
    assert event.metadata["auto_reply"] == "true"  # what acknowledgments/flow.py reads
    assert "auto_submitted" in event.metadata["auto_reply_reasons"]


def test_a_bounce_is_a_flagged_message_and_a_failed_delivery_status() -> None:
    message, status = events_of("bounce_dsn.eml")
    assert message.metadata["auto_reply"] == "true" and message.metadata["bounce"] == "hard"
    assert status.kind is EventKind.DELIVERY_STATUS and status.status is DeliveryStatus.FAILED
    assert status.provider_message_id == "0102018ff1111111-oh-reply-05@eu-west-1.amazonses.com"
    assert status.error_code == "5.1.1"
    assert status.event_id == message.event_id + "#dsn"
    assert status.metadata["bounce_recipient"] == "ghost.customer@example.com"


def test_inline_images_are_attachments_of_their_own_kind() -> None:
    [event] = events_of("inline_image.eml")
    assert [a.kind for a in event.attachments] == ["inline_image"]


def test_a_mail_without_sender_is_kept_as_unknown() -> None:
    parsed = parse_email(b"To: support@omnihub.example\r\nSubject: who?\r\nMessage-ID: <anon@x>\r\n\r\nhello\r\n")
    [event] = email_events(EmailDelivery("sendgrid", parsed, RECEIVED_AT))
    assert event.kind is EventKind.UNKNOWN and event.metadata["reason"] == "invalid_sender"
    assert event.event_id == "anon@x"


def test_envelope_sender_stands_in_for_a_missing_from() -> None:
    parsed = parse_email(b"To: support@omnihub.example\r\n\r\nhello\r\n", envelope_sender="bot@example.com")
    [event] = email_events(EmailDelivery("ses", parsed, RECEIVED_AT))
    assert event.sender is not None and event.sender.identity.address == "bot@example.com"


def test_an_empty_mail_uses_its_subject_and_says_so() -> None:
    parsed = parse_email(b"From: a@example.com\r\nSubject: Call me\r\n\r\n")
    [event] = email_events(EmailDelivery("ses", parsed, RECEIVED_AT))
    assert event.text == "Call me" and event.metadata["empty_body"] == "true"


def test_long_text_is_capped_and_a_future_date_is_not_believed() -> None:
    raw = (b"From: a@example.com\r\nDate: Fri, 1 Jan 2100 00:00:00 +0000\r\n\r\n" + b"word " * 10_000)
    [event] = email_events(EmailDelivery("ses", parse_email(raw), RECEIVED_AT))
    assert event.text is not None and len(event.text) == MAX_EVENT_TEXT_CHARS
    assert event.metadata["text_truncated"] == "true"
    assert event.occurred_at == RECEIVED_AT
    assert "text_full" not in event.metadata


def test_provider_verdicts_and_truncation_reach_metadata() -> None:
    parsed = parse_email(eml("multipart_pdf.eml"))
    parsed = replace(parsed, truncation=("mime_parts_over_limit",))
    [event] = email_events(EmailDelivery("ses", parsed, RECEIVED_AT, verdicts={"spf": "PASS", "dkim": "FAIL"}))
    assert (event.metadata["spf"], event.metadata["dkim"]) == ("PASS", "FAIL")
    assert event.metadata["truncated"] == "true"


def test_attachment_object_key_is_per_message_and_content_addressed() -> None:
    key = attachment_object_key("CAH7yN8@mail.gmail.com", "ab" * 32)
    assert key.startswith("attachments/email/") and key.endswith("/" + "ab" * 32)
    assert key == attachment_object_key("CAH7yN8@mail.gmail.com", "ab" * 32)
    assert key != attachment_object_key("other@mail.gmail.com", "ab" * 32)


def test_plus_address_tag_is_kept_for_threading() -> None:
    parsed = parse_email(eml("reply_gmail.eml"), envelope_recipients=["support+OH-7K3Q9@omnihub.example"])
    [event] = email_events(EmailDelivery("postmark", parsed, RECEIVED_AT))
    assert event.metadata["mailbox"] == "support+oh-7k3q9@omnihub.example"
    assert event.metadata["mailbox_tag"] == "oh-7k3q9"
