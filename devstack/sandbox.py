"""Provider sandbox: one loopback HTTP server that answers like each provider's send API.

Point the senders at it (``OMNIHUB_<PROVIDER>_API_BASE=http://127.0.0.1:4580``) and every outbound
message lands here instead of reaching a customer. It answers as the provider does (status code,
body, generated ids), records each request (method, path, headers without secrets, parsed body,
time) and lets tests and users rehearse failures:

- ``GET  /_sandbox/outbox?since=N&provider=P`` → JSON list of recorded requests with ``seq`` > N;
- ``POST /_sandbox/fail`` ``{"provider": "twilio", "preset": "rate_limited", "count": 1,
  "retry_after": 5}`` → the next ``count`` requests to that provider (or to ``"path"``, a path
  prefix) fail; presets: ``invalid_number``, ``blocked``, ``opted_out``, ``window_closed``,
  ``rate_limited``, ``server_error``, ``invalid_reply_token`` (LINE), ``monthly_limit`` (LINE); or
  give ``"status"`` (and optionally ``"body"``, ``"headers"``) directly; ``"delay"`` seconds delays
  the answer (to rehearse read timeouts);
- ``POST /_sandbox/reset`` forgets requests and pending failures; ``GET /_sandbox/health``.

SES is not served here: the embedded AWS (moto) answers SES locally.
Run: ``python -m devstack.sandbox --port 4580``.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

from chalicelib.providers.registry import REGISTRY

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-viber-auth-token", "x-api-key", "cookie"})

# Each HTTP sender's send API, as the provider serves it (a test checks these cover the registry).
ROUTES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("twilio", re.compile(r"^/2010-04-01/Accounts/(?P<sid>[^/]+)/Messages\.json$")),
    ("line", re.compile(r"^/v2/bot/message/(?P<method>reply|push)$")),
    ("meta", re.compile(r"^/v\d+\.\d+/(?P<node>[^/]+)/messages$")),
    ("meta", re.compile(r"^/v\d+\.\d+/(?P<comment>[^/]+)/(?P<edge>comments|replies)$")),  # comment replies
    ("telegram", re.compile(r"^/bot(?P<token>[^/]+)/(?P<method>sendMessage)$")),
    ("viber", re.compile(r"^/pa/send_message$")),
    ("x", re.compile(r"^/2/dm_conversations/with/(?P<participant>[^/]+)/messages$")),
    ("x", re.compile(r"^/2/(?P<tweets>tweets)$")),
    ("vonage", re.compile(r"^/v1/messages$")),
)

Answer = tuple[int, dict[str, str], Any]  # status, extra headers, JSON-able body


def secret_fingerprint(secret: str) -> str:
    """What the sandbox records instead of a credential: enough to check which one was sent."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ---------------------------------------------------------------- provider error presets

def _twilio_error(code: int, message: str, status: int) -> Any:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}


def _meta_error(code: int, message: str, subcode: int | None = None) -> Any:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code,
                             "fbtrace_id": "A" + secrets.token_hex(10)}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


def _vonage_error(code: str, title: str, detail: str) -> Any:
    return {"type": f"https://developer.vonage.com/api-errors/messages#{code}", "title": title,
            "detail": detail, "instance": str(uuid.uuid4())}


def _telegram_error(code: int, description: str, retry_after: int | None = None) -> Any:
    body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return body


def preset_answer(provider: str, preset: str, retry_after: int) -> Answer:
    """The provider's own answer for a named failure."""
    rate_headers = {"Retry-After": str(retry_after)}
    presets: dict[str, dict[str, Answer]] = {
        "twilio": {
            "invalid_number": (400, {}, _twilio_error(21211, "The 'To' number is not a valid phone number.", 400)),
            "blocked": (400, {}, _twilio_error(21610, "Attempt to send to unsubscribed recipient", 400)),
            "opted_out": (400, {}, _twilio_error(21610, "Attempt to send to unsubscribed recipient", 400)),
            "window_closed": (400, {}, _twilio_error(
                63016, "Failed to send freeform message because you are outside the allowed window.", 400)),
            "rate_limited": (429, rate_headers, _twilio_error(20429, "Too Many Requests", 429)),
            "server_error": (500, {}, _twilio_error(20500, "Internal Server Error", 500)),
        },
        "meta": {
            "invalid_number": (400, {}, _meta_error(131026, "(#131026) Message undeliverable")),
            "blocked": (400, {}, _meta_error(551, "This person isn't available right now.", 1545041)),
            "window_closed": (400, {}, _meta_error(
                131047, "(#131047) Re-engagement message: more than 24 hours have passed since the "
                "recipient last replied")),
            "rate_limited": (400, {}, _meta_error(130429, "(#130429) Rate limit hit")),
            "server_error": (500, {}, _meta_error(131000, "(#131000) Something went wrong")),
        },
        "telegram": {
            "invalid_number": (400, {}, _telegram_error(400, "Bad Request: chat not found")),
            "blocked": (403, {}, _telegram_error(403, "Forbidden: bot was blocked by the user")),
            "rate_limited": (429, {}, _telegram_error(429, f"Too Many Requests: retry after {retry_after}",
                                                      retry_after)),
            "server_error": (502, {}, _telegram_error(502, "Bad Gateway")),
        },
        "line": {
            "invalid_number": (400, {}, {"message": "The request body has 1 error(s)", "details": [
                {"message": "Invalid user ID", "property": "to"}]}),
            "blocked": (403, {}, {"message": "The user has blocked the LINE Official Account"}),
            "invalid_reply_token": (400, {}, {"message": "Invalid reply token"}),
            "monthly_limit": (429, {}, {"message": "You have reached your monthly limit."}),
            "rate_limited": (429, rate_headers, {"message": "The API rate limit has been exceeded. "
                                                            "Try again later."}),
            "server_error": (500, {}, {"message": "An error occurred in the internal server."}),
        },
        "viber": {
            "invalid_number": (200, {}, {"status": 5, "status_message": "receiverNotRegistered"}),
            "blocked": (200, {}, {"status": 6, "status_message": "notSubscribed"}),
            "rate_limited": (200, {}, {"status": 12, "status_message": "tooManyRequests"}),
            "server_error": (500, {}, {"status": 13, "status_message": "internal error"}),
        },
        "x": {
            "invalid_number": (400, {}, {"errors": [{"message": "The `participant_id` is not valid"}],
                                         "title": "Invalid Request", "type":
                                         "https://api.twitter.com/2/problems/invalid-request",
                                         "detail": "One or more parameters to your request was invalid."}),
            "blocked": (403, {}, {"title": "Forbidden", "type": "about:blank", "status": 403,
                                  "detail": "You are not permitted to send Direct Messages to this user."}),
            "rate_limited": (429, {"x-rate-limit-reset": str(int(time.time()) + retry_after),
                                   "x-rate-limit-remaining": "0"},
                             {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank",
                              "status": 429}),
            "server_error": (503, {}, {"title": "Service Unavailable", "detail": "Service Unavailable",
                                       "type": "about:blank", "status": 503}),
        },
        "vonage": {
            "invalid_number": (422, {}, _vonage_error("1150", "Invalid params",
                                                      "The value of one or more parameters is invalid.")),
            "window_closed": (422, {}, _vonage_error("1340", "Outside of the allowed window",
                                                     "The customer service window has expired.")),
            "rate_limited": (429, rate_headers, _vonage_error("1000", "Throttled",
                                                              "You have exceeded the rate limit.")),
            "server_error": (500, {}, _vonage_error("1010", "Internal error", "An internal error occurred.")),
        },
    }
    answers = presets.get(provider, {})
    if preset not in answers:
        raise ValueError(f"no preset {preset!r} for {provider!r}; known: {sorted(answers)}")
    return answers[preset]


def status_answer(provider: str, status: int, retry_after: int) -> Answer:
    """The provider's body for a bare status code (``{"status": 500}`` in a failure rule)."""
    if status == 429:
        return preset_answer(provider, "rate_limited", retry_after) if provider != "viber" else (
            429, {"Retry-After": str(retry_after)}, {"status": 12, "status_message": "tooManyRequests"})
    if status >= 500:
        answer = preset_answer(provider, "server_error", retry_after)
        return status, answer[1], answer[2]
    if provider == "viber":
        return status, {}, {"status": 3, "status_message": "badData"}
    answer = preset_answer(provider, "invalid_number", retry_after)
    return status, answer[1], answer[2]


# ---------------------------------------------------------------- state

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


class Sandbox:
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
        elif method != "POST":
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


# ---------------------------------------------------------------- helpers

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


# ---------------------------------------------------------------- HTTP server

class SandboxHandler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        headers = {k.lower(): v for k, v in self.headers.items()}
        parts = urlsplit(self.path)
        sandbox = self.server.sandbox
        try:
            if parts.path.startswith("/_sandbox/"):
                status, extra, body = self._control(method, parts.path, parts.query, raw)
            else:
                status, extra, body = sandbox.handle(method, self.path, headers, raw)
        except ValueError as err:
            status, extra, body = 400, {}, {"error": str(err)}
        payload = b"" if body is None else json.dumps(body).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in extra.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a rehearsed timeout): nothing to answer

    def _control(self, method: str, path: str, query: str, raw: bytes) -> Answer:
        sandbox = self.server.sandbox
        params = dict(parse_qsl(query))
        if method == "GET" and path == "/_sandbox/outbox":
            return 200, {}, sandbox.outbox(int(params.get("since") or 0), params.get("provider"))
        if method == "GET" and path == "/_sandbox/health":
            return 200, {}, {"ok": True}
        if method == "POST" and path == "/_sandbox/fail":
            spec = json.loads(raw or b"{}")
            if not isinstance(spec, dict):
                raise ValueError("the failure spec is a JSON object")
            rule = sandbox.add_failure(spec)
            return 200, {}, {"ok": True, "status": rule.status, "count": rule.remaining}
        if method == "POST" and path == "/_sandbox/reset":
            sandbox.reset()
            return 200, {}, {"ok": True}
        return 404, {}, {"error": f"no sandbox control {method} {path}"}


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sandbox: Sandbox | None = None, verbose: bool = False) -> None:
        super().__init__(address, SandboxHandler)
        self.sandbox = sandbox or Sandbox()
        self.verbose = verbose

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


def start_sandbox(port: int = 0, host: str = "127.0.0.1") -> tuple[SandboxServer, str]:
    """Start the sandbox on a background thread; stop it with ``server.shutdown(); server.server_close()``."""
    server = SandboxServer((host, port))
    threading.Thread(target=server.serve_forever, name="provider-sandbox", daemon=True).start()
    return server, server.base_url


def sandbox_environment(base_url: str) -> dict[str, str]:
    """The variables that point every HTTP sender of the provider registry at the sandbox."""
    return {f"OMNIHUB_{entry.name.upper()}_API_BASE": base_url for entry in REGISTRY if entry.api_base}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4580)
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    args = parser.parse_args(argv)
    server = SandboxServer((args.host, args.port), verbose=not args.quiet)
    print(f"provider sandbox on {server.base_url}; point the senders at it with:")
    for name, value in sorted(sandbox_environment(server.base_url).items()):
        print(f"  export {name}={value}")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
