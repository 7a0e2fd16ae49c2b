"""Pure pieces of the senders: MIME threading, subjects, Retry-After, request bodies."""

from __future__ import annotations

from chalicelib.core.model import Attachment, Channel
from chalicelib.outbound import EmailThreading, build_mime_message, text_with_links
from chalicelib.outbound.http import retry_after_seconds
from chalicelib.outbound.senders.email_headers import subject_with_reference
from chalicelib.outbound.senders.meta import whatsapp_body


def test_subject_carries_the_reference_once():
    assert subject_with_reference("Order late", "ABC-1", reply=True) == "Re: Order late [ABC-1]"
    assert subject_with_reference("RE: Order late [ABC-1]", "ABC-1", reply=True) == "RE: Order late [ABC-1]"
    assert subject_with_reference(None, None, reply=False) == "Your request"


def test_mime_threading_headers(make_job):
    job = make_job(channel=Channel.EMAIL, provider="ses", to="a@example.com", reference="R-9",
                   email=EmailThreading(subject="Help", in_reply_to="<m2@x>", references=("<m1@x>", "<m2@x>")))
    message = build_mime_message(job, from_address="care@acme.example", reply_to="support@acme.example")
    assert message["In-Reply-To"] == "<m2@x>"
    assert message["References"] == "<m1@x> <m2@x>"
    assert message["Reply-To"] == "support@acme.example"
    assert message["Subject"] == "Re: Help [R-9]"
    assert message["Message-ID"].startswith("<") and message["Message-ID"].endswith("@acme.example>")


def test_unicode_subject_and_body_are_encoded(make_job):
    job = make_job(channel=Channel.EMAIL, provider="ses", to="a@example.com", text="Grazie, è tutto ok ✓",
                   email=EmailThreading(subject="Però"))
    raw = build_mime_message(job, from_address="care@acme.example").as_bytes()
    assert b"=?utf-8?" in raw
    assert b"Content-Type: text/plain; charset=\"utf-8\"" in raw


def test_retry_after_forms():
    assert retry_after_seconds("30") == 30
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now_epoch=1445412470) == 10
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_links_for_attachments_a_channel_cannot_carry(make_job):
    job = make_job(attachments=(Attachment(kind="document", url="https://x.example/f.pdf", name="Invoice"),
                                Attachment(kind="image", url="https://x.example/i.png")))
    assert text_with_links(job) == f"{job.text}\nInvoice: https://x.example/f.pdf\nhttps://x.example/i.png"


def test_whatsapp_single_media_goes_as_media_with_caption(make_job):
    job = make_job(channel=Channel.WHATSAPP, provider="meta",
                   attachments=(Attachment(kind="image", url="https://x.example/i.png"),))
    body = whatsapp_body(job)
    assert body["type"] == "image"
    assert body["image"] == {"link": "https://x.example/i.png", "caption": job.text}
