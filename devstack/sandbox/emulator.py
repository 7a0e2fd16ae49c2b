"""The provider sandbox's request → answer logic: recorded requests, pending failures, one answer per provider.

Independent of the HTTP server (devstack/sandbox/server.py), and so testable alone.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from devstack.sandbox.email_apis import EmailApis
from devstack.sandbox.presets import (
    Answer,
    _meta_error,
    _telegram_error,
    _twilio_error,
    _vonage_error,
    preset_answer,
    status_answer,
)
from devstack.sandbox.readers import (
    ROUTES,
    SECRET_HEADERS,
    _auth_summary,
    _basic,
    _bearer,
    _parse_body,
    _redact_path,
    _route,
)


def _mentioned(ig_user: str, fields: str) -> Answer:
    """``GET /{ig-user-id}?fields=mentioned_comment.comment_id(X){...}`` or ``mentioned_media.media_id(X){...}``:
    a made-up but stable author per id (the same id answers the same author)."""
    found = re.match(r"^mentioned_(comment|media)\.(?:comment_id|media_id)\(([^)]+)\)", fields)
    if found is None:
        return 400, {}, _meta_error(100, "(#100) Tried accessing nonexisting field")
    kind, item_id = found.groups()
    author = str(int(hashlib.sha256(item_id.encode()).hexdigest()[:12], 16) % 10**15 + 10**15)
    username = f"sandbox_{author[-6:]}"
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
    if kind == "comment":
        return 200, {}, {"id": ig_user, "mentioned_comment": {
            "id": item_id, "text": f"@brand your parcel never came (comment {item_id})", "timestamp": stamp,
            "username": username, "from": {"id": author, "username": username},
            "media": {"id": "179" + author[:14], "permalink": f"https://www.instagram.com/p/{author[-8:]}/"}}}
    return 200, {}, {"id": ig_user, "mentioned_media": {
        "id": item_id, "caption": f"Loving it, @brand! (post {item_id})", "username": username, "timestamp": stamp,
        "permalink": f"https://www.instagram.com/p/{item_id[-8:]}/"}}


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@dataclass(slots=True)
class FailureRule:
    status: int
    body: Any
    headers: dict[str, str]
    remaining: int
    provider: str | None = None
    path_prefix: str | None = None
    delay: float = 0.0

    def matches(self, provider: str | None, path: str) -> bool:
        if self.provider and self.provider != provider:
            return False
        return not (self.path_prefix and not path.startswith(self.path_prefix))


@dataclass(slots=True)
class SandboxState:
    records: list[dict[str, Any]] = field(default_factory=list)
    failures: list[FailureRule] = field(default_factory=list)
    line_retry_keys: dict[str, tuple[str, Any]] = field(default_factory=dict)
    seq: int = 0
    telegram_message_id: int = 1000
    lock: threading.Lock = field(default_factory=threading.Lock)


class Sandbox(EmailApis):
    """The request → answer logic, independent of the HTTP server (and so testable alone)."""

    def __init__(self) -> None:
        self.state = SandboxState()

    # ---- control API
    def outbox(self, since: int = 0, provider: str | None = None) -> list[dict[str, Any]]:
        with self.state.lock:
            return [dict(r) for r in self.state.records
                    if r["seq"] > since and (provider is None or r["provider"] == provider)]

    def add_failure(self, spec: dict[str, Any]) -> FailureRule:
        provider = spec.get("provider")
        path_prefix = spec.get("path")
        if not provider and not path_prefix:
            raise ValueError("a failure needs a provider or a path prefix")
        if provider and provider not in dict(ROUTES):
            raise ValueError(f"unknown provider {provider!r}; known: {sorted(dict(ROUTES))}")
        retry_after = int(spec.get("retry_after", 1))
        if spec.get("preset"):
            status, headers, body = preset_answer(provider or "", str(spec["preset"]), retry_after)
        elif spec.get("status") is not None:
            status, headers, body = status_answer(provider or "", int(spec["status"]), retry_after) if provider \
                else (int(spec["status"]), {}, {"error": "sandbox failure"})
        else:
            status, headers, body = 200, {}, None  # only a delay
        if spec.get("status") is not None:
            status = int(spec["status"])
        if "body" in spec:
            body = spec["body"]
        headers = {**headers, **{str(k): str(v) for k, v in (spec.get("headers") or {}).items()}}
        if "retry_after" in spec and status == 429 and provider not in ("telegram", "x", "viber"):
            headers.setdefault("Retry-After", str(retry_after))
        rule = FailureRule(status=status, body=body, headers=headers, remaining=int(spec.get("count", 1)),
                           provider=provider, path_prefix=path_prefix, delay=float(spec.get("delay", 0)))
        with self.state.lock:
            self.state.failures.append(rule)
        return rule

    def reset(self) -> None:
        with self.state.lock:
            self.state.records.clear()
            self.state.failures.clear()
            self.state.line_retry_keys.clear()

    # ---- provider API
    def handle(self, method: str, target: str, headers: dict[str, str], raw_body: bytes) -> Answer:
        parts = urlsplit(target)
        path = parts.path
        provider, match = _route(path)
        body = _parse_body(headers.get("content-type", ""), raw_body)
        rule = self._take_failure(provider, path)
        if rule is not None and rule.delay:
            time.sleep(rule.delay)
        if provider is None or match is None:
            answer: Answer = (404, {}, {"error": f"the sandbox serves no {method} {path}"})
        elif method != ("GET" if provider == "sns" else "POST") and not (
                method == "GET" and match.groupdict().get("ig_user")):
            answer = (405, {}, {"error": "send APIs take POST"})
        elif rule is not None and (rule.body is not None or rule.status != 200):
            answer = (rule.status, dict(rule.headers), rule.body)
        else:
            answer = self._answer(provider, match, headers, body, parts.query)
        self._record(provider, method, path, parts.query, headers, body, answer)
        return answer

    def _take_failure(self, provider: str | None, path: str) -> FailureRule | None:
        with self.state.lock:
            for rule in self.state.failures:
                if rule.remaining > 0 and rule.matches(provider, path):
                    rule.remaining -= 1
                    if rule.remaining == 0:
                        self.state.failures.remove(rule)
                    return rule
        return None

    def _record(self, provider: str | None, method: str, path: str, query: str, headers: dict[str, str],
                body: Any, answer: Answer) -> None:
        auth = _auth_summary(provider, path, headers, query)
        record = {
            "provider": provider,
            "method": method,
            "path": _redact_path(path),
            "query": {k: ("<redacted>" if k == "access_token" else v) for k, v in parse_qsl(query)},
            "headers": {k: v for k, v in headers.items() if k not in SECRET_HEADERS},
            "auth": auth,
            "body": body,
            "received_at": _now_iso(),
            "response": {"status": answer[0], "body": answer[2]},
        }
        with self.state.lock:
            self.state.seq += 1
            record["seq"] = self.state.seq
            self.state.records.append(record)

    def _answer(self, provider: str, match: re.Match[str], headers: dict[str, str], body: Any,
                query: str) -> Answer:
        handler: Callable[[re.Match[str], dict[str, str], Any, str], Answer] = getattr(self, f"_{provider}")
        return handler(match, headers, body, query)

    # ---- one answer per provider
    def _twilio(self, match: re.Match[str], headers: dict[str, str], body: Any, query: str) -> Answer:
        user, _ = _basic(headers)
        if user != match["sid"]:
            return 401, {}, _twilio_error(20003, "Authenticate", 401)
        form = body if isinstance(body, dict) else {}
        if not form.get("To"):
            return 400, {}, _twilio_error(21604, "A 'To' phone number is required.", 400)
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return 400, {}, _twilio_error(21603, "A 'From' phone number is required.", 400)
        if not (form.get("Body") or form.get("MediaUrl") or form.get("ContentSid")):
            return 400, {}, _twilio_error(21602, "Message body is required.", 400)
        sid = "SM" + uuid.uuid4().hex
        now = formatdate(usegmt=True)
        return 201, {}, {
            "sid": sid, "account_sid": match["sid"], "to": form.get("To"), "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"), "body": form.get("Body") or "",
            "status": "queued" if form.get("From") else "accepted", "num_segments": "1", "num_media": "0",
            "direction": "outbound-api", "api_version": "2010-04-01", "date_created": now, "date_updated": now,
            "date_sent": None, "price": None, "error_code": None, "error_message": None,
            "uri": f"/2010-04-01/Accounts/{match['sid']}/Messages/{sid}.json",
        }

    def _meta(self, match: re.Match[str], headers: dict[str, str], body: Any, query: str) -> Answer:
        if not _bearer(headers) and "access_token" not in parse_qs(query):
            return 401, {}, _meta_error(190, "Invalid OAuth access token - Cannot parse access token")
        if match.groupdict().get("ig_user"):
            return _mentioned(match["ig_user"], parse_qs(query).get("fields", [""])[0])
        data = body if isinstance(body, dict) else {}
        if match.groupdict().get("edge"):  # a public reply to a comment: {"message"} → the new comment's id
            if not data.get("message") and not data.get("attachment_url"):
                return 400, {}, _meta_error(100, "(#100) The parameter message is required")
            return 200, {}, {"id": f"{match['comment'].split('_')[0]}_{secrets.randbelow(10**15) + 10**15}"}
        raw_recipient = data.get("recipient")
        if match["node"] == "me" or isinstance(raw_recipient, dict):  # Messenger / Instagram (private replies too)
            recipient = raw_recipient if isinstance(raw_recipient, dict) else {}
            if not (recipient.get("id") or recipient.get("comment_id")) or not isinstance(data.get("message"), dict):
                return 400, {}, _meta_error(100, "(#100) The parameter recipient is required")
            psid = recipient.get("id") or str(secrets.randbelow(10**15) + 10**15)  # a private reply finds its author
            return 200, {}, {"recipient_id": psid, "message_id": "m_" + secrets.token_urlsafe(30)}
        if data.get("messaging_product") != "whatsapp" or not data.get("to"):
            return 400, {}, _meta_error(100, "(#100) The parameter messaging_product is required.")
        wamid = "wamid." + base64.b64encode(b"\x15\x02\x00\x11\x18\x12" + secrets.token_bytes(18)).decode()
        to = str(data["to"])
        return 200, {}, {"messaging_product": "whatsapp",
                         "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
                         "messages": [{"id": wamid, "message_status": "accepted"}]}

    def _telegram(self, match: re.Match[str], headers: dict[str, str], body: Any, query: str) -> Answer:
        token = match["token"]
        if ":" not in token:
            return 404, {}, _telegram_error(404, "Not Found")
        data = body if isinstance(body, dict) else {}
        if not data.get("chat_id"):
            return 400, {}, _telegram_error(400, "Bad Request: chat_id is empty")
        if not data.get("text"):
            return 400, {}, _telegram_error(400, "Bad Request: message text is empty")
        with self.state.lock:
            self.state.telegram_message_id += 1
            message_id = self.state.telegram_message_id
        chat_id = str(data["chat_id"])
        bot_id = token.split(":", 1)[0]
        return 200, {}, {"ok": True, "result": {
            "message_id": message_id,
            "from": {"id": int(bot_id) if bot_id.isdigit() else bot_id, "is_bot": True,
                     "first_name": "Sandbox bot", "username": "sandbox_bot"},
            "chat": {"id": int(chat_id) if chat_id.lstrip("-").isdigit() else chat_id, "type": "private"},
            "date": int(time.time()), "text": data["text"],
        }}

    def _line(self, match: re.Match[str], headers: dict[str, str], body: Any, query: str) -> Answer:
        request_id = str(uuid.uuid4())
        base_headers = {"x-line-request-id": request_id}
        if not _bearer(headers):
            return 401, base_headers, {"message": "Authentication failed. Confirm that the access token in the "
                                                  "authorization header is valid."}
        data = body if isinstance(body, dict) else {}
        messages = data.get("messages")
        if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
            return 400, base_headers, {"message": "The request body has 1 error(s)",
                                       "details": [{"message": "Size must be between 1 and 5",
                                                    "property": "messages"}]}
        retry_key = headers.get("x-line-retry-key")
        if match["method"] == "reply":
            if retry_key:
                return 400, base_headers, {"message": "The retry key cannot be used with this API"}
            if not data.get("replyToken"):
                return 400, base_headers, {"message": "Invalid reply token"}
        elif not data.get("to"):
            return 400, base_headers, {"message": "The request body has 1 error(s)",
                                       "details": [{"message": "Must not be null", "property": "to"}]}
        if retry_key:
            with self.state.lock:
                earlier = self.state.line_retry_keys.get(retry_key)
            if earlier is not None:
                accepted_id, sent = earlier
                return 409, {**base_headers, "x-line-accepted-request-id": accepted_id}, {
                    "message": "The retry key is already accepted", "sentMessages": sent}
        sent = [{"id": str(secrets.randbelow(9 * 10**17) + 10**17), "quoteToken": secrets.token_urlsafe(60)}
                for _ in messages]
        if retry_key:
            with self.state.lock:
                self.state.line_retry_keys[retry_key] = (request_id, sent)
        return 200, base_headers, {"sentMessages": sent}

    def _viber(self, match: re.Match[str], headers: dict[str, str], body: Any, query: str) -> Answer:
        if not headers.get("x-viber-auth-token"):
            return 200, {}, {"status": 2, "status_message": "invalidAuthToken"}
        data = body if isinstance(body, dict) else {}
        raw_sender = data.get("sender")
        sender = raw_sender if isinstance(raw_sender, dict) else {}
        if not data.get("receiver") or not data.get("type") or not sender.get("name"):
            return 200, {}, {"status": 4, "status_message": "missingData"}
        return 200, {}, {"status": 0, "status_message": "ok",
                         "message_token": secrets.randbelow(2**62) + 2**60, "chat_hostname": "SN-CHAT-05_"}

    def _x(self, match: re.Match[str], headers: dict[str, str], body: Any, query: str) -> Answer:
        if not _bearer(headers):
            return 401, {}, {"title": "Unauthorized", "type": "about:blank", "status": 401,
                             "detail": "Unauthorized"}
        data = body if isinstance(body, dict) else {}
        if not data.get("text") and not data.get("attachments"):
            return 400, {}, {"title": "Invalid Request", "detail": "text or attachments is required",
                             "type": "https://api.twitter.com/2/problems/invalid-request"}
        if match.groupdict().get("tweets"):  # POST /2/tweets: a reply names the post it answers
            reply = data.get("reply")
            if reply is not None and not (isinstance(reply, dict) and reply.get("in_reply_to_tweet_id")):
                return 400, {}, {"title": "Invalid Request", "detail": "reply.in_reply_to_tweet_id is required",
                                 "type": "https://api.twitter.com/2/problems/invalid-request"}
            post_id = str(secrets.randbelow(9 * 10**18) + 10**18)
            return 201, {}, {"data": {"id": post_id, "text": data.get("text") or "",
                                      "edit_history_tweet_ids": [post_id]}}
        participant = match["participant"]
        return 201, {}, {"data": {"dm_conversation_id": f"1000000000000000001-{participant}",
                                  "dm_event_id": str(secrets.randbelow(9 * 10**18) + 10**18)}}

    def _vonage(self, match: re.Match[str], headers: dict[str, str], body: Any, query: str) -> Answer:
        if not (_basic(headers)[0] or _bearer(headers)):
            return 401, {}, {"type": "https://developer.vonage.com/api-errors#unauthorized",
                             "title": "Unauthorized", "detail": "You did not provide correct credentials.",
                             "instance": str(uuid.uuid4())}
        data = body if isinstance(body, dict) else {}
        missing = [name for name in ("channel", "message_type", "to", "from") if not data.get(name)]
        if missing:
            return 422, {}, _vonage_error("1150", "Invalid params",
                                          f"Missing parameter(s): {', '.join(missing)}")
        return 202, {}, {"message_uuid": str(uuid.uuid4())}
