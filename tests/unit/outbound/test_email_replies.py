"""Email replies go out threaded from the mailbox the customer wrote to; provider feedback (hard bounce,
complaint) withdraws the address's email consent, and nothing more is sent to it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.adapters.memory import MemoryBus, MemoryStore, memory_repositories
from chalicelib.conversations.inbound import WorkerPorts, handle_inbound_event
from chalicelib.conversations.threading import thread_message
from chalicelib.core.model import Channel, DeliveryStatus, EventKind, Identity, InboundEvent
from chalicelib.core.ports import Repositories
from chalicelib.email import email_events, parse_email
from chalicelib.email.events import EmailDelivery
from chalicelib.outbound import OutboundKind
from chalicelib.outbound.dispatch import InMemoryLedger, deliver
from chalicelib.outbound.outbox import OutboundDraft
from chalicelib.outbound.senders.email_headers import reply_from
from chalicelib.outbound.senders.ses import SesSender
from tests.unit.conftest import test_id_key
from tests.unit.email.payloads import RECEIVED_AT, eml

FROM = "Omnihub Support <support@omnihub.example>"


class FakeSes:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_email(self, **request: Any) -> dict[str, str]:
        self.sent.append(request)
        return {"MessageId": f"0102-ses-{len(self.sent)}"}


def inbound(raw: bytes) -> InboundEvent:
    return email_events(EmailDelivery(provider="sendgrid", parsed=parse_email(raw), received_at=RECEIVED_AT))[0]


def reply_draft(event: InboundEvent, kind: OutboundKind = OutboundKind.AGENT_REPLY) -> OutboundDraft:
    assert event.sender is not None
    return OutboundDraft(outbound_id="out_rep_abc123", conversation_id="cnv_1", kind=kind, channel=Channel.EMAIL,
                         to=event.sender.identity.address, created_at=RECEIVED_AT, text="We corrected the invoice.",
                         reference="OH-7K3Q9", inbound_provider=event.provider, inbound_metadata=event.metadata)


def test_a_reply_is_threaded_to_the_customers_mail_from_the_mailbox_they_wrote_to() -> None:
    job = reply_draft(inbound(eml("reply_gmail.eml"))).job("ses")
    assert job.email is not None and job.sender_hints == {"from": "support@omnihub.example"}
    ses = FakeSes()
    outcome = deliver(job, senders={"ses": SesSender(client=ses, from_address=FROM)}, ledger=InMemoryLedger(),
                      now=datetime.now(UTC))
    assert outcome.status is DeliveryStatus.SENT
    sent = parse_email(ses.sent[0]["Content"]["Raw"]["Data"])
    assert sent.subject == "Re: Invoice 2024-118 is wrong [OH-7K3Q9]"
    assert sent.in_reply_to == "CAH7yN8tR2a5wHy=Q1lY0r4eMs3n+Gx@mail.gmail.com"
    assert sent.references[-1] == sent.in_reply_to
    assert "CAH7yN8sQ1Z4vGx=P0kX9q3dLr2m+Fw@mail.gmail.com" in sent.references  # the thread so far
    assert sent.sender is not None and sent.sender.address == "support@omnihub.example"
    assert sent.message_id == "out_rep_abc123@omnihub.example"  # derived: a resend keeps it


def test_the_mailbox_is_used_only_when_it_is_the_hubs() -> None:
    mailboxes = frozenset({"billing@omnihub.example", "help@other-brand.example"})
    assert reply_from("billing@omnihub.example", FROM, mailboxes) == "billing@omnihub.example"
    assert reply_from("help@other-brand.example", FROM, mailboxes) == "help@other-brand.example"
    assert reply_from("assistenza@omnihub.example", FROM, frozenset()) == "assistenza@omnihub.example"  # same domain
    assert reply_from("ceo@bank.example", FROM, mailboxes) == FROM  # a recipient the sender made up
    assert reply_from(None, FROM, mailboxes) == FROM


def test_an_acknowledgment_is_marked_auto_submitted_and_threaded_too() -> None:
    ses = FakeSes()
    job = reply_draft(inbound(eml("multipart_pdf.eml")), OutboundKind.ACKNOWLEDGMENT).job("ses")
    deliver(job, senders={"ses": SesSender(client=ses, from_address=FROM)}, ledger=InMemoryLedger(),
            now=datetime.now(UTC))
    raw = ses.sent[0]["Content"]["Raw"]["Data"]
    assert b"Auto-Submitted: auto-replied" in raw
    assert parse_email(raw).subject == "Re: Invoice 2024-118 is wrong [OH-7K3Q9]"


# ------------------------------------------------------------------ feedback → consent
@pytest.fixture
def repos() -> Repositories:
    return memory_repositories(MemoryStore())


def feedback(kind: str, recipient: str, **metadata: str) -> InboundEvent:
    status = DeliveryStatus.FAILED if kind == "bounce" else DeliveryStatus.DELIVERED
    return InboundEvent(provider="ses", event_id=f"{kind}#1", kind=EventKind.DELIVERY_STATUS, channel=Channel.EMAIL,
                        occurred_at="2024-06-03T09:00:00.000Z", provider_message_id="0102-ses-1", status=status,
                        metadata={f"{kind}_recipient": recipient, "provider_feedback": "true", **metadata})


@pytest.mark.parametrize(("event", "withdrawn"), [
    (feedback("bounce", "mario.rossi@gmail.com", bounce="hard"), True),
    (feedback("complaint", "mario.rossi@gmail.com", complaint="true"), True),
    (feedback("bounce", "mario.rossi@gmail.com", bounce="soft"), False),
    (feedback("bounce", "mario.rossi@gmail.com", bounce="hard", provider_feedback="false"), False),  # a mailed DSN
], ids=["hard-bounce", "complaint", "soft-bounce", "dsn-by-mail"])
def test_hard_bounces_and_complaints_withdraw_email_consent(repos: Repositories, event: InboundEvent,
                                                            withdrawn: bool) -> None:
    first = inbound(eml("multipart_pdf.eml"))
    repos.inbox.put(first, endpoint="sendgrid", received_at=RECEIVED_AT, raw_body=b"x", content_type="text/plain")
    record = repos.inbox.get(first.inbox_key)
    assert record is not None
    customer_id = thread_message(repos, record, id_key=test_id_key).customer.id
    repos.inbox.put(event, endpoint="ses", received_at=RECEIVED_AT, raw_body=b"{}", content_type="text/plain")
    ports = WorkerPorts(repos=repos, bus=MemoryBus(), id_key=test_id_key)  # type: ignore[arg-type]
    handle_inbound_event(event.inbox_key, ports)
    customer = repos.customers.get(customer_id)
    assert customer is not None
    assert (customer.consent.get("email") == "withdrawn") is withdrawn
    if withdrawn:  # and the next reply to that address is refused before any provider call
        ses = FakeSes()
        outcome = deliver(reply_draft(first).job("ses"), senders={"ses": SesSender(client=ses, from_address=FROM)},
                          ledger=InMemoryLedger(), now=datetime.now(UTC), consent=customer.consent)
        assert outcome.status is DeliveryStatus.FAILED and ses.sent == []
        assert repos.customers.identity_owner(Identity(Channel.EMAIL, "mario.rossi@gmail.com")) == customer_id


def test_email_leaves_through_ses_unless_the_deployment_chooses_another_provider() -> None:
    from chalicelib.outbound.registry import provider_for

    for inbound_provider in ("sendgrid", "mailgun", "postmark", "ses"):  # whoever carried the mail in
        assert provider_for(Channel.EMAIL, {}, inbound_provider=inbound_provider) == "ses"
    for chosen in ("sendgrid", "mailgun", "postmark"):
        assert provider_for(Channel.EMAIL, {"OMNIHUB_EMAIL_PROVIDER": chosen}, inbound_provider="ses") == chosen
