"""Email threading on the twins: a reply lands in the conversation it answers, by header (the mail the
hub received or sent) and by the reference in its subject, and a reply to a resolved case reopens it."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest

from chalicelib.adapters.memory import MemoryBus, MemoryStore, memory_repositories
from chalicelib.api.lifecycle import resolve_conversation
from chalicelib.conversations.email_threads import mail_thread_hints
from chalicelib.conversations.threading import thread_message
from chalicelib.core.ids import references_in
from chalicelib.core.model import Channel, ConversationStatus, InboundEvent
from chalicelib.core.ports import Repositories
from chalicelib.email import email_events, parse_email
from chalicelib.email.events import EmailDelivery
from chalicelib.outbound.delivery import OutboundPorts, deliver_outbound_job
from chalicelib.outbound.job import OutboundJob, OutboundKind
from chalicelib.outbound.rules import ChannelRulesConfig
from chalicelib.outbound.senders.ses import SesSender
from tests.unit.conftest import test_id_key as KEY
from tests.unit.email.payloads import RECEIVED_AT, eml


@pytest.fixture
def repos() -> Repositories:
    return memory_repositories(MemoryStore())


def mail_event(raw: bytes, received_at: str = RECEIVED_AT) -> InboundEvent:
    return email_events(EmailDelivery(provider="sendgrid", parsed=parse_email(raw), received_at=received_at))[0]


def receive(repos: Repositories, event: InboundEvent) -> Any:
    repos.inbox.put(event, endpoint="sendgrid", received_at=event.occurred_at, raw_body=b"raw",
                    content_type="message/rfc822")
    record = repos.inbox.get(event.inbox_key)
    assert record is not None
    return thread_message(repos, record, id_key=KEY)


def plain_mail(sender: str, subject: str, text: str, **headers: str) -> bytes:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "support@omnihub.example"
    mail["Subject"] = subject
    mail["Date"] = "Mon, 03 Jun 2024 10:00:00 +0000"
    mail["Message-ID"] = make_msgid(domain="mail.example.net")
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content(text)
    return mail.as_bytes()


# ------------------------------------------------------------------ pure: what a mail says about its thread
def test_references_are_found_in_brackets_bare_and_in_any_case() -> None:
    assert references_in("Re: Your request [OH-7K3Q9]") == ["OH-7K3Q9"]
    assert references_in("RE: AW: [oh-7k3q9] and OH-2B8F4 again [OH-7K3Q9]") == ["OH-7K3Q9", "OH-2B8F4"]
    assert references_in("XOH-7K3Q9 OH-7K3Q99 OH-7K3QI OH-7K3") == []  # glued, too long, I is not Crockford
    assert references_in(None) == []


def test_hints_are_in_reply_to_then_references_newest_first_then_subject_and_tag() -> None:
    event = mail_event(eml("reply_gmail.eml"))
    hints = mail_thread_hints(event)
    assert hints.message_ids == ("0102018fe4a1b2c3-oh-ack-01@eu-west-1.amazonses.com",
                                 "CAH7yN8sQ1Z4vGx=P0kX9q3dLr2m+Fw@mail.gmail.com")
    assert hints.references == ("OH-7K3Q9",)


# ------------------------------------------------------------------ in the worker
def test_a_reply_lands_in_the_conversation_of_the_mail_it_answers_by_header(repos: Repositories) -> None:
    first = receive(repos, mail_event(eml("multipart_pdf.eml")))
    resolve_conversation(repos, first.conversation.id, bus=MemoryBus())  # type: ignore[arg-type]  # so the open-conversation rule cannot explain it
    reply = receive(repos, mail_event(eml("reply_gmail.eml"), received_at="2024-06-03T12:00:00.000Z"))
    assert reply.conversation.id == first.conversation.id and not reply.opened
    assert reply.conversation.status is ConversationStatus.OPEN  # reopened by the reply
    customer = repos.customers.get(first.customer.id)
    assert customer is not None and customer.open_conversation_id == first.conversation.id


def test_a_reply_naming_the_reference_in_its_subject_lands_there_and_reopens_it(repos: Repositories) -> None:
    first = receive(repos, mail_event(plain_mail("ada@example.com", "Order 1182 late", "Where is it?")))
    resolve_conversation(repos, first.conversation.id, bus=MemoryBus())  # type: ignore[arg-type]
    reply = receive(repos, mail_event(plain_mail(
        "ada@example.com", f"Re: Your request [{first.conversation.reference}]", "Still not here.")))
    assert reply.conversation.id == first.conversation.id
    assert reply.conversation.status is ConversationStatus.OPEN
    unrelated = receive(repos, mail_event(plain_mail("ada@example.com", "New question", "Another thing")))
    assert unrelated.conversation.id == first.conversation.id  # the open one, as on every channel


def test_a_new_mail_after_resolution_without_header_or_reference_opens_a_new_case(repos: Repositories) -> None:
    first = receive(repos, mail_event(plain_mail("ada@example.com", "Order 1182 late", "Where is it?")))
    resolve_conversation(repos, first.conversation.id, bus=MemoryBus())  # type: ignore[arg-type]
    second = receive(repos, mail_event(plain_mail("ada@example.com", "Another order", "And 1183?")))
    assert second.opened and second.conversation.id != first.conversation.id


def test_someone_elses_reference_or_message_id_never_joins_their_case(repos: Repositories) -> None:
    mario = receive(repos, mail_event(eml("multipart_pdf.eml")))
    mallory = receive(repos, mail_event(plain_mail(
        "mallory@example.org", f"Re: [{mario.conversation.reference}]", "Let me in",
        In_Reply_To="<CAH7yN8sQ1Z4vGx=P0kX9q3dLr2m+Fw@mail.gmail.com>")))
    assert mallory.opened and mallory.conversation.id != mario.conversation.id


def test_a_reply_to_the_mail_the_hub_sent_threads_by_its_message_id(repos: Repositories) -> None:
    first = receive(repos, mail_event(plain_mail("ada@example.com", "Order 1182 late", "Where is it?")))

    class FakeSes:
        def send_email(self, **request: Any) -> dict[str, str]:
            self.raw = request["Content"]["Raw"]["Data"]
            return {"MessageId": "0102019-ses-1"}

    ses = FakeSes()
    job = OutboundJob(outbound_id="out_rep_1", conversation_id=first.conversation.id, kind=OutboundKind.AGENT_REPLY,
                      channel=Channel.EMAIL, provider="ses", to="ada@example.com", text="It ships today.",
                      reference=first.conversation.reference)
    ports = OutboundPorts(repos, {"ses": SesSender(client=ses, from_address="support@omnihub.example")},
                          ChannelRulesConfig())
    deliver_outbound_job(job.to_dict(), ports)
    sent = parse_email(ses.raw)
    assert sent.message_id is not None
    resolve_conversation(repos, first.conversation.id, bus=MemoryBus())  # type: ignore[arg-type]
    # The customer's client keeps only In-Reply-To and rewrites the subject: the header alone threads it.
    reply = receive(repos, mail_event(plain_mail("ada@example.com", "thanks", "Got it",
                                                 In_Reply_To=f"<{sent.message_id}>")))
    assert reply.conversation.id == first.conversation.id


def test_the_received_message_id_is_remembered_once_for_its_conversation(repos: Repositories) -> None:
    first = receive(repos, mail_event(eml("multipart_pdf.eml")))
    assert repos.mail_threads is not None
    assert repos.mail_threads.conversations_for(["CAH7yN8sQ1Z4vGx=P0kX9q3dLr2m+Fw@mail.gmail.com", "nope@x"]) == {
        "CAH7yN8sQ1Z4vGx=P0kX9q3dLr2m+Fw@mail.gmail.com": first.conversation.id}

