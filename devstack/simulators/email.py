"""Simulators of the inbound email providers, each posting one real-shaped mail as the provider does.

- SendGrid Inbound Parse: ``multipart/form-data`` to ``/webhooks/email/sendgrid?token=…`` (raw mode:
  the whole message in ``email``; parsed mode: ``headers``, ``text``, ``from``…).
- Mailgun ``forward()``: a form with ``timestamp``/``token``/``signature`` (HMAC-SHA256 with the
  signing key); parsed (urlencoded) or raw MIME (``body-mime``, multipart).
- Postmark inbound: JSON with basic auth.
- Amazon SES through SNS: a ``Notification`` posted as ``text/plain``, whose ``Message`` is SES's
  ``Received`` notification with the raw mail in ``content``, signed (SignatureVersion 2) with the
  local stack's own certificate (``sns_local/``), which only the ``local`` stage trusts
  (:func:`local_sns_environment`, set by ``make run``).

The mail itself is built with the standard library (``email.message.EmailMessage``); ``event_id``
becomes its Message-ID, so repeating it shows the hub's deduplication across providers.
"""

from __future__ import annotations

import json
import secrets as random_tokens
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from chalicelib.providers.mailgun import SECRET_NAME as MAILGUN_KEY
from chalicelib.providers.mailgun import sign_mailgun
from chalicelib.providers.postmark import PASSWORD_SECRET, USER_SECRET, basic_auth_header
from chalicelib.providers.sendgrid import SECRET_NAME as SENDGRID_TOKEN
from chalicelib.providers.ses import TOPICS_ENV, TRUSTED_CERT_PEM_ENV, TRUSTED_CERT_URL_ENV
from devstack.simulators.base import SimulatedRequest

LOCAL_MAILBOX = "support@omnihub.local"
LOCAL_SES_TOPIC_ARN = "arn:aws:sns:us-east-1:000000000000:omnihub-local-ses-inbound"
# Never an Amazon URL: the hub trusts this certificate only by this exact URL, only on the local stage.
LOCAL_SNS_CERTIFICATE_URL = "https://sns.local.omnihub.invalid/SimpleNotificationService-local.pem"
_SNS_LOCAL = Path(__file__).resolve().parent / "sns_local"
BOUNDARY_PREFIX = "----omnihub-simulator-"


def local_sns_environment() -> dict[str, str]:
    """What the local stage needs to accept :func:`simulate_ses_message`: its topic and certificate."""
    return {
        TOPICS_ENV: LOCAL_SES_TOPIC_ARN,
        TRUSTED_CERT_URL_ENV: LOCAL_SNS_CERTIFICATE_URL,
        TRUSTED_CERT_PEM_ENV: (_SNS_LOCAL / "certificate.pem").read_text(),
    }


def simulated_mail(sender: str, text: str, *, name: str | None = None, language: str | None = None,
                   message_id: str | None = None, to: str = LOCAL_MAILBOX, subject: str | None = None) -> bytes:
    """One plain-text mail as a mail client writes it (CRLF line ends, RFC 2047 where needed)."""
    mail = EmailMessage()
    mail["From"] = formataddr((name or "", sender))
    mail["To"] = to
    mail["Subject"] = subject or f"Question: {text[:40]}"
    mail["Date"] = format_datetime(datetime.now(UTC))
    mail["Message-ID"] = _message_id(message_id)
    if language:
        mail["Content-Language"] = language
    mail.set_content(text)
    return mail.as_bytes(policy=mail.policy.clone(linesep="\r\n"))


def _message_id(event_id: str | None) -> str:
    if not event_id:
        return make_msgid(domain="mail.example.com")
    if event_id.startswith("<"):
        return event_id
    return f"<{event_id}>" if "@" in event_id else f"<{event_id}@mail.example.com>"


def _multipart(fields: list[tuple[str, str | bytes]]) -> tuple[str, bytes]:
    boundary = BOUNDARY_PREFIX + random_tokens.token_hex(8)
    chunks = []
    for field, value in fields:
        data = value.encode("utf-8") if isinstance(value, str) else value
        chunks.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n'.encode()
                      + data + b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(chunks)


def _header_block(raw: bytes) -> str:
    return raw.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace") + "\r\n"


def simulate_sendgrid_message(
    secrets: Mapping[str, str], sender: str, text: str, *, name: str | None = None, language: str | None = None,
    public_base_url: str = "http://127.0.0.1:8000", event_id: str | None = None, mode: str = "raw",
    to: str = LOCAL_MAILBOX, subject: str | None = None,
) -> SimulatedRequest:
    """SendGrid Inbound Parse, raw (``mode=raw``) or parsed (``mode=parsed``); the token in the URL."""
    del public_base_url  # SendGrid signs nothing: the token in the URL is the check
    raw = simulated_mail(sender, text, name=name, language=language, message_id=event_id, to=to, subject=subject)
    common: list[tuple[str, str | bytes]] = [
        ("envelope", json.dumps({"to": [to], "from": sender})),
        ("charsets", json.dumps({"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8", "text": "utf-8"})),
        ("SPF", "pass"), ("dkim", "{@mail.example.com : pass}"),
    ]
    if mode == "parsed":
        fields: list[tuple[str, str | bytes]] = [
            ("headers", _header_block(raw)), ("from", formataddr((name or "", sender))), ("to", to),
            ("subject", subject or f"Question: {text[:40]}"), ("text", text + "\n"), ("spam_score", "0.1"),
            *common,
        ]
    else:
        fields = [*common, ("email", raw)]
    content_type, body = _multipart(fields)
    return SimulatedRequest(
        method="POST", path="/webhooks/email/sendgrid?token=" + quote(secrets[SENDGRID_TOKEN], safe=""),
        headers={"Content-Type": content_type, "User-Agent": "Sendlib/1.0"}, body=body,
    )


def simulate_mailgun_message(
    secrets: Mapping[str, str], sender: str, text: str, *, name: str | None = None, language: str | None = None,
    public_base_url: str = "http://127.0.0.1:8000", event_id: str | None = None, mode: str = "parsed",
    to: str = LOCAL_MAILBOX, subject: str | None = None, timestamp: int | None = None,
) -> SimulatedRequest:
    """Mailgun's ``forward()`` post: parsed fields (urlencoded) or the raw MIME (``mode=mime``), signed."""
    del public_base_url  # the signature covers timestamp and token only
    raw = simulated_mail(sender, text, name=name, language=language, message_id=event_id, to=to, subject=subject)
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    token = random_tokens.token_hex(25)  # Mailgun's tokens are 50 characters
    signed = sign_mailgun(secrets[MAILGUN_KEY], stamp, token)
    signature = [("timestamp", stamp), ("token", token), ("signature", signed)]
    envelope = [("recipient", to), ("sender", sender), ("from", formataddr((name or "", sender))),
                ("subject", subject or f"Question: {text[:40]}")]
    if mode == "mime":
        content_type, body = _multipart([*envelope, ("body-mime", raw), *signature])
    else:
        headers = [[k, v] for k, v in _header_pairs(raw)]
        message_id = next((v for k, v in headers if k.lower() == "message-id"), "")
        fields = [*envelope, ("body-plain", text + "\n"), ("stripped-text", text),
                  ("message-headers", json.dumps(headers)), ("Message-Id", message_id), *signature]
        content_type, body = "application/x-www-form-urlencoded", urlencode(fields).encode()
    return SimulatedRequest(method="POST", path="/webhooks/email/mailgun",
                            headers={"Content-Type": content_type, "User-Agent": "mailgun/treq-16.12.0"}, body=body)


def _header_pairs(raw: bytes) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for line in _header_block(raw).split("\r\n"):
        if line[:1] in (" ", "\t") and pairs:
            pairs[-1] = (pairs[-1][0], pairs[-1][1] + " " + line.strip())
        elif ":" in line:
            field, _, value = line.partition(":")
            pairs.append((field.strip(), value.strip()))
    return pairs


def simulate_postmark_message(
    secrets: Mapping[str, str], sender: str, text: str, *, name: str | None = None, language: str | None = None,
    public_base_url: str = "http://127.0.0.1:8000", event_id: str | None = None, to: str = LOCAL_MAILBOX,
    subject: str | None = None, raw_email: str = "",
) -> SimulatedRequest:
    """Postmark's inbound JSON with basic auth; ``raw_email=1`` adds ``RawEmail`` (the account option)."""
    del public_base_url
    raw = simulated_mail(sender, text, name=name, language=language, message_id=event_id, to=to, subject=subject)
    headers = dict(_header_pairs(raw))
    payload: dict[str, Any] = {
        "FromName": name or "", "From": sender, "FromFull": {"Email": sender, "Name": name or "", "MailboxHash": ""},
        "To": to, "ToFull": [{"Email": to, "Name": "", "MailboxHash": ""}], "Cc": "", "CcFull": [],
        "OriginalRecipient": to, "Subject": headers.get("Subject", ""), "MessageID": str(uuid.uuid4()),
        "ReplyTo": "", "MailboxHash": "", "Date": headers.get("Date", ""), "TextBody": text + "\n",
        "HtmlBody": "", "StrippedTextReply": "", "Tag": "", "Attachments": [],
        "Headers": [{"Name": k, "Value": v} for k, v in headers.items()
                    if k.lower() not in ("from", "to", "subject", "date")],
    }
    if raw_email:
        payload["RawEmail"] = raw.decode("utf-8")
    return SimulatedRequest(
        method="POST", path="/webhooks/email/postmark",
        headers={"Content-Type": "application/json",
                 "Authorization": basic_auth_header(secrets[USER_SECRET], secrets[PASSWORD_SECRET])},
        body=json.dumps(payload, ensure_ascii=False).encode(),
    )


def simulate_ses_message(
    secrets: Mapping[str, str], sender: str, text: str, *, name: str | None = None, language: str | None = None,
    public_base_url: str = "http://127.0.0.1:8000", event_id: str | None = None, to: str = LOCAL_MAILBOX,
    subject: str | None = None, topic_arn: str = LOCAL_SES_TOPIC_ARN, signature_version: str = "2",
    action: str = "sns", s3_endpoint: str | None = None,
) -> SimulatedRequest:
    """An SES receipt rule's SNS action (``action=sns``: the mail in the notification), or its S3 action
    (``action=s3``: the mail written to the local payload bucket under the mail-objects prefix, which the
    bucket's notification delivers to the hub, and the SNS notification naming the object), signed by the
    local certificate. ``s3_endpoint``: the local AWS (default ``$AWS_ENDPOINT_URL`` or :4566; ``aws``:
    boto3's own endpoint, as the in-process tests mock it)."""
    del secrets, public_base_url  # SNS signs with its certificate, not with a shared secret
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from chalicelib.providers.sns import sign_sns_message

    raw = simulated_mail(sender, text, name=name, language=language, message_id=event_id, to=to, subject=subject)
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    ses_id = random_tokens.token_hex(20)
    if action == "s3":
        bucket, object_key = _write_mail_object(raw, ses_id, s3_endpoint)
        rule_action: dict[str, Any] = {"type": "S3", "topicArn": topic_arn, "bucketName": bucket,
                                       "objectKeyPrefix": object_key.rsplit("/", 1)[0], "objectKey": object_key}
    else:
        rule_action = {"type": "SNS", "topicArn": topic_arn, "encoding": "UTF8"}
    notification = {
        "notificationType": "Received",
        "mail": {"timestamp": now, "source": sender, "messageId": ses_id, "destination": [to],
                 "headersTruncated": False},
        "receipt": {"timestamp": now, "processingTimeMillis": 312, "recipients": [to],
                    "spamVerdict": {"status": "PASS"}, "virusVerdict": {"status": "PASS"},
                    "spfVerdict": {"status": "PASS"}, "dkimVerdict": {"status": "PASS"},
                    "dmarcVerdict": {"status": "PASS"},
                    "action": rule_action},
    }
    if action != "s3":
        notification["content"] = raw.decode("utf-8")
    message = {
        "Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": topic_arn,
        "Subject": "Amazon SES Email Receipt Notification", "Message": json.dumps(notification), "Timestamp": now,
        "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
    }
    key = load_pem_private_key((_SNS_LOCAL / "private_key.pem").read_bytes(), password=None)
    signed = sign_sns_message(message, key, certificate_url=LOCAL_SNS_CERTIFICATE_URL, version=signature_version)
    return SimulatedRequest(
        method="POST", path="/webhooks/email/ses",
        headers={"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification",
                 "x-amz-sns-message-id": message["MessageId"], "x-amz-sns-topic-arn": topic_arn,
                 "User-Agent": "Amazon Simple Notification Service Agent"},
        body=json.dumps(signed).encode(),
    )


def _write_mail_object(raw: bytes, ses_id: str, s3_endpoint: str | None) -> tuple[str, str]:
    """Put the mail where SES's S3 action would: the stage's payload bucket, under the mail-objects prefix."""
    import os

    import boto3

    from chalicelib.adapters import resources

    endpoint = None if s3_endpoint == "aws" else (s3_endpoint or os.environ.get("AWS_ENDPOINT_URL",
                                                                              "http://127.0.0.1:4566"))
    bucket = os.environ.get("OMNIHUB_BUCKET") or resources.bucket_name(os.environ.get("OMNIHUB_STAGE", "local"))
    key = f"{resources.MAIL_OBJECTS_PREFIX}{ses_id}"
    client = boto3.session.Session().client(
        "s3", endpoint_url=endpoint, region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"))
    client.put_object(Bucket=bucket, Key=key, Body=raw)
    return bucket, key
