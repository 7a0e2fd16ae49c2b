"""Each webhook endpoint's request, signed with the test secrets exactly as its provider signs it."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

from tests.conftest import TEST_SECRETS

BASE_URL = "https://hub.example.com"  # PUBLIC_BASE_URL of the fuzz hub


@dataclass(frozen=True)
class FuzzRequest:
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # A form whose signature travels in its own fields (Mailgun): the fields and whether multipart.
    form: tuple[tuple[str, str | bytes], ...] | None = None
    multipart: bool = False


def sign_api(body: bytes, *, secret: str | None = None, timestamp: int | None = None) -> FuzzRequest:
    from tests.helpers import signed_headers

    return FuzzRequest("POST", "/webhooks/api", body, signed_headers(body, secret=secret, timestamp=timestamp))


def sign_twilio(path: str, pairs: list[tuple[str, str]], *, secret: str | None = None) -> FuzzRequest:
    return sign_twilio_raw(path, form_body(pairs), secret=secret)


def form_body(pairs: list[tuple[str, str]]) -> bytes:
    """A form as Twilio posts it (a lone surrogate goes out as its UTF-8-ish bytes, percent-encoded)."""
    return urlencode([(name, value.encode("utf-8", "surrogatepass")) for name, value in pairs]).encode()


def sign_twilio_raw(path: str, body: bytes, *, secret: str | None = None) -> FuzzRequest:
    """A raw form body, signed over the parameters the hub will read from it (so it passes the gate)."""
    from urllib.parse import parse_qsl

    from chalicelib.providers.twilio import sign_twilio_request

    token = secret or TEST_SECRETS["TWILIO_AUTH_TOKEN"]
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        pairs = []
    return FuzzRequest("POST", path, body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": sign_twilio_request(token, BASE_URL + path, pairs),
    })


def sign_meta(body: bytes, *, secret: str | None = None) -> FuzzRequest:
    from chalicelib.providers.meta.signature import sign_meta_payload

    return FuzzRequest("POST", "/webhooks/meta", body, {
        "Content-Type": "application/json",
        "X-Hub-Signature-256": sign_meta_payload(secret or TEST_SECRETS["META_APP_SECRET"], body),
    })


def sign_telegram(body: bytes, *, secret: str | None = None, bot: str = "support_bot") -> FuzzRequest:
    return FuzzRequest("POST", f"/webhooks/telegram/{bot}", body, {
        "Content-Type": "application/json",
        "X-Telegram-Bot-Api-Secret-Token": secret or TEST_SECRETS["TELEGRAM_SECRET_TOKEN"],
    })


def sign_line(body: bytes, *, secret: str | None = None) -> FuzzRequest:
    from chalicelib.providers.line import sign_line_body

    return FuzzRequest("POST", "/webhooks/line", body, {
        "Content-Type": "application/json; charset=utf-8",
        "x-line-signature": sign_line_body(secret or TEST_SECRETS["LINE_CHANNEL_SECRET"], body),
    })


def sign_viber(body: bytes, *, secret: str | None = None) -> FuzzRequest:
    from chalicelib.providers.viber import sign_viber_body

    return FuzzRequest("POST", "/webhooks/viber", body, {
        "Content-Type": "application/json",
        "X-Viber-Content-Signature": sign_viber_body(secret or TEST_SECRETS["VIBER_AUTH_TOKEN"], body),
    })


def sign_vonage(body: bytes, *, secret: str | None = None, issued_at: int | None = None,
                path: str = "/webhooks/vonage/messages") -> FuzzRequest:
    from chalicelib.providers.vonage import sign_vonage_webhook

    iat = int(time.time()) if issued_at is None else issued_at
    authorization = sign_vonage_webhook(secret or TEST_SECRETS["VONAGE_SIGNATURE_SECRET"], body,
                                        issued_at=iat, jti=str(uuid.uuid4()))
    return FuzzRequest("POST", path, body, {"Content-Type": "application/json", "Authorization": authorization})


def sign_vonage_voice_answer(body: bytes, **options: Any) -> FuzzRequest:
    """The answer URL configured as POST (JSON); its default GET form is tested in tests/unit/telephony."""
    return sign_vonage(body, path="/webhooks/vonage/voice/answer", **options)


def sign_vonage_voice_event(body: bytes, **options: Any) -> FuzzRequest:
    return sign_vonage(body, path="/webhooks/vonage/voice/event", **options)


def sign_x(body: bytes, *, secret: str | None = None) -> FuzzRequest:
    from chalicelib.providers.x import SIGNATURE_HEADER as X_HEADER
    from chalicelib.providers.x import sign_x_payload

    return FuzzRequest("POST", "/webhooks/x", body, {
        "Content-Type": "application/json; charset=utf-8",
        X_HEADER: sign_x_payload(secret or TEST_SECRETS["X_CONSUMER_SECRET"], body),
    })


# ------------------------------------------------------------------ email
# The email providers' secrets (not in the shared TEST_SECRETS); conftest sets them with the SES trust.
EMAIL_SECRETS = {
    "SENDGRID_INBOUND_TOKEN": "fuzz-sendgrid-token",
    "MAILGUN_SIGNING_KEY": "fuzz-mailgun-signing-key",
    "POSTMARK_INBOUND_USER": "fuzz-postmark-user",
    "POSTMARK_INBOUND_PASSWORD": "fuzz-postmark-password",
    "SENDGRID_EVENT_PUBLIC_KEY": "",  # filled below from the fuzz key pair
}
SENDGRID_EVENT_KEY_SCALAR = 0xF022_5E9D_0001  # the fuzz suite's P-256 private key for SendGrid's Event Webhook


def _sendgrid_event_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.derive_private_key(SENDGRID_EVENT_KEY_SCALAR, ec.SECP256R1())


def _sendgrid_event_public_key() -> str:
    import base64

    from cryptography.hazmat.primitives import serialization

    return base64.b64encode(_sendgrid_event_key().public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()


EMAIL_SECRETS["SENDGRID_EVENT_PUBLIC_KEY"] = _sendgrid_event_public_key()


def sign_sendgrid_event(body: bytes, *, secret: str | None = None, timestamp: int | None = None) -> FuzzRequest:
    """SendGrid's Event Webhook: base64 DER ECDSA P-256/SHA-256 over the timestamp header + the raw body
    (``secret``: sign with another private key, derived from that text)."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    stamp = str(int(time.time()) if timestamp is None else timestamp)
    key = (ec.derive_private_key(int.from_bytes(hashlib.sha256(secret.encode()).digest()[:16], "big"),
                                 ec.SECP256R1()) if secret else _sendgrid_event_key())
    signature = key.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return FuzzRequest("POST", "/webhooks/email/sendgrid/events", body, {
        "Content-Type": "application/json",
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
    })


def email_environment() -> dict[str, str]:
    """The secrets and, for SES, the local stage's topic and trusted certificate (as ``make run`` sets)."""
    from devstack.simulators.email import local_sns_environment

    return {**EMAIL_SECRETS, **local_sns_environment()}


def sign_postmark(body: bytes, *, secret: str | None = None,
                  path: str = "/webhooks/email/postmark") -> FuzzRequest:
    from chalicelib.providers.postmark import basic_auth_header

    password = secret or EMAIL_SECRETS["POSTMARK_INBOUND_PASSWORD"]
    return FuzzRequest("POST", path, body, {
        "Content-Type": "application/json",
        "Authorization": basic_auth_header(EMAIL_SECRETS["POSTMARK_INBOUND_USER"], password),
    })


def multipart(fields: list[tuple[str, str | bytes]], boundary: str = "xYzZY0f1e2d3c4b5a6") -> tuple[str, bytes]:
    from tests.unit.email.payloads import form_data

    # A lone surrogate goes out as its UTF-8-ish bytes, as a careless client would send it.
    return form_data([(k, v if isinstance(v, bytes) else v.encode("utf-8", "surrogatepass")) for k, v in fields],
                     boundary=boundary)


def sign_sendgrid(fields: list[tuple[str, str | bytes]], *, secret: str | None = None,
                  via: str = "query") -> FuzzRequest:
    """SendGrid signs nothing: its token goes in ``?token=`` or as the basic-auth password."""
    from chalicelib.providers.postmark import basic_auth_header

    token = secret or EMAIL_SECRETS["SENDGRID_INBOUND_TOKEN"]
    content_type, body = multipart(fields)
    headers = {"Content-Type": content_type}
    path = "/webhooks/email/sendgrid"
    if via == "query":
        path += "?token=" + quote(token, safe="")
    else:
        headers["Authorization"] = basic_auth_header("sendgrid", token)
    return FuzzRequest("POST", path, body, headers, form=tuple(fields), multipart=True)


def sign_mailgun_form(fields: list[tuple[str, str | bytes]], *, secret: str | None = None,
                      multipart_form: bool = False, timestamp: int | None = None,
                      token: str | None = None) -> FuzzRequest:
    """Mailgun's forward(): ``timestamp``/``token``/``signature`` fields, signed by the provider's rule."""
    from chalicelib.providers.mailgun import sign_mailgun

    stamp = str(int(time.time()) if timestamp is None else timestamp)
    token = token or uuid.uuid4().hex + uuid.uuid4().hex[:18]  # 50 characters, as Mailgun's
    signature = sign_mailgun(secret or EMAIL_SECRETS["MAILGUN_SIGNING_KEY"], stamp, token)
    unsigned = [(k, v) for k, v in fields if k not in ("timestamp", "token", "signature")]
    return mailgun_request([*unsigned, ("timestamp", stamp), ("token", token), ("signature", signature)],
                           multipart_form)


def sign_mailgun_event(body: bytes, *, secret: str | None = None, timestamp: int | None = None) -> FuzzRequest:
    """Mailgun's event webhook: the ``signature`` block inside the JSON body (a body that is no JSON
    object cannot carry one and goes unsigned)."""
    from chalicelib.providers.mailgun import sign_mailgun

    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested deeper than the test's own parser goes
        document = None
    if isinstance(document, dict):
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        token = uuid.uuid4().hex + uuid.uuid4().hex[:18]
        signature = sign_mailgun(secret or EMAIL_SECRETS["MAILGUN_SIGNING_KEY"], stamp, token)
        document["signature"] = {"timestamp": stamp, "token": token, "signature": signature}
        body = json.dumps(document).encode()
    return FuzzRequest("POST", "/webhooks/email/mailgun/events", body, {"Content-Type": "application/json"})


def mailgun_request(fields: list[tuple[str, str | bytes]], multipart_form: bool) -> FuzzRequest:
    if multipart_form:
        content_type, body = multipart(fields)
    else:
        content_type = "application/x-www-form-urlencoded"
        body = urlencode([(k, v if isinstance(v, bytes) else v.encode("utf-8", "surrogatepass"))
                          for k, v in fields]).encode()
    return FuzzRequest("POST", "/webhooks/email/mailgun", body, {"Content-Type": content_type},
                       form=tuple(fields), multipart=multipart_form)


@cache
def _sns_keys() -> tuple[Any, Any]:
    """The local stack's SNS signing key (the one the local stage trusts) and a stranger's."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from devstack.simulators.email import _SNS_LOCAL

    local = load_pem_private_key((_SNS_LOCAL / "private_key.pem").read_bytes(), password=None)
    return local, rsa.generate_private_key(public_exponent=65537, key_size=2048)


def sns_envelope(message: str, **fields: str) -> dict[str, Any]:
    from devstack.simulators.email import LOCAL_SES_TOPIC_ARN

    return {"Type": "Notification", "MessageId": str(uuid.uuid4()), "TopicArn": LOCAL_SES_TOPIC_ARN,
            "Subject": "Amazon SES Email Receipt Notification", "Message": message,
            "Timestamp": "2026-11-22T20:08:29.123Z",
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe", **fields}


def sign_sns(envelope: dict[str, Any], *, secret: str | None = None, version: str = "2") -> FuzzRequest:
    """An SNS envelope signed by the provider's own rule with the local key (``secret``: a stranger's key)."""
    from chalicelib.providers.sns import sign_sns_message
    from devstack.simulators.email import LOCAL_SNS_CERTIFICATE_URL

    local, stranger = _sns_keys()
    signed = sign_sns_message(envelope, stranger if secret else local, certificate_url=LOCAL_SNS_CERTIFICATE_URL,
                              version=version)
    return ses_request(json.dumps(signed).encode())


def ses_request(body: bytes) -> FuzzRequest:
    return FuzzRequest("POST", "/webhooks/email/ses", body, {
        "Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification"})


def sign_ses(body: bytes, *, secret: str | None = None) -> FuzzRequest:
    """``body`` is the SES notification (the SNS ``Message``), however mutated; the envelope is signed."""
    return sign_sns(sns_envelope(body.decode("utf-8", "replace")), secret=secret)


# endpoint name (the registry's) → how its JSON body is signed; Twilio's forms are signed separately.
JSON_SIGNERS: dict[str, Callable[..., FuzzRequest]] = {
    "api": sign_api,
    "meta": sign_meta,
    "telegram": sign_telegram,
    "line": sign_line,
    "viber": sign_viber,
    "vonage_messages": sign_vonage,
    "vonage_voice_answer": sign_vonage_voice_answer,
    "vonage_voice_event": sign_vonage_voice_event,
    "x": sign_x,
    "postmark": sign_postmark,
    "mailgun_events": sign_mailgun_event,
    "sendgrid_events": sign_sendgrid_event,
    "postmark_events": lambda body, **options: sign_postmark(body, path="/webhooks/email/postmark/events", **options),
    "ses": sign_ses,
}
# Multipart or urlencoded email forms, signed from their fields.
EMAIL_FORM_SIGNERS: dict[str, Callable[..., FuzzRequest]] = {"sendgrid": sign_sendgrid, "mailgun": sign_mailgun_form}
FORM_ENDPOINTS = {"twilio_messaging": "/webhooks/twilio/messaging", "twilio_status": "/webhooks/twilio/status",
                  "twilio_voice": "/webhooks/twilio/voice", "twilio_voice_status": "/webhooks/twilio/voice/status",
                  "twilio_voice_action": "/webhooks/twilio/voice/action",
                  "twilio_voice_recording": "/webhooks/twilio/voice/recording",
                  "twilio_voice_transcription": "/webhooks/twilio/voice/transcription"}
# Twilio form endpoint → its fixture folder, and the fixtures (name prefixes) it must accept unmutated.
FORM_FIXTURES = {endpoint: "voice/twilio" if "voice" in endpoint else "twilio" for endpoint in FORM_ENDPOINTS}
VOICE_FORM_FIXTURES = {"twilio_voice": "call_", "twilio_voice_status": "status_", "twilio_voice_action": "action_",
                       "twilio_voice_recording": "recording_", "twilio_voice_transcription": "transcription_"}
VONAGE_ENDPOINTS = ("vonage_messages", "vonage_voice_answer", "vonage_voice_event")
FIXTURE_DIR = {"api": None, "meta": "meta", "telegram": "telegram", "line": "line", "viber": "viber",
               "vonage_messages": "vonage", "twilio_messaging": "twilio", "twilio_status": "twilio",
               "vonage_voice_answer": "voice/vonage/answer.json", "vonage_voice_event": "voice/vonage/event_*.json",
               **{endpoint: "voice/twilio" for endpoint in VOICE_FORM_FIXTURES},
               "x": "x", "postmark": "email/postmark_*.json",
               "postmark_events": "email/events/postmark_*.json", "mailgun_events": "email/events/mailgun_*.json",
               "sendgrid_events": "email/events/sendgrid_*.json",
               "ses": "email/ses_*.json",
               "sendgrid": "email/sendgrid_parsed.json", "mailgun": "email/mailgun_parsed.json"}
# The signature header each endpoint checks (the forged strategies drop, garble or replay it).
SIGNATURE_HEADER = {
    "api": "X-Omnihub-Signature", "meta": "X-Hub-Signature-256", "telegram": "X-Telegram-Bot-Api-Secret-Token",
    "line": "x-line-signature", "viber": "X-Viber-Content-Signature", "vonage_messages": "Authorization",
    "twilio_messaging": "X-Twilio-Signature", "twilio_status": "X-Twilio-Signature",
    **{endpoint: "X-Twilio-Signature" for endpoint in VOICE_FORM_FIXTURES},
    "vonage_voice_answer": "Authorization", "vonage_voice_event": "Authorization",
    "x": "x-twitter-webhooks-signature", "postmark": "Authorization", "postmark_events": "Authorization",
    # Carried elsewhere (see credential/with_credential): SendGrid's token in the query or basic auth,
    # Mailgun's signature field of the form, the SNS envelope's Signature.
    "sendgrid": "Authorization", "mailgun": "signature", "mailgun_events": "signature", "ses": "Signature",
    "sendgrid_events": "X-Twilio-Email-Event-Webhook-Signature",
}
# The status a forged request gets (each provider's "stop retrying" answer); 401 unless listed.
FORGED_STATUS = {"sendgrid": 403, "mailgun": 406, "postmark": 403, "postmark_events": 403, "mailgun_events": 406,
                 "ses": 403, "sendgrid_events": 403}


def credential(endpoint: str, request: FuzzRequest) -> str:
    """The signature or token as the request carries it."""
    if endpoint == "sendgrid" and "?" in request.path:
        return dict(parse_qsl(urlsplit(request.path).query)).get("token", "")
    if endpoint == "mailgun":
        return str(dict(request.form or ()).get("signature", ""))
    if endpoint == "ses":
        return str(json.loads(request.body).get("Signature", ""))
    if endpoint == "mailgun_events":
        return str(_mailgun_event_block(request).get("signature", ""))
    return request.headers.get(SIGNATURE_HEADER[endpoint], "")


def with_credential(endpoint: str, request: FuzzRequest, value: str | None) -> FuzzRequest:
    """The same request carrying ``value`` where its signature or token goes (``None``: none at all)."""
    if endpoint == "sendgrid" and "?" in request.path:
        path = urlsplit(request.path).path + ("" if value is None else "?token=" + quote(value, safe=""))
        return replace(request, path=path)
    if endpoint == "mailgun":
        fields = [(k, v) for k, v in request.form or () if k != "signature"]
        return mailgun_request(fields + ([] if value is None else [("signature", value)]), request.multipart)
    if endpoint == "mailgun_events":
        try:
            document = json.loads(request.body)
        except (ValueError, RecursionError):
            return request
        if not isinstance(document, dict) or not isinstance(document.get("signature"), dict):
            return request
        block = {k: v for k, v in document["signature"].items() if k != "signature"}
        document["signature"] = block if value is None else {**block, "signature": value}
        return replace(request, body=json.dumps(document).encode())
    if endpoint == "ses":
        envelope = json.loads(request.body)
        envelope.pop("Signature", None)
        return ses_request(json.dumps(envelope if value is None else {**envelope, "Signature": value}).encode())
    header = SIGNATURE_HEADER[endpoint]
    headers = {k: v for k, v in request.headers.items() if k.lower() != header.lower()}
    if value is not None:
        headers[header] = value
    return replace(request, headers=headers)


def send(client: Any, request: FuzzRequest) -> Any:
    if request.method == "GET":
        return client.http.get(request.path, headers=request.headers)
    return client.http.post(request.path, body=request.body, headers=request.headers)


def _mailgun_event_block(request: FuzzRequest) -> dict[str, Any]:
    try:
        document = json.loads(request.body)
    except (ValueError, RecursionError):
        return {}
    block = document.get("signature") if isinstance(document, dict) else None
    return block if isinstance(block, dict) else {}
