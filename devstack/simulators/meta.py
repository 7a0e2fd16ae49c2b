"""Simulator of Meta's webhooks (``GET`` + ``POST /webhooks/meta``), signed as Meta signs them.

The body is serialized like Meta's (``ensure_ascii``: non-ASCII as ``\\uXXXX``) and signed over
those exact bytes with ``META_APP_SECRET``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from chalicelib.providers.meta.signature import APP_SECRET_NAME, VERIFY_TOKEN_NAME, sign_meta_payload
from devstack.simulators.base import SimulatedRequest

PATH = "/webhooks/meta"
DEFAULT_WABA_ID = "102290129340398"
DEFAULT_PHONE_NUMBER_ID = "106540352242922"
DEFAULT_DISPLAY_PHONE_NUMBER = "15550783881"


def _wa_id(phone: str) -> str:
    """WhatsApp ids are the phone's digits without ``+`` (``whatsapp:+39...`` → ``39...``)."""
    return "".join(ch for ch in phone if ch.isdigit())


def _signed_post(secrets: Mapping[str, str], value: dict[str, Any], waba_id: str) -> SimulatedRequest:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": waba_id, "changes": [{"value": value, "field": "messages"}]}],
    }
    body = json.dumps(payload).encode()  # ensure_ascii=True, as Meta escapes non-ASCII
    return SimulatedRequest(
        method="POST",
        path=PATH,
        headers={
            "Content-Type": "application/json",
            "X-Hub-Signature-256": sign_meta_payload(secrets[APP_SECRET_NAME], body),
        },
        body=body,
    )


def _value_metadata(phone_number_id: str, display_phone_number: str) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id},
    }


def simulate_meta_message(
    secrets: Mapping[str, str],
    sender: str,
    text: str,
    *,
    name: str | None = None,
    language: str | None = None,  # WhatsApp sends no language hint; accepted for a uniform signature
    public_base_url: str = "http://127.0.0.1:8000",  # Meta signs the body only, not the URL
    event_id: str | None = None,
    timestamp: int | None = None,
    waba_id: str = DEFAULT_WABA_ID,
    phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
    display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
    reply_to: str | None = None,
) -> SimulatedRequest:
    """A WhatsApp text message from ``sender`` (a phone number in any usual form)."""
    wa_id = _wa_id(sender)
    message: dict[str, Any] = {
        "from": wa_id,
        "id": event_id or f"wamid.SIM{uuid.uuid4().hex.upper()}",
        "timestamp": str(int(time.time()) if timestamp is None else timestamp),
        "text": {"body": text},
        "type": "text",
    }
    if reply_to:
        message["context"] = {"from": display_phone_number, "id": reply_to}
    value = _value_metadata(phone_number_id, display_phone_number)
    value["contacts"] = [{"profile": {"name": name or wa_id}, "wa_id": wa_id}]
    value["messages"] = [message]
    return _signed_post(secrets, value, waba_id)


def simulate_meta_status(
    secrets: Mapping[str, str],
    message_id: str,
    status: str,
    *,
    recipient: str,
    error_code: int | None = None,
    timestamp: int | None = None,
    waba_id: str = DEFAULT_WABA_ID,
    phone_number_id: str = DEFAULT_PHONE_NUMBER_ID,
    display_phone_number: str = DEFAULT_DISPLAY_PHONE_NUMBER,
) -> SimulatedRequest:
    """A status (sent, delivered, read, failed) of a message the hub sent to ``recipient``."""
    entry: dict[str, Any] = {
        "id": message_id,
        "status": status,
        "timestamp": str(int(time.time()) if timestamp is None else timestamp),
        "recipient_id": _wa_id(recipient),
    }
    if status == "failed":
        code = 131026 if error_code is None else error_code
        entry["errors"] = [{
            "code": code,
            "title": "Message undeliverable",
            "message": "Message undeliverable",
            "error_data": {"details": "Message Undeliverable."},
        }]
    else:
        entry["conversation"] = {"id": uuid.uuid4().hex, "origin": {"type": "service"}}
        entry["pricing"] = {"billable": True, "pricing_model": "CBP", "category": "service"}
    value = _value_metadata(phone_number_id, display_phone_number)
    value["statuses"] = [entry]
    return _signed_post(secrets, value, waba_id)


def simulate_meta_verification_get(
    secrets: Mapping[str, str],
    challenge: str = "1158201444",
    *,
    verify_token: str | None = None,
) -> SimulatedRequest:
    """The subscription GET Meta sends when the callback URL is saved in the App Dashboard."""
    query = urlencode({
        "hub.mode": "subscribe",
        "hub.challenge": challenge,
        "hub.verify_token": secrets[VERIFY_TOKEN_NAME] if verify_token is None else verify_token,
    })
    return SimulatedRequest(method="GET", path=f"{PATH}?{query}")
