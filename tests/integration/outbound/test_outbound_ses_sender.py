"""The SES v2 sender against moto: a raw, threaded MIME message."""

from __future__ import annotations

import email
from email import policy

import boto3
import pytest
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib.core.model import Channel, DeliveryStatus
from chalicelib.outbound import EmailThreading, OutboundKind, PermanentSendError, SesSender

REGION = "us-east-1"


@pytest.fixture
def ses(monkeypatch):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("sesv2", region_name=REGION)
        client.create_email_identity(EmailIdentity="care@acme.example")
        yield client


def sent_messages():
    return ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages


def email_job(make_job, **overrides):
    values = {"channel": Channel.EMAIL, "provider": "ses", "to": "Mario.Rossi@Example.com", "reference": "ABC-123",
              "email": EmailThreading(subject="Order 991 never arrived", in_reply_to="<cust-1@example.com>",
                                      references=("<root@example.com>",))}
    values.update(overrides)
    return make_job(**values)


def test_threaded_raw_message(ses, make_job):
    sender = SesSender(client=ses, from_address="Acme Care <care@acme.example>")
    result = sender.send(email_job(make_job))
    assert result.provider == "ses" and result.status is DeliveryStatus.SENT and result.provider_message_id
    [raw] = [m for m in sent_messages() if hasattr(m, "raw_data")]
    assert set(raw.destinations) == {"mario.rossi@example.com"}
    message = email.message_from_string(raw.raw_data, policy=policy.default)
    assert message["To"] == "mario.rossi@example.com"
    assert message["From"] == "Acme Care <care@acme.example>"
    assert message["Subject"] == "Re: Order 991 never arrived [ABC-123]"
    assert message["In-Reply-To"] == "<cust-1@example.com>"
    assert message["References"] == "<root@example.com> <cust-1@example.com>"
    assert message["Message-ID"] == result.details["message_id_header"]
    assert message["Message-ID"].endswith("@acme.example>")
    assert message["Auto-Submitted"] == "auto-replied"  # an acknowledgment: auto-responders stay quiet
    assert message["X-Omnihub-Outbound-Id"] == "0b7f3c1e-5d2a-4c1b-9e8f-123456789abc"
    assert message.get_content().strip() == "Thanks, we got your message. Reference ABC-123."


def test_agent_reply_is_not_marked_automatic(ses, make_job):
    sender = SesSender(client=ses, from_address="care@acme.example")
    sender.send(email_job(make_job, kind=OutboundKind.AGENT_REPLY, email=None))
    [raw] = [m for m in sent_messages() if hasattr(m, "raw_data")]
    message = email.message_from_string(raw.raw_data, policy=policy.default)
    assert message["Auto-Submitted"] is None
    assert message["Subject"] == "Your request [ABC-123]"
    assert message["In-Reply-To"] is None


def test_unverified_sender_is_permanent(ses, make_job):
    sender = SesSender(client=ses, from_address="nobody@unverified.example")
    with pytest.raises(PermanentSendError) as caught:
        sender.send(email_job(make_job))
    assert caught.value.provider == "ses" and caught.value.error_code
