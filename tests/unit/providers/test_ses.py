"""Amazon SES through SNS: SignatureVersion 1 and 2 over the documented string, the certificate's origin,
the topic, confirmations, the SES notification's content (inline, base64, S3) and SES feedback.

The SNS signer is played by a self-signed certificate generated here with the cryptography package.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from chalicelib.core.errors import PermanentError, RetryableError
from chalicelib.core.model import DeliveryStatus, EventKind
from chalicelib.providers.base import SignatureError, WebhookRequest
from chalicelib.providers.ses import ses_channel, ses_events_from_raw, sns_trust_from_environ
from chalicelib.providers.sns import SnsTrust, sign_sns_message, string_to_sign, verify_sns_message
from tests.unit.email.payloads import RECEIVED_AT, MemoryInbox, eml, fixture_json, ingest

TOPIC = "arn:aws:sns:eu-west-1:123456789012:omnihub-inbound-email"
CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-6209c161c6221fdf56ec1eb5c821d112.pem"
NOW = 1_717_402_355.0
TRUST = SnsTrust(topic_arns=frozenset({TOPIC}))
MESSAGE_ID = "CAH7yN8sQ1Z4vGx=P0kX9q3dLr2m+Fw@mail.gmail.com"


def _certificate(key: rsa.RSAPrivateKey, *, days: int = 365, start: dt.datetime | None = None) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    begin = start or dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(begin)
                   .not_valid_after(begin + dt.timedelta(days=days)).sign(key, hashes.SHA256()))
    return certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def signer() -> tuple[rsa.RSAPrivateKey, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, _certificate(key)


class Fetcher:
    def __init__(self, pem: bytes) -> None:
        self.pem, self.calls = pem, []  # type: ignore[var-annotated]

    def __call__(self, url: str) -> bytes:
        self.calls.append(url)
        return self.pem


def notification(message: dict[str, Any] | str, **fields: str) -> dict[str, Any]:
    return {"Type": "Notification", "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324", "TopicArn": TOPIC,
            "Message": message if isinstance(message, str) else json.dumps(message),
            "Timestamp": "2024-06-03T08:12:34.123Z",
            "UnsubscribeURL": "https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=x", **fields}


def received(encoding: str = "UTF8", raw: bytes | None = None) -> dict[str, Any]:
    data = fixture_json("ses_received_sns_action.json")
    content = raw if raw is not None else eml("multipart_pdf.eml")
    data["receipt"]["action"]["encoding"] = encoding
    data["content"] = base64.b64encode(content).decode() if encoding == "BASE64" else content.decode()
    return data


def http(message: dict[str, Any]) -> WebhookRequest:
    return WebhookRequest(method="POST", path="/webhooks/email/ses", headers={"content-type": "text/plain"},
                          body=json.dumps(message).encode(), received_at=RECEIVED_AT)


# --- the string to sign, exactly as documented ----------------------------------------------------


def test_string_to_sign_of_the_documented_notification() -> None:
    message = {"Type": "Notification", "MessageId": "4d4dc071-ddbf-465d-bba8-08f81c89da64",
               "TopicArn": "arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-1G1WEFCOXTC0P",
               "Subject": "My subject", "Message": "My Test Message", "Timestamp": "2019-01-31T04:37:04.321Z",
               "SignatureVersion": "1", "Signature": "x", "SigningCertURL": CERT_URL}
    assert string_to_sign(message) == (
        b"Message\nMy Test Message\nMessageId\n4d4dc071-ddbf-465d-bba8-08f81c89da64\nSubject\nMy subject\n"
        b"Timestamp\n2019-01-31T04:37:04.321Z\nTopicArn\narn:aws:sns:us-east-2:123456789012:s4-MySNSTopic-"
        b"1G1WEFCOXTC0P\nType\nNotification\n")
    del message["Subject"]
    assert b"Subject" not in string_to_sign(message)


def test_string_to_sign_of_the_documented_subscription_confirmation() -> None:
    message = fixture_json("sns_subscription_confirmation.json")
    expected = "".join(f"{name}\n{message[name]}\n" for name in
                       ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"))
    assert string_to_sign(message) == expected.encode()


# --- signatures -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "algorithm"), [("1", hashes.SHA1()), ("2", hashes.SHA256())])  # noqa: S303
def test_versions_1_and_2_verify_against_an_independent_signature(signer: Any, version: str,
                                                                  algorithm: Any) -> None:
    key, pem = signer
    message = notification(received())
    # Signed here with the cryptography package directly, over the documented fields.
    canonical = "".join(f"{n}\n{message[n]}\n" for n in ("Message", "MessageId", "Timestamp", "TopicArn", "Type"))
    signature = key.sign(canonical.encode(), padding.PKCS1v15(), algorithm)
    message.update(SignatureVersion=version, SigningCertURL=CERT_URL, Signature=base64.b64encode(signature).decode())
    verify_sns_message(message, trust=TRUST, certificates=Fetcher(pem), now=NOW)
    assert sign_sns_message(notification(received()), key, certificate_url=CERT_URL, version=version)["Signature"] \
        == message["Signature"]  # PKCS#1 v1.5 is deterministic


@pytest.mark.parametrize("url", [
    "http://sns.eu-west-1.amazonaws.com/SimpleNotificationService-1.pem",
    "https://sns.eu-west-1.amazonaws.com.evil.example/SimpleNotificationService-1.pem",
    "https://evil.example/sns.eu-west-1.amazonaws.com/x.pem",
    "https://sns.eu-west-1.amazonaws.com@evil.example/x.pem",
    "https://sns.eu-west-1.amazonaws.com:8443/x.pem",
    "https://sns.eu-west-1.amazonaws.com/x.pem?redirect=https://evil.example",
    "https://sns.eu-west-1.amazonaws.com/../x.pem",
    "https://s3.amazonaws.com/sns/x.pem",
    "https://sns.eu-west-1.amazonaws.com/x.cer",
])
def test_certificate_urls_off_sns_are_refused_without_fetching(signer: Any, url: str) -> None:
    key, pem = signer
    fetcher = Fetcher(pem)
    message = sign_sns_message(notification(received()), key, certificate_url=url)
    with pytest.raises(SignatureError):
        verify_sns_message(message, trust=TRUST, certificates=fetcher, now=NOW)
    assert fetcher.calls == []


def test_china_region_certificate_url_is_accepted(signer: Any) -> None:
    key, pem = signer
    url = "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-1.pem"
    verify_sns_message(sign_sns_message(notification("x"), key, certificate_url=url), trust=TRUST,
                       certificates=Fetcher(pem), now=NOW)


@pytest.mark.parametrize("tamper", ["message", "topic_signed", "subject_added", "version", "signature", "key"])
def test_tampered_messages_are_refused(signer: Any, tamper: str) -> None:
    key, pem = signer
    message = sign_sns_message(notification(received()), key, certificate_url=CERT_URL)
    trust = TRUST
    if tamper == "message":
        message["Message"] = message["Message"].replace("118,00", "1,00")
    elif tamper == "topic_signed":
        message["TopicArn"] = TOPIC + "-other"
        trust = SnsTrust(topic_arns=frozenset({TOPIC, TOPIC + "-other"}))
    elif tamper == "subject_added":
        message["Subject"] = "added later"
    elif tamper == "version":
        message["SignatureVersion"] = "3"
    elif tamper == "signature":
        message["Signature"] = "not base64!"
    elif tamper == "key":
        other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        message = sign_sns_message(notification(received()), other, certificate_url=CERT_URL)
    with pytest.raises(SignatureError):
        verify_sns_message(message, trust=trust, certificates=Fetcher(pem), now=NOW)


def test_unconfigured_topic_is_refused_before_any_fetch(signer: Any) -> None:
    key, pem = signer
    fetcher = Fetcher(pem)
    message = sign_sns_message(notification("x", TopicArn="arn:aws:sns:eu-west-1:999999999999:attacker"), key,
                               certificate_url=CERT_URL)
    with pytest.raises(SignatureError):
        verify_sns_message(message, trust=TRUST, certificates=fetcher, now=NOW)
    with pytest.raises(PermanentError) as raised:  # nothing configured: nothing accepted, like a missing secret
        verify_sns_message(message, trust=SnsTrust(frozenset()), certificates=fetcher, now=NOW)
    assert raised.value.code == "misconfigured"
    assert fetcher.calls == []


def test_expired_certificate_is_refused() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    old = _certificate(key, days=30, start=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    message = sign_sns_message(notification("x"), key, certificate_url=CERT_URL)
    with pytest.raises(SignatureError):
        verify_sns_message(message, trust=TRUST, certificates=Fetcher(old), now=NOW)


# --- the endpoint ---------------------------------------------------------------------------------


def test_forged_is_403_and_stores_nothing(signer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    key, pem = signer
    spec, store = ses_channel(Fetcher(pem), TRUST), MemoryInbox()
    message = sign_sns_message(notification(received()), key, certificate_url=CERT_URL)
    message["Message"] = message["Message"].replace("Mario", "Mallory")
    assert ingest(monkeypatch, spec, http(message), secrets={}, store=store, now=NOW).response.status == 403
    other_host = sign_sns_message(notification(received()), key, certificate_url="https://evil.example/c.pem")
    assert ingest(monkeypatch, spec, http(other_host), secrets={}, store=store, now=NOW).response.status == 403
    assert store.items == {}


@pytest.mark.parametrize("encoding", ["UTF8", "BASE64"])
def test_received_mail_in_the_notification(signer: Any, encoding: str, monkeypatch: pytest.MonkeyPatch) -> None:
    key, pem = signer
    fetcher = Fetcher(pem)
    spec, store = ses_channel(fetcher, TRUST), MemoryInbox()
    message = sign_sns_message(notification(received(encoding)), key, certificate_url=CERT_URL, version="1")
    result = ingest(monkeypatch, spec, http(message), secrets={}, store=store, now=NOW)
    assert result.response.status == 200
    [event] = result.new_events
    assert event.provider == "ses" and event.event_id == MESSAGE_ID
    assert event.provider_message_id == "d6iitobk75ur44p8kdnnp7g2n800"
    assert event.sender is not None and event.sender.identity.address == "mario.rossi@gmail.com"
    assert (event.metadata["spf"], event.metadata["dkim"], event.metadata["dmarc"]) == ("PASS", "PASS", "PASS")
    assert [a.name for a in event.attachments] == ["invoice-2024-118.pdf"]
    again = sign_sns_message(notification(received(encoding), MessageId="redelivery"), key, certificate_url=CERT_URL)
    assert ingest(monkeypatch, spec, http(again), secrets={}, store=store, now=NOW).new_events == ()
    assert fetcher.calls == [CERT_URL]  # cached by URL


def test_the_same_mail_from_ses_and_sendgrid_is_one_message(signer: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.providers.sendgrid import CHANNEL as SENDGRID
    from tests.unit.email.payloads import form_data, provider_form

    key, pem = signer
    store = MemoryInbox()
    fields, files = provider_form("sendgrid_parsed.json")
    content_type, body = form_data(fields, files)
    by_sendgrid = WebhookRequest(method="POST", path="/webhooks/email/sendgrid", headers={"content-type": content_type},
                                 body=body, query={"token": "t"}, received_at=RECEIVED_AT)
    first = ingest(monkeypatch, SENDGRID, by_sendgrid, secrets={"SENDGRID_INBOUND_TOKEN": "t"}, store=store, now=NOW)
    message = sign_sns_message(notification(received()), key, certificate_url=CERT_URL)
    second = ingest(monkeypatch, ses_channel(Fetcher(pem), TRUST), http(message), secrets={}, store=store, now=NOW)
    assert len(first.new_events) == 1 and second.new_events == () and len(store.items) == 1


def test_subscription_confirmation_is_a_lifecycle_event_with_the_url(signer: Any) -> None:
    key, pem = signer
    message = sign_sns_message(fixture_json("sns_subscription_confirmation.json"), key, certificate_url=CERT_URL)
    spec = ses_channel(Fetcher(pem), TRUST)
    spec.verify(http(message), {}, NOW)
    [event] = spec.parse(http(message))
    assert event.kind is EventKind.LIFECYCLE
    assert event.metadata["lifecycle"] == "sns_subscription_confirmation"
    assert event.metadata["subscribe_url"].startswith("https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription")
    message["SubscribeURL"] = "https://evil.example/?Action=ConfirmSubscription"
    [unsafe] = spec.parse(http(message))
    assert "subscribe_url" not in unsafe.metadata  # never a URL the worker would fetch off SNS


def test_s3_action_notification_names_the_object(signer: Any) -> None:
    key, pem = signer
    message = sign_sns_message(notification(fixture_json("ses_received_s3_action.json")), key,
                               certificate_url=CERT_URL)
    [event] = ses_channel(Fetcher(pem), TRUST).parse(http(message))
    assert event.kind is EventKind.LIFECYCLE and event.event_id == "ses-s3#d6iitobk75ur44p8kdnnp7g2n800"
    assert (event.metadata["bucket"], event.metadata["object_key"]) == (
        "omnihub-prod-payloads", "inbound-email/d6iitobk75ur44p8kdnnp7g2n800")


def test_s3_object_path_gives_the_same_event() -> None:
    [event] = ses_events_from_raw(eml("multipart_pdf.eml"), received_at=RECEIVED_AT,
                                  object_key="inbound-email/d6iitobk75ur44p8kdnnp7g2n800",
                                  served_mailboxes={"support@omnihub.example"})
    assert event.event_id == MESSAGE_ID and event.provider_message_id == "d6iitobk75ur44p8kdnnp7g2n800"
    assert event.metadata["mailbox"] == "support@omnihub.example"


def test_bounce_feedback_is_a_failed_delivery_status(signer: Any) -> None:
    key, pem = signer
    message = sign_sns_message(notification(fixture_json("ses_bounce_notification.json")), key,
                               certificate_url=CERT_URL)
    [event] = ses_channel(Fetcher(pem), TRUST).parse(http(message))
    assert event.kind is EventKind.DELIVERY_STATUS and event.status is DeliveryStatus.FAILED
    assert event.provider_message_id == "0102018ff1111111-oh-reply-05-000000"
    assert (event.metadata["bounce"], event.error_code) == ("hard", "5.1.1")


def test_certificate_fetch_failure_is_retryable(signer: Any) -> None:
    key, _ = signer

    def broken(url: str) -> bytes:
        raise TimeoutError("connect timeout to 54.239.0.1")

    message = sign_sns_message(notification("x"), key, certificate_url=CERT_URL)
    with pytest.raises(RetryableError) as raised:
        ses_channel(broken, TRUST).verify(http(message), {}, NOW)
    assert "54.239" not in raised.value.reason


def test_local_certificate_is_trusted_only_on_the_local_stage(signer: Any) -> None:
    key, pem = signer
    local_url = "http://127.0.0.1:4580/_sandbox/sns/certificate.pem"
    environ = {"OMNIHUB_SES_TOPIC_ARNS": f" {TOPIC} , arn:aws:sns:eu-west-1:1:other",
               "OMNIHUB_SNS_TRUSTED_CERT_PEM": pem.decode(), "OMNIHUB_SNS_TRUSTED_CERT_URL": local_url}
    message = sign_sns_message(notification("x"), key, certificate_url=local_url)
    never = Fetcher(b"")
    local = sns_trust_from_environ(environ, "local")
    assert local.topic_arns == {TOPIC, "arn:aws:sns:eu-west-1:1:other"}
    verify_sns_message(message, trust=local, certificates=never, now=NOW)
    for stage in ("dev", "prod"):
        with pytest.raises(SignatureError):
            verify_sns_message(message, trust=sns_trust_from_environ(environ, stage), certificates=never, now=NOW)
    assert never.calls == []
