"""The email send APIs (SendGrid, Mailgun, Postmark) against the provider sandbox over real HTTP: each
request threaded like the SES sender's mail, from the customer's mailbox, with the provider's own ids."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.core.model import Channel, DeliveryStatus
from chalicelib.outbound import OutboundJob, OutboundKind
from chalicelib.outbound.job import EmailThreading
from chalicelib.outbound.senders.email_headers import message_id_for
from chalicelib.outbound.senders.mailgun import MailgunSender
from chalicelib.outbound.senders.postmark import PostmarkSender
from chalicelib.outbound.senders.sendgrid import SendGridSender
from devstack.sandbox import secret_fingerprint

FROM = "support@omnihub.example"


def email_job(kind: OutboundKind = OutboundKind.AGENT_REPLY) -> OutboundJob:
    return OutboundJob(
        outbound_id="out_rep_0123456789", conversation_id="cnv_1", kind=kind, channel=Channel.EMAIL,
        provider="ses", to="mario.rossi@gmail.com", text="We corrected the invoice.", reference="OH-7K3Q9",
        email=EmailThreading(subject="Invoice 2024-118 is wrong", in_reply_to="<CAH7yN8s@mail.gmail.com>",
                             references=("<first@mail.gmail.com>",)),
        sender_hints={"from": "billing@omnihub.example"},
    )


THREAD = {"Message-ID": "<out_rep_0123456789@omnihub.example>", "In-Reply-To": "<CAH7yN8s@mail.gmail.com>",
          "References": "<first@mail.gmail.com> <CAH7yN8s@mail.gmail.com>"}
SUBJECT = "Re: Invoice 2024-118 is wrong [OH-7K3Q9]"


def test_sendgrid_mail_send(sandbox: Any) -> None:
    sender = SendGridSender(api_key="SG.key", base_url=sandbox.base_url, from_address=FROM)
    result = sender.send(email_job())
    record = sandbox.last()
    assert (record["method"], record["path"]) == ("POST", "/v3/mail/send")
    assert record["auth"] == {"scheme": "bearer", "secret_sha256": secret_fingerprint("SG.key")}
    body = record["body"]
    assert body["personalizations"] == [{"to": [{"email": "mario.rossi@gmail.com"}]}]
    assert body["from"] == {"email": "billing@omnihub.example"} and body["subject"] == SUBJECT
    assert body["headers"] == THREAD and body["custom_args"]["outbound_id"] == "out_rep_0123456789"
    assert result.status is DeliveryStatus.SENT and result.provider_message_id
    assert result.details["message_id_header"] == message_id_for(email_job(), "billing@omnihub.example")


def test_mailgun_messages(sandbox: Any) -> None:
    sender = MailgunSender(api_key="mg-key", base_url=sandbox.base_url, from_address=FROM)
    result = sender.send(email_job(OutboundKind.ACKNOWLEDGMENT))
    record = sandbox.last()
    assert record["path"] == "/v3/omnihub.example/messages"
    assert record["auth"] == {"scheme": "basic", "user": "api", "secret_sha256": secret_fingerprint("mg-key")}
    form = record["body"]
    assert form["from"] == "billing@omnihub.example" and form["subject"] == SUBJECT
    assert {name: form[f"h:{name}"] for name in THREAD} == THREAD
    assert form["h:Auto-Submitted"] == "auto-replied" and form["v:outbound_id"] == "out_rep_0123456789"
    assert result.provider_message_id.endswith("@omnihub.example")


def test_postmark_email(sandbox: Any) -> None:
    sender = PostmarkSender(server_token="pm-token", base_url=sandbox.base_url, from_address=FROM)
    result = sender.send(email_job())
    record = sandbox.last()
    assert record["path"] == "/email" and "x-postmark-server-token" not in record["headers"]
    assert record["auth"] == {"scheme": "x-postmark-server-token", "secret_sha256": secret_fingerprint("pm-token")}
    body = record["body"]
    assert body["From"] == "billing@omnihub.example" and body["Subject"] == SUBJECT
    assert {h["Name"]: h["Value"] for h in body["Headers"]} == THREAD and body["MessageStream"] == "outbound"
    assert result.provider_message_id


@pytest.mark.parametrize("build", [
    lambda url: SendGridSender(api_key="", base_url=url, from_address=FROM),
    lambda url: PostmarkSender(server_token="", base_url=url, from_address=FROM),
], ids=["sendgrid", "postmark"])
def test_a_refused_credential_is_a_permanent_failure(sandbox: Any, build: Any) -> None:
    from chalicelib.outbound import PermanentSendError

    with pytest.raises(PermanentSendError):
        build(sandbox.base_url).send(email_job())
