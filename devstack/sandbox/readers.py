"""How the provider sandbox reads a request: which provider's route it is, its body, its credentials.

Credentials are never recorded: the sandbox keeps a fingerprint of each (``secret_fingerprint``)
and drops the headers that carry them (``SECRET_HEADERS``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from typing import Any
from urllib.parse import parse_qs, parse_qsl

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-viber-auth-token", "x-api-key", "cookie",
                            "x-postmark-server-token"})

# Each HTTP sender's send API, as the provider serves it (a test checks these cover the registry).
ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("twilio", re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")),
    ("line", re.compile(r"^/v2/bot/message/(?P<method>reply|push)$")),
    ("meta", re.compile(r"^/v\d+\.\d+/(?P<node>[^/]+)/messages$")),
    ("meta", re.compile(r"^/v\d+\.\d+/(?P<comment>[^/]+)/(?P<edge>comments|replies)$")),  # comment replies
    ("meta", re.compile(r"^/v\d+\.\d+/(?P<ig_user>\d+)$")),  # GET: an Instagram mention looked up
    ("telegram", re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>sendMessage)$")),
    ("viber", re.compile(r"^/pa/send_message$")),
    ("x", re.compile(r"^/2/dm_conversations/with/(?P<participant>[^/]+)/messages$")),
    ("x", re.compile(r"^/2/(?P<tweets>tweets)$")),
    ("vonage", re.compile(r"^/v1/messages$")),
    ("sendgrid", re.compile(r"^/v3/mail/send$")),
    ("mailgun", re.compile(r"^/v3/(?P<domain>[^/]+)/messages$")),
    ("postmark", re.compile(r"^/email$")),
    ("sns", re.compile(r"^/sns/confirm$")),  # a SubscribeURL (GET): the hub's worker confirms here locally
)


def secret_fingerprint(secret: str) -> str:
    """What the sandbox records instead of a credential: enough to check which one was sent."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def _route(path: str) -> tuple[str | None, re.Match[str] | None]:
    for provider, pattern in ROUTES:
        match = pattern.match(path)
        if match:
            return provider, match
    return None, None


def _parse_body(content_type: str, raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    if "application/x-www-form-urlencoded" in content_type:
        form: dict[str, Any] = {}
        for key, value in parse_qsl(text, keep_blank_values=True):
            if key in form:
                form[key] = [*form[key], value] if isinstance(form[key], list) else [form[key], value]
            else:
                form[key] = value
        return form
    try:
        return json.loads(text)
    except ValueError:
        return text


def _basic(headers: dict[str, str]) -> tuple[str | None, str | None]:
    value = headers.get("authorization", "")
    if not value.lower().startswith("basic "):
        return None, None
    try:
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None, None
    return user, password


def _bearer(headers: dict[str, str]) -> str | None:
    value = headers.get("authorization", "")
    return value[7:] if value.lower().startswith("bearer ") else None


def _auth_summary(provider: str | None, path: str, headers: dict[str, str], query: str) -> dict[str, str] | None:
    user, password = _basic(headers)
    if user is not None:
        return {"scheme": "basic", "user": user, "secret_sha256": secret_fingerprint(password or "")}
    token = _bearer(headers)
    if token is not None:
        return {"scheme": "bearer", "secret_sha256": secret_fingerprint(token)}
    if headers.get("x-postmark-server-token"):
        token = headers["x-postmark-server-token"]
        return {"scheme": "x-postmark-server-token", "secret_sha256": secret_fingerprint(token)}
    if headers.get("x-viber-auth-token"):
        return {"scheme": "x-viber-auth-token", "secret_sha256": secret_fingerprint(headers["x-viber-auth-token"])}
    if provider == "telegram":
        match = re.match(r"^/bot([^/]+)/", path)
        if match:
            return {"scheme": "bot-token", "user": match[1].split(":", 1)[0],
                    "secret_sha256": secret_fingerprint(match[1])}
    access_token = parse_qs(query).get("access_token")
    if access_token:
        return {"scheme": "access_token", "secret_sha256": secret_fingerprint(access_token[0])}
    return None


def _redact_path(path: str) -> str:
    """Telegram's token is in the path: keep the bot id (public), hide the secret half."""
    return re.sub(r"^/bot(\d+):[^/]+/", r"/bot\1:<redacted>/", path)
