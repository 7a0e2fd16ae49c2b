"""Simulator of Telegram Bot API webhooks (``POST /webhooks/telegram/{bot}``).

Telegram authenticates a webhook with the ``secret_token`` given to ``setWebhook``, sent back in
``X-Telegram-Bot-Api-Secret-Token``; the body is one JSON ``Update``.
"""

from __future__ import annotations

import json
import secrets as random_source
import time
from collections.abc import Mapping
from typing import Any

from chalicelib.providers.telegram import SECRET_NAME
from devstack.simulators.base import SimulatedRequest


def simulate_telegram_message(
    secrets: Mapping[str, str],
    sender: str,
    text: str,
    *,
    name: str | None = None,
    language: str | None = None,
    public_base_url: str = "http://127.0.0.1:8000",  # Telegram signs nothing with the URL
    event_id: str | None = None,
    bot: str = "support_bot",
    update_id: int | None = None,
    message_id: int | None = None,
    username: str | None = None,
    timestamp: int | None = None,
) -> SimulatedRequest:
    """A private-chat text message from chat/user id ``sender`` (ids may exceed 2^53).

    ``event_id`` may be given instead of ``update_id`` as ``"<update_id>"`` or ``"<bot>#<update_id>"``.
    """
    if update_id is None and event_id is not None:
        update_id = int(event_id.rsplit("#", 1)[-1])
    if update_id is None:
        update_id = random_source.randbelow(2**31)
    first_name, _, last_name = (name or "Customer").partition(" ")
    user: dict[str, Any] = {"id": int(sender), "is_bot": False, "first_name": first_name}
    if last_name:
        user["last_name"] = last_name
    if username:
        user["username"] = username
    if language:
        user["language_code"] = language
    chat: dict[str, Any] = {key: value for key, value in user.items() if key not in ("is_bot", "language_code")}
    chat["type"] = "private"
    message: dict[str, Any] = {
        "message_id": random_source.randbelow(2**31) if message_id is None else message_id,
        "from": user,
        "chat": chat,
        "date": int(time.time()) if timestamp is None else timestamp,
        "text": text,
    }
    if text.startswith("/"):
        command = text.split(maxsplit=1)[0]
        message["entities"] = [{"offset": 0, "length": len(command), "type": "bot_command"}]
    body = json.dumps({"update_id": update_id, "message": message}, ensure_ascii=False).encode()
    return SimulatedRequest(
        method="POST",
        path=f"/webhooks/telegram/{bot}",
        headers={
            "Content-Type": "application/json",
            "X-Telegram-Bot-Api-Secret-Token": secrets[SECRET_NAME],
        },
        body=body,
    )
