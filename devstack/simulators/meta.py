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


# --- Messenger and Instagram: direct messages, comments, mentions ---------------------------------

DEFAULT_PAGE_ID = "106445795700891"
DEFAULT_IG_ACCOUNT_ID = "17841405822304914"
DEFAULT_POST_ID = "122103456789012345"
_SOCIAL_KINDS = {"messenger": ("dm", "comment"), "instagram": ("dm", "comment", "mention")}


def _signed_object(secrets: Mapping[str, str], object_name: str, entry: dict[str, Any]) -> SimulatedRequest:
    body = json.dumps({"object": object_name, "entry": [entry]}).encode()
    return SimulatedRequest(method="POST", path=PATH, body=body, headers={
        "Content-Type": "application/json",
        "X-Hub-Signature-256": sign_meta_payload(secrets[APP_SECRET_NAME], body),
    })


def simulate_meta_social(
    secrets: Mapping[str, str],
    sender: str,
    text: str,
    *,
    channel: str = "messenger",
    kind: str = "dm",
    name: str | None = None,
    language: str | None = None,  # Meta sends no language hint; accepted for a uniform signature
    public_base_url: str = "http://127.0.0.1:8000",  # Meta signs the body only
    event_id: str | None = None,
    timestamp_ms: int | None = None,
    account_id: str | None = None,
    post_id: str | None = None,
    parent_id: str | None = None,
) -> SimulatedRequest:
    """What ``sender`` (a PSID / IGSID) does on the Page or Instagram account.

    ``kind``: ``dm`` (a direct message), ``comment`` (a comment on a post: Page ``feed`` or Instagram
    ``comments``; ``parent_id`` makes it a reply to another comment), ``mention`` (Instagram: an
    @mention in a comment, which Meta sends as ids only).
    """
    if kind not in _SOCIAL_KINDS.get(channel, ()):
        raise ValueError(f"{channel} simulates {', '.join(_SOCIAL_KINDS.get(channel, ()))}, not {kind!r}")
    stamp = int(time.time() * 1000) if timestamp_ms is None else timestamp_ms
    object_name = "page" if channel == "messenger" else "instagram"
    account = account_id or (DEFAULT_PAGE_ID if channel == "messenger" else DEFAULT_IG_ACCOUNT_ID)
    entry: dict[str, Any] = {"id": account, "time": stamp}
    if kind == "dm":
        mid = event_id or ("m_" if channel == "messenger" else "aWdfZAG1faXRlbTox") + uuid.uuid4().hex
        entry["messaging"] = [{"sender": {"id": sender}, "recipient": {"id": account}, "timestamp": stamp,
                               "message": {"mid": mid, "text": text}}]
        return _signed_object(secrets, object_name, entry)
    comment_id = event_id or str(17_800_000_000_000_000 + uuid.uuid4().int % 10**15)
    if channel == "messenger":
        post = f"{account}_{post_id or DEFAULT_POST_ID}"
        entry["changes"] = [{"field": "feed", "value": {
            "from": {"id": sender, "name": name or sender}, "item": "comment", "verb": "add",
            "post_id": post, "comment_id": f"{post_id or DEFAULT_POST_ID}_{comment_id}",
            "parent_id": parent_id or post, "created_time": stamp // 1000, "message": text,
            "post": {"id": post, "status_type": "added_photos", "is_published": True,
                     "permalink_url": f"https://www.facebook.com/{account}/posts/{post_id or DEFAULT_POST_ID}"},
        }}]
    elif kind == "comment":
        value: dict[str, Any] = {"from": {"id": sender, "username": name or f"user{sender[-4:]}"}, "id": comment_id,
                                 "text": text, "media": {"id": post_id or "17887498072083520",
                                                         "media_product_type": "FEED"}}
        if parent_id:
            value["parent_id"] = parent_id
        entry["changes"] = [{"field": "comments", "value": value}]
    else:
        entry["changes"] = [{"field": "mentions", "value": {"media_id": post_id or "17918195224117851",
                                                            "comment_id": comment_id}}]
    entry["time"] = stamp // 1000
    return _signed_object(secrets, object_name, entry)
