"""Simulator of X's Account Activity webhook (``GET`` + ``POST /webhooks/x``), signed as X signs it.

``kind`` chooses what the customer does: ``dm`` (a direct message), ``mention`` (a post that
@mentions the account) or ``reply`` (a reply to one of the account's posts, ``-o in_reply_to=<id>``).
The body is signed with ``X_CONSUMER_SECRET`` (``x-twitter-webhooks-signature``); the CRC GET is
:func:`simulate_x_crc`.
"""

from __future__ import annotations

import json
import secrets as random
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from chalicelib.providers.x import CONSUMER_SECRET_NAME, SIGNATURE_HEADER, sign_x_payload
from devstack.simulators.base import SimulatedRequest

PATH = "/webhooks/x"
DEFAULT_ACCOUNT_ID = "4337869213"
DEFAULT_ACCOUNT_SCREEN_NAME = "acmecare"
DEFAULT_POST_ID = "1931770000000000000"


def _snowflake() -> str:
    return str(random.randbelow(9 * 10**17) + 10**18)


def _user(user_id: str, name: str, screen_name: str) -> dict[str, Any]:
    return {"id": user_id, "id_str": user_id, "name": name, "screen_name": screen_name, "protected": False,
            "verified": False, "lang": None}


def _signed_post(secrets: Mapping[str, str], payload: dict[str, Any]) -> SimulatedRequest:
    body = json.dumps(payload).encode()
    return SimulatedRequest(method="POST", path=PATH, body=body, headers={
        "Content-Type": "application/json; charset=utf-8",
        SIGNATURE_HEADER: sign_x_payload(secrets[CONSUMER_SECRET_NAME], body),
    })


def simulate_x_message(
    secrets: Mapping[str, str],
    sender: str,
    text: str,
    *,
    name: str | None = None,
    language: str | None = None,
    public_base_url: str = "http://127.0.0.1:8000",  # X signs the body only
    event_id: str | None = None,
    timestamp_ms: int | None = None,
    kind: str = "dm",
    for_user_id: str = DEFAULT_ACCOUNT_ID,
    screen_name: str | None = None,
    in_reply_to: str = DEFAULT_POST_ID,
) -> SimulatedRequest:
    """A DM, mention or reply from ``sender`` (an X user id) to the subscribed account."""
    stamp = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    handle = screen_name or f"user{sender[-6:]}"
    customer = _user(sender, name or handle, handle)
    account = _user(for_user_id, "Acme Care", DEFAULT_ACCOUNT_SCREEN_NAME)
    if kind == "dm":
        return _signed_post(secrets, {
            "for_user_id": for_user_id,
            "direct_message_events": [{
                "type": "message_create", "id": event_id or _snowflake(), "created_timestamp": stamp,
                "message_create": {"target": {"recipient_id": for_user_id}, "sender_id": sender,
                                   "message_data": {"text": text, "entities": {"hashtags": [], "symbols": [],
                                                                               "user_mentions": [], "urls": []}}},
            }],
            "users": {sender: customer, for_user_id: account},
        })
    if kind not in ("mention", "reply"):
        raise ValueError("kind must be dm, mention or reply")
    tweet_id = event_id or _snowflake()
    mention = {"screen_name": DEFAULT_ACCOUNT_SCREEN_NAME, "name": "Acme Care", "id_str": for_user_id,
               "indices": [0, len(DEFAULT_ACCOUNT_SCREEN_NAME) + 1]}
    post: dict[str, Any] = {
        "id_str": tweet_id, "text": f"@{DEFAULT_ACCOUNT_SCREEN_NAME} {text}", "user": customer, "timestamp_ms": stamp,
        "entities": {"hashtags": [], "urls": [], "symbols": [], "user_mentions": [mention]},
        "in_reply_to_status_id_str": None, "in_reply_to_user_id_str": None, "lang": language,
    }
    if kind == "reply":
        post.update(in_reply_to_status_id_str=in_reply_to, in_reply_to_user_id_str=for_user_id,
                    in_reply_to_screen_name=DEFAULT_ACCOUNT_SCREEN_NAME)
    return _signed_post(secrets, {"for_user_id": for_user_id, "tweet_create_events": [post]})


SAMPLE_CRC_TOKEN = "9b4507b3-9040-4669-9ca3-6b94edb50553"  # the token of X's CRC examples


def simulate_x_crc(secrets: Mapping[str, str], crc_token: str = SAMPLE_CRC_TOKEN) -> SimulatedRequest:
    """The Challenge-Response Check X sends at registration and then hourly."""
    return SimulatedRequest(method="GET", path=f"{PATH}?{urlencode({'crc_token': crc_token})}")
