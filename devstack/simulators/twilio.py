"""Simulators of Twilio's messaging webhooks: form-encoded, signed over the public URL as Twilio signs."""

from __future__ import annotations

import secrets as random_tokens
from collections.abc import Mapping
from urllib.parse import urlencode

from chalicelib.core.language import country_of_phone
from chalicelib.providers.twilio import SECRET_NAME, sign_twilio_request
from devstack.simulators.base import SimulatedRequest

MESSAGING_PATH = "/webhooks/twilio/messaging"
STATUS_PATH = "/webhooks/twilio/status"
DEFAULT_BUSINESS_NUMBER = "+15017122661"
DEFAULT_ACCOUNT_SID = "AC" + "0" * 32


def new_message_sid() -> str:
    return "SM" + random_tokens.token_hex(16)


def _signed_form(
    secrets: Mapping[str, str], public_base_url: str, path: str, params: list[tuple[str, str]]
) -> SimulatedRequest:
    url = public_base_url.rstrip("/") + path
    return SimulatedRequest(
        method="POST",
        path=path,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": sign_twilio_request(secrets[SECRET_NAME], url, params),
            "I-Twilio-Idempotency-Token": random_tokens.token_hex(16),
            "User-Agent": "TwilioProxy/1.1",
        },
        body=urlencode(params).encode(),
    )


def simulate_twilio_messaging_message(
    secrets: Mapping[str, str],
    sender: str,
    text: str,
    *,
    name: str | None = None,
    language: str | None = None,  # Twilio sends no language hint: accepted and ignored
    public_base_url: str = "http://127.0.0.1:8000",
    event_id: str | None = None,
    channel: str = "sms",
    to: str = DEFAULT_BUSINESS_NUMBER,
    country: str | None = None,
    media: tuple[tuple[str, str], ...] = (),
    account_sid: str = DEFAULT_ACCOUNT_SID,
) -> SimulatedRequest:
    """An inbound SMS (``channel="sms"``) or WhatsApp message (``channel="whatsapp"``).

    ``sender`` is the customer's E.164 number; ``media`` is ``((url, content_type), ...)``.
    """
    if channel not in ("sms", "whatsapp"):
        raise ValueError("channel must be 'sms' or 'whatsapp'")
    message_sid = event_id or new_message_sid()
    prefix = "whatsapp:" if channel == "whatsapp" else ""
    params: list[tuple[str, str]] = [
        ("SmsMessageSid", message_sid),
        ("NumMedia", str(len(media))),
    ]
    if name and channel == "whatsapp":
        params.append(("ProfileName", name))
    if channel == "whatsapp":
        params += [("MessageType", "image" if media and not text else "text"), ("WaId", sender.lstrip("+"))]
    else:
        # Twilio derives FromCountry from the number; so does the simulator.
        params.append(("FromCountry", country or country_of_phone(sender) or "US"))
    params += [
        ("SmsSid", message_sid),
        ("SmsStatus", "received"),
        ("Body", text),
        ("To", prefix + to),
        ("NumSegments", "1"),
        ("ReferralNumMedia", "0"),
        ("MessageSid", message_sid),
        ("AccountSid", account_sid),
        ("From", prefix + sender),
        ("ApiVersion", "2010-04-01"),
    ]
    for index, (url, content_type) in enumerate(media):
        params += [(f"MediaContentType{index}", content_type), (f"MediaUrl{index}", url)]
    return _signed_form(secrets, public_base_url, MESSAGING_PATH, params)


def simulate_twilio_status(
    secrets: Mapping[str, str],
    message_sid: str,
    status: str,
    *,
    to: str = "+15558675310",
    channel: str = "sms",
    error_code: str | None = None,
    error_message: str | None = None,
    public_base_url: str = "http://127.0.0.1:8000",
    account_sid: str = DEFAULT_ACCOUNT_SID,
    from_: str = DEFAULT_BUSINESS_NUMBER,
) -> SimulatedRequest:
    """A status callback for a message the hub sent (``queued``, ``sent``, ``delivered``, ...)."""
    prefix = "whatsapp:" if channel == "whatsapp" else ""
    params: list[tuple[str, str]] = [
        ("AccountSid", account_sid),
        ("From", prefix + from_),
        ("ApiVersion", "2010-04-01"),
    ]
    if error_code:
        params.append(("ErrorCode", error_code))
    if error_message:
        params.append(("ErrorMessage", error_message))
    params += [
        ("SmsStatus", status),
        ("SmsSid", message_sid),
        ("MessageStatus", status),
        ("MessageSid", message_sid),
        ("To", prefix + to),
    ]
    return _signed_form(secrets, public_base_url, STATUS_PATH, params)
