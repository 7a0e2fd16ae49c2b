"""ack_latency: how long a new customer waits for the acknowledgment, through the whole local stack.

Starts the local stack (devstack.launcher, dev secrets) and, for N new customers one after
the other, sends a signed WhatsApp Cloud API webhook (``simulate_meta_message``) and measures

(a) the webhook's own response time (client clock, ``time.perf_counter``), and
(b) the time from sending the webhook to the acknowledgment reaching the provider sandbox: the
    sandbox entry's ``received_at`` (the sandbox runs in the stack's process, on this machine's
    wall clock, millisecond resolution) minus the wall clock (``time.time``) just before sending.
    The poll clock (when this client first saw the entry, polling ``/_sandbox/outbox`` every
    20 ms) is reported beside it as a cross-check.

WhatsApp Cloud cannot answer in the webhook response, so its acknowledgment goes the whole
asynchronous way: inbox item → stream relay → inbound.fifo → conversation worker → outbound queue
→ sender → provider API. Ratio = median (b) ÷ median (a).

Then, for the channels whose response carries the acknowledgment, alternately: a Twilio SMS
webhook (new number each; its TwiML must hold the ``<Message>``) and a generic ``/webhooks/api``
webhook (new sender each, the floor), waiting after each until the worker has recorded its
conversation, so every request meets an idle pump. Every wait is bounded.
"""

from __future__ import annotations

import json
import math
import secrets as random_tokens
import statistics
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bench.report import Row
from devstack.launcher import LocalStackUrls, running_local_stack
from devstack.run import DEV_SECRETS
from devstack.simulators.api import simulate_api_message
from devstack.simulators.base import SimulatedRequest, SimulatedResponse, send
from devstack.simulators.meta import simulate_meta_message
from devstack.simulators.twilio import simulate_twilio_messaging_message

NAME = "ack_latency"
ACK_TIMEOUT = 30.0  # per customer: from the webhook to its acknowledgment in the sandbox
SETTLE_TIMEOUT = 30.0  # per webhook: until the worker has recorded the conversation
POLL_INTERVAL = 0.02
SUPPORT_KEY = "dev-support-key"  # in DEV_SECRETS' OMNIHUB_API_KEYS


@dataclass(frozen=True, slots=True)
class AckSample:
    webhook_seconds: float  # (a)
    ack_seconds: float  # (b), by the sandbox's received_at
    polled_seconds: float  # (b), by this client's poll clock


def _get_json(url: str, headers: dict[str, str] | None = None) -> Any:
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - loopback only
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def _outbox(stack: LocalStackUrls, since: int, provider: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"since": since, "provider": provider})
    return list(_get_json(f"{stack.sandbox_url}/_sandbox/outbox?{query}"))


def _last_seq(stack: LocalStackUrls) -> int:
    entries = _get_json(f"{stack.sandbox_url}/_sandbox/outbox")
    return max((int(entry["seq"]) for entry in entries), default=0)


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def _new_phone() -> str:
    """A fresh E.164 number in the fictional +1 555 01xx range's spirit: never a real customer."""
    return "+1555" + str(10_000_000 + random_tokens.randbelow(89_999_999))


def _timed_send(stack: LocalStackUrls, request: SimulatedRequest) -> tuple[float, float, SimulatedResponse]:
    """(wall clock at send, response seconds, response)."""
    sent_at = time.time()
    started = time.perf_counter()
    response = send(stack.api_url, request, timeout=30)
    elapsed = time.perf_counter() - started
    if not 200 <= response.status < 300:
        raise RuntimeError(f"POST {request.path} answered {response.status}: {response.body[:200]!r}")
    return sent_at, elapsed, response


def _whatsapp_ack(stack: LocalStackUrls, since: int) -> tuple[AckSample, int]:
    phone = _new_phone()
    wa_id = phone[1:]
    request = simulate_meta_message(DEV_SECRETS, phone, "Hello, my order has not arrived", name="Bench Customer")
    sent_at, webhook_seconds, _ = _timed_send(stack, request)
    deadline = time.monotonic() + ACK_TIMEOUT
    while time.monotonic() < deadline:
        entries = _outbox(stack, since, "meta")
        for entry in entries:
            body = entry.get("body")
            if isinstance(body, dict) and body.get("to") == wa_id:
                polled = time.time() - sent_at
                last = max(int(e["seq"]) for e in entries)
                return AckSample(webhook_seconds, _epoch(entry["received_at"]) - sent_at, polled), last
        time.sleep(POLL_INTERVAL)
    raise TimeoutError(f"no acknowledgment to {wa_id} reached the provider sandbox within {ACK_TIMEOUT} s")


def _wait_for_conversation(stack: LocalStackUrls, channel: str, address: str) -> None:
    query = urllib.parse.urlencode({"channel": channel, "address": address})
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while time.monotonic() < deadline:
        try:
            customer = _get_json(f"{stack.api_url}/customers/lookup?{query}", {"x-api-key": SUPPORT_KEY})
        except urllib.error.HTTPError as err:
            if err.code != 404:
                raise
        else:
            if customer.get("conversation_ids"):
                return
        time.sleep(0.05)
    raise TimeoutError(f"no conversation for {channel}:{address} within {SETTLE_TIMEOUT} s")


def _twilio_sms(stack: LocalStackUrls) -> float:
    phone = _new_phone()
    request = simulate_twilio_messaging_message(
        DEV_SECRETS, phone, "Hello, my order has not arrived", public_base_url=stack.api_url, channel="sms"
    )
    _, seconds, response = _timed_send(stack, request)
    if b"<Message>" not in response.body:
        raise RuntimeError(f"the TwiML carries no acknowledgment: {response.body[:300]!r}")
    _wait_for_conversation(stack, "sms", phone)
    return seconds


def _generic_api(stack: LocalStackUrls) -> float:
    sender = f"bench-ack-{random_tokens.token_hex(6)}"
    request = simulate_api_message(DEV_SECRETS["OMNIHUB_API_SIGNING_SECRET"], sender, "Hello, where is my order?")
    _, seconds, _ = _timed_send(stack, request)
    _wait_for_conversation(stack, "webchat", sender)
    return seconds


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]  # nearest rank


def measure(stack: LocalStackUrls, customers: int) -> dict[str, Any]:
    since = _last_seq(stack)
    # Warm-up, out of every figure: the route's, the workers' and the sender's first calls.
    for _ in range(2):
        _, since = _whatsapp_ack(stack, since)
        _twilio_sms(stack)
        _generic_api(stack)
    samples: list[AckSample] = []
    for _ in range(customers):
        sample, since = _whatsapp_ack(stack, since)
        samples.append(sample)
    twilio: list[float] = []
    generic: list[float] = []
    Probe = Callable[[LocalStackUrls], float]
    pairs: list[tuple[list[float], Probe]] = [(twilio, _twilio_sms), (generic, _generic_api)]
    for index in range(customers):
        for results, call in pairs if index % 2 == 0 else pairs[::-1]:  # alternate which goes first
            results.append(call(stack))
    return {"whatsapp": samples, "twilio_sms": twilio, "generic": generic}


def run(quick: bool) -> list[Row]:
    customers = 8 if quick else 40
    with running_local_stack(env=DEV_SECRETS) as stack:  # exactly the secrets the simulators sign with
        result = measure(stack, customers)
    samples: list[AckSample] = result["whatsapp"]
    webhook_ms = statistics.median(s.webhook_seconds for s in samples) * 1000
    ack_ms = [s.ack_seconds * 1000 for s in samples]
    polled_ms = statistics.median(s.polled_seconds for s in samples) * 1000
    twilio_ms = statistics.median(result["twilio_sms"]) * 1000
    generic_ms = statistics.median(result["generic"]) * 1000
    return [
        Row(
            f"{NAME} (median)",
            statistics.median(ack_ms),
            "ms",
            floor=webhook_ms,
            goal="↓",
            note=f"WhatsApp Cloud, {customers} new customers in turn: webhook → ack at the provider sandbox "
            f"(its received_at; poll clock {polled_ms:.0f} ms); floor = webhook response",
        ),
        Row(
            f"{NAME} (p95)",
            _p95(ack_ms),
            "ms",
            floor=webhook_ms,
            goal="↓",
            note=f"max {max(ack_ms):.0f} ms",
        ),
        Row(
            "  twilio sms webhook, ack in TwiML",
            twilio_ms,
            "ms",
            floor=generic_ms,
            note=f"median of {customers}, new number each; floor = POST /webhooks/api (no ack in response)",
        ),
    ]
