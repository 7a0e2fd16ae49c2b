"""The four email providers through the app, as their simulators post: accepted and stored once,
forged refused with each provider's status and nothing stored, one mail through two providers one item."""

from __future__ import annotations

import json
from argparse import Namespace
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chalicelib.handlers import wiring
from devstack.cli import SIMULATORS
from devstack.simulators.email import local_sns_environment
from tests.conftest import Hub

EMAIL_SECRETS = {
    "SENDGRID_INBOUND_TOKEN": "test-sendgrid-token",
    "MAILGUN_SIGNING_KEY": "test-mailgun-signing-key",
    "POSTMARK_INBOUND_USER": "test-postmark-user",
    "POSTMARK_INBOUND_PASSWORD": "test-postmark-password",
}
# (simulator, its options) → the status a forged request gets: what stops each provider's retries.
DELIVERIES = [
    ("sendgrid", ("mode=raw",), 403),
    ("sendgrid", ("mode=parsed",), 403),
    ("mailgun", ("mode=parsed",), 406),
    ("mailgun", ("mode=mime",), 406),
    ("postmark", (), 403),
    ("postmark", ("raw_email=1",), 403),
    ("ses", (), 403),
    ("ses", ("signature_version=1",), 403),
]
IDS = [f"{name}-{'-'.join(options) or 'default'}" for name, options, _ in DELIVERIES]


@pytest.fixture(autouse=True)
def email_environment(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from chalicelib.adapters import runtime

    for key, value in {**EMAIL_SECRETS, **local_sns_environment()}.items():
        monkeypatch.setenv(key, value)
    runtime.reset()
    wiring.ses_channel_for.cache_clear()
    # Inbound only: acknowledgments go out through the outbound worker (tested with the sandbox elsewhere).
    hub.pump._handlers = {k: v for k, v in hub.pump._handlers.items() if k != "handle_outbound"}
    yield
    wiring.ses_channel_for.cache_clear()


def build(name: str, options: tuple[str, ...], secrets: dict[str, str], *, event_id: str | None = None,
          sender: str = "ada.lovelace@example.com") -> Any:
    builder, _ = SIMULATORS[name]
    args = Namespace(sender=sender, text="My order 1182 has not arrived.", name="Ada Lovelace", language="en",
                     event_id=event_id, option=list(options))
    return builder(args, secrets)


def post(hub: Hub, request: Any) -> Any:
    return hub.client.http.post(request.path, body=request.body, headers=request.headers)


def inbox(hub: Hub) -> list[dict[str, Any]]:
    return [item for item in hub.table_items() if item["sk"] == "INBOX"]


def inbound_messages(hub: Hub) -> list[dict[str, Any]]:
    return [i for i in hub.table_items() if i["sk"].startswith("MSG#") and i.get("direction") == "inbound"]


@pytest.mark.parametrize(("name", "options", "forged_status"), DELIVERIES, ids=IDS)
def test_each_simulated_delivery_is_accepted_and_stored_once(hub: Hub, name: str, options: tuple[str, ...],
                                                             forged_status: int) -> None:
    request = build(name, options, EMAIL_SECRETS)
    for _ in range(2):  # the provider retrying the same post
        response = post(hub, request)
        assert 200 <= response.status_code < 300, (name, response.status_code, response.body)
    [item] = inbox(hub)
    assert item["pk"].startswith("INBOX#email#")
    hub.pump.drain()
    [message] = inbound_messages(hub)
    assert message["channel"] == "email" and "My order 1182 has not arrived." in message["text"]


@pytest.mark.parametrize(("name", "options", "forged_status"), DELIVERIES, ids=IDS)
def test_a_forged_delivery_is_refused_with_the_providers_status_and_stores_nothing(
    hub: Hub, name: str, options: tuple[str, ...], forged_status: int
) -> None:
    if name == "ses":  # signed by the local certificate, then altered: the signature no longer holds
        signed = build(name, options, EMAIL_SECRETS)
        envelope = json.loads(signed.body)
        envelope["Message"] = envelope["Message"].replace("My order 1182", "Wire 5000 EUR to")
        forged = type(signed)(signed.method, signed.path, signed.headers, json.dumps(envelope).encode())
    else:
        forged = build(name, options, {k: v + "-forged" for k, v in EMAIL_SECRETS.items()})
    response = post(hub, forged)
    assert response.status_code == forged_status, (name, response.body)
    assert set(json.loads(response.body)) == {"error", "reason"}
    assert hub.table_items() == []


def test_the_same_mail_through_sendgrid_raw_and_postmark_is_one_inbox_item_and_one_message(hub: Hub) -> None:
    first = post(hub, build("sendgrid", ("mode=raw",), EMAIL_SECRETS, event_id="order-1182-q@mail.example.com"))
    second = post(hub, build("postmark", (), EMAIL_SECRETS, event_id="order-1182-q@mail.example.com"))
    assert first.status_code == 200 and second.status_code == 200
    [item] = inbox(hub)
    assert item["pk"] == "INBOX#email#order-1182-q@mail.example.com"  # the Message-ID, whoever delivered it
    hub.pump.drain()
    assert len(inbound_messages(hub)) == 1


def test_an_ses_topic_the_deployment_did_not_configure_is_refused(hub: Hub) -> None:
    request = build("ses", ("topic_arn=arn:aws:sns:us-east-1:000000000000:someone-elses",), EMAIL_SECRETS)
    assert post(hub, request).status_code == 403
    assert hub.table_items() == []


def test_an_unreachable_signing_certificate_is_503_so_sns_retries(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.adapters import runtime, sns_certificates

    calls: list[str] = []

    def unreachable(url: str) -> bytes:
        calls.append(url)
        raise OSError("connection refused")

    monkeypatch.setattr(sns_certificates, "fetch_sns_certificate", unreachable)
    monkeypatch.delenv("OMNIHUB_SNS_TRUSTED_CERT_URL")  # no local certificate: an Amazon URL is fetched
    runtime.reset()
    signed = build("ses", (), EMAIL_SECRETS)
    envelope = json.loads(signed.body)
    envelope["SigningCertURL"] = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem"
    request = type(signed)(signed.method, signed.path, signed.headers, json.dumps(envelope).encode())
    response = post(hub, request)
    assert response.status_code == 503 and json.loads(response.body)["error"] == "unavailable"
    assert calls == ["https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem"]
    assert hub.table_items() == []


# ------------------------------------------------------------------ threading, through the worker
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "email"


def post_raw_mail(hub: Hub, raw: bytes) -> Any:
    """A mail as SendGrid's raw mode posts it (the whole message in ``email``)."""
    boundary = "xYzZY-threading"
    fields = [("envelope", b'{"to":["support@omnihub.example"],"from":"x@example.com"}'), ("email", raw)]
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value
                    + b"\r\n" for name, value in fields) + f"--{boundary}--\r\n".encode()
    token = EMAIL_SECRETS["SENDGRID_INBOUND_TOKEN"]
    return hub.client.http.post(f"/webhooks/email/sendgrid?token={token}", body=body,
                                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})


def conversations(hub: Hub) -> list[dict[str, Any]]:
    return [i for i in hub.table_items() if i["pk"].startswith("CONV#") and i["sk"] == "META"]


def resolve(hub: Hub, conversation_id: str) -> None:
    from chalicelib.adapters import runtime
    from chalicelib.api.lifecycle import resolve_conversation

    resolve_conversation(runtime.repositories(), conversation_id, bus=runtime.bus())


def test_a_reply_lands_in_the_conversation_it_answers_by_header_then_by_subject_reference(hub: Hub) -> None:
    assert post_raw_mail(hub, (FIXTURES / "multipart_pdf.eml").read_bytes()).status_code == 200
    hub.pump.drain()
    [first] = conversations(hub)
    resolve(hub, first["id"])
    # Gmail's reply: References names Mario's first mail; the subject's reference is another case's.
    assert post_raw_mail(hub, (FIXTURES / "reply_gmail.eml").read_bytes()).status_code == 200
    hub.pump.drain()
    [again] = conversations(hub)
    assert again["id"] == first["id"] and again["status"] == "open"
    resolve(hub, first["id"])
    by_subject = (b"From: Mario Rossi <mario.rossi@gmail.com>\r\nTo: support@omnihub.example\r\n"
                  b"Subject: Re: Invoice [" + first["reference"].encode() + b"]\r\n"
                  b"Message-ID: <by-subject-1@mail.gmail.com>\r\nDate: Mon, 03 Jun 2024 12:00:00 +0000\r\n"
                  b"Content-Type: text/plain; charset=utf-8\r\n\r\nAny news?\r\n")
    assert post_raw_mail(hub, by_subject).status_code == 200
    hub.pump.drain()
    [still] = conversations(hub)
    assert still["id"] == first["id"] and still["status"] == "open"
    assert len(inbound_messages(hub)) == 3
    mail_ids = {i["pk"] for i in hub.table_items() if i["sk"] == "MAILID"}
    assert len(mail_ids) == 3  # each received Message-ID now names the conversation
    from chalicelib.adapters import runtime
    from chalicelib.core.timestamps import utc_now
    from chalicelib.reports.kpis import kpi_report
    from chalicelib.reports.recorder import business_day

    day = business_day(utc_now())
    kpis = kpi_report(runtime.repositories(), {"from": day, "to": day})
    assert kpis["conversations"] == {"opened": 1, "resolved": 2, "reopened": 2}  # each reply's reopen, once


def test_a_pdf_attachment_is_in_the_bucket_and_the_conversation_links_it(hub: Hub) -> None:
    import hashlib
    from urllib.parse import parse_qs, urlsplit

    pdf = (FIXTURES / "invoice-2024-118.pdf").read_bytes()
    assert post_raw_mail(hub, (FIXTURES / "multipart_pdf.eml").read_bytes()).status_code == 200
    hub.pump.drain()
    [conversation] = conversations(hub)
    response = hub.client.http.get(f"/conversations/{conversation['id']}", headers={"x-api-key": "support-key"})
    assert response.status_code == 200
    [message] = json.loads(response.body)["messages"]
    [attachment] = message["attachments"]
    digest = hashlib.sha256(pdf).hexdigest()
    assert (attachment["name"], attachment["content_type"], attachment["size"], attachment["sha256"]) == (
        "invoice-2024-118.pdf", "application/pdf", len(pdf), digest)
    link = urlsplit(attachment["url"])
    assert parse_qs(link.query)["X-Amz-Expires"] == ["300"] and "url_expires_at" in attachment
    assert link.path.endswith(digest)
    s3 = hub.session.client("s3")
    stored = [o["Key"] for o in s3.list_objects_v2(Bucket=_bucket(), Prefix="attachments/email/").get("Contents", [])]
    assert len(stored) == 1 and stored[0].endswith(digest)
    assert s3.get_object(Bucket=_bucket(), Key=stored[0])["Body"].read() == pdf


def _stage() -> str:
    from chalicelib.adapters import runtime

    return runtime.settings().stage


def _bucket() -> str:
    from chalicelib.adapters import runtime

    return runtime.settings().bucket_name



# ------------------------------------------------------------------ Amazon SES → S3
def test_a_mail_ses_writes_to_the_bucket_reaches_the_inbox_once_with_its_attachment(hub: Hub) -> None:
    from chalicelib.adapters.resources import MAIL_OBJECTS_PREFIX

    s3 = hub.session.client("s3")
    raw = (FIXTURES / "multipart_pdf.eml").read_bytes()
    s3.put_object(Bucket=_bucket(), Key=f"{MAIL_OBJECTS_PREFIX}d6iitobk75ur44p8kdnnp7g2n800", Body=raw)
    s3.put_object(Bucket=_bucket(), Key=f"{MAIL_OBJECTS_PREFIX}d6iitobk75ur44p8kdnnp7g2n801", Body=raw)  # twice
    hub.pump.drain()
    [item] = inbox(hub)
    assert item["pk"] == "INBOX#email#CAH7yN8sQ1Z4vGx=P0kX9q3dLr2m+Fw@mail.gmail.com"
    assert item["endpoint"] == "mail_object" and "raw" not in item  # a pointer to the object, no copy
    [message] = inbound_messages(hub)
    [attachment] = json.loads(message["attachments"])
    assert attachment["name"] == "invoice-2024-118.pdf" and attachment["url"].startswith("s3://")


def test_a_notification_naming_another_bucket_stores_nothing(hub: Hub) -> None:
    import json as json_module

    from chalicelib.adapters.resources import MAIL_OBJECTS_QUEUE, queue_name

    sqs = hub.session.client("sqs")
    url = sqs.get_queue_url(QueueName=queue_name(_stage(), MAIL_OBJECTS_QUEUE))
    body = {"Records": [{"eventName": "ObjectCreated:Put", "eventTime": "2024-06-03T08:12:34.000Z",
                         "s3": {"bucket": {"name": "someone-elses"}, "object": {"key": "inbound-mail/x", "size": 9}}}]}
    sqs.send_message(QueueUrl=url["QueueUrl"], MessageBody=json_module.dumps(body))
    hub.pump.drain()
    assert inbox(hub) == []


def test_ses_s3_action_both_notifications_read_the_object_into_one_message(hub: Hub) -> None:
    request = build("ses", ("action=s3", "s3_endpoint=aws"), EMAIL_SECRETS, event_id="s3-path-1@mail.example.com")
    assert json.loads(json.loads(request.body)["Message"])["receipt"]["action"]["type"] == "S3"
    assert post(hub, request).status_code == 200  # the SNS notification naming the object
    hub.pump.drain()  # ... and the bucket's own notification of the same object
    keys = sorted(item["pk"] for item in inbox(hub))
    assert keys[0] == "INBOX#email#s3-path-1@mail.example.com" and len(keys) == 2  # + the SNS lifecycle item
    [message] = inbound_messages(hub)
    assert "My order 1182 has not arrived." in message["text"]


def test_the_sns_notification_of_an_s3_action_alone_reads_the_object(hub: Hub) -> None:
    hub.session.client("s3").put_bucket_notification_configuration(Bucket=_bucket(), NotificationConfiguration={})
    request = build("ses", ("action=s3", "s3_endpoint=aws"), EMAIL_SECRETS, event_id="s3-path-2@mail.example.com")
    assert post(hub, request).status_code == 200
    hub.pump.drain()
    [message] = inbound_messages(hub)
    assert "My order 1182 has not arrived." in message["text"]


def test_a_mailgun_token_replayed_with_another_mail_is_406_and_stores_nothing(hub: Hub) -> None:
    request = build("mailgun", ("mode=parsed",), EMAIL_SECRETS, event_id="mg-original@mail.example.com")
    assert post(hub, request).status_code == 200
    assert post(hub, request).status_code == 200  # Mailgun's retry: one item
    before = hub.table_items()
    replayed_body = request.body.replace(b"mg-original", b"mg-replayed").replace(b"has+not+arrived", b"is+here")
    assert replayed_body != request.body
    replay = type(request)(request.method, request.path, request.headers, replayed_body)
    response = post(hub, replay)
    assert response.status_code == 406, response.body
    assert hub.table_items() == before


def _signed_confirmation(subscribe_url: str) -> dict[str, Any]:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from chalicelib.providers.sns import sign_sns_message
    from devstack.simulators.email import _SNS_LOCAL, LOCAL_SES_TOPIC_ARN, LOCAL_SNS_CERTIFICATE_URL

    message = {"Type": "SubscriptionConfirmation", "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
               "Token": "2336412f37f", "TopicArn": LOCAL_SES_TOPIC_ARN, "SubscribeURL": subscribe_url,
               "Message": f"You have chosen to subscribe to the topic {LOCAL_SES_TOPIC_ARN}.",
               "Timestamp": "2026-11-18T09:00:00.000Z"}
    key = load_pem_private_key((_SNS_LOCAL / "private_key.pem").read_bytes(), password=None)
    return sign_sns_message(message, key, certificate_url=LOCAL_SNS_CERTIFICATE_URL)


@pytest.mark.parametrize("forged", [False, True], ids=["sns", "forged-url"])
def test_a_subscription_confirmation_is_confirmed_by_the_worker_once_recorded(
        hub: Hub, monkeypatch: pytest.MonkeyPatch, forged: bool) -> None:
    from chalicelib.adapters.memory.subscriptions import MemorySubscriptionConfirmer

    twin = MemorySubscriptionConfirmer()
    monkeypatch.setattr(wiring, "subscription_confirmer", lambda: twin)
    url = ("https://sns.evil.example/?Action=ConfirmSubscription&Token=2336412f37f" if forged else
           "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=t&Token=2336412f37f")
    body = json.dumps(_signed_confirmation(url)).encode()
    headers = {"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "SubscriptionConfirmation"}
    assert hub.client.http.post("/webhooks/email/ses", body=body, headers=headers).status_code == 200
    hub.pump.drain()
    assert hub.client.http.post("/webhooks/email/ses", body=body, headers=headers).status_code == 200  # redelivery
    hub.pump.drain()
    [item] = inbox(hub)
    if forged:
        assert twin.confirmed == [] and "confirmed_at" not in item  # the URL was never stored, never fetched
    else:
        # visited (again on a job redelivery: harmless for SNS), recorded once on the inbox item
        assert twin.confirmed and set(twin.confirmed) == {url} and item["confirmed_at"]
