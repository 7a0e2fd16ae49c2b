"""Each webhook endpoint's request, signed with the test secrets exactly as its provider signs it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from tests.conftest import TEST_SECRETS

BASE_URL = "https://hub.example.com"  # PUBLIC_BASE_URL of the fuzz hub


@dataclass(frozen=True)
class FuzzRequest:
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


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


def sign_vonage(body: bytes, *, secret: str | None = None, issued_at: int | None = None) -> FuzzRequest:
    from chalicelib.providers.vonage import sign_vonage_webhook

    iat = int(time.time()) if issued_at is None else issued_at
    authorization = sign_vonage_webhook(secret or TEST_SECRETS["VONAGE_SIGNATURE_SECRET"], body,
                                        issued_at=iat, jti=str(uuid.uuid4()))
    return FuzzRequest("POST", "/webhooks/vonage/messages", body,
                       {"Content-Type": "application/json", "Authorization": authorization})


# endpoint name (the registry's) → how its JSON body is signed; Twilio's forms are signed separately.
JSON_SIGNERS: dict[str, Callable[..., FuzzRequest]] = {
    "api": sign_api,
    "meta": sign_meta,
    "telegram": sign_telegram,
    "line": sign_line,
    "viber": sign_viber,
    "vonage_messages": sign_vonage,
}
FORM_ENDPOINTS = {"twilio_messaging": "/webhooks/twilio/messaging", "twilio_status": "/webhooks/twilio/status"}
FIXTURE_DIR = {"api": None, "meta": "meta", "telegram": "telegram", "line": "line", "viber": "viber",
               "vonage_messages": "vonage", "twilio_messaging": "twilio", "twilio_status": "twilio"}
# The signature header each endpoint checks (the forged strategies drop, garble or replay it).
SIGNATURE_HEADER = {
    "api": "X-Omnihub-Signature", "meta": "X-Hub-Signature-256", "telegram": "X-Telegram-Bot-Api-Secret-Token",
    "line": "x-line-signature", "viber": "X-Viber-Content-Signature", "vonage_messages": "Authorization",
    "twilio_messaging": "X-Twilio-Signature", "twilio_status": "X-Twilio-Signature",
}


def send(client: Any, request: FuzzRequest) -> Any:
    if request.method == "GET":
        return client.http.get(request.path, headers=request.headers)
    return client.http.post(request.path, body=request.body, headers=request.headers)
