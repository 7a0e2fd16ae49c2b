"""The API's error vocabulary: one table, code → HTTP status and meaning, for REST and webhooks alike.

Every error body the hub sends is ``{"error": <code>, "reason": <text>}``. The code is a stable
snake_case word from this table, documented in the README ("Error codes") and pinned by tests;
renaming a Python class never changes it. HTTP statuses live here, not on the errors: a domain
error says what went wrong (its ``code``), this table says how HTTP spells it.

A channel whose provider needs another status for a forged request (Twilio's 403, Mailgun's 406)
says so on its ``ChannelSpec.forged_status``; the body then carries the code of that status
(:func:`code_for_status`), so a body's status and code always agree with this table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from chalicelib.core.errors import OmnihubError, RetryableError


@dataclass(frozen=True, slots=True)
class ErrorCode:
    code: str
    status: int
    meaning: str  # public: a 5xx body carries this text instead of the error's own reason


ERROR_TABLE: tuple[ErrorCode, ...] = (
    ErrorCode("bad_request", 400, "the request cannot be used: a field is missing or malformed"),
    ErrorCode("invalid_json", 400, "the body is not JSON"),
    ErrorCode("invalid_cursor", 400, "the cursor is not one the hub issued"),
    ErrorCode("unauthorized", 401, "the credentials are missing or wrong"),
    ErrorCode("forbidden", 403, "the credentials do not allow this request"),
    ErrorCode("not_found", 404, "no such resource"),
    ErrorCode("not_acceptable", 406, "the request was refused; the provider should not retry it"),
    ErrorCode("conflict", 409, "the request does not fit the resource's current state"),
    ErrorCode("payload_too_large", 413, "the body, or the item it would become, is too large"),
    ErrorCode("idempotency_key_reused", 422, "the Idempotency-Key was already used with a different body"),
    ErrorCode("send_refused", 422, "the provider refused the message and would refuse it again"),
    ErrorCode("window_closed", 422, "the channel's customer-service window is closed"),
    ErrorCode("opted_out", 422, "the customer withdrew consent on this channel"),
    ErrorCode("sender_not_configured", 422, "no sender, or no credentials, for the provider"),
    ErrorCode("unavailable", 503, "a service the hub depends on failed; retry later"),
    ErrorCode("misconfigured", 503, "the hub's configuration is invalid; retry once an operator has fixed it"),
)

ERROR_CODES: Mapping[str, ErrorCode] = MappingProxyType({entry.code: entry for entry in ERROR_TABLE})

# The code a body carries when only a status is known (a channel's forged_status).
_CODE_FOR_STATUS: Mapping[int, str] = MappingProxyType({
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    503: "unavailable",
})


def http_status(code: str) -> int:
    """The HTTP status of a code in the table (KeyError for any other word)."""
    return ERROR_CODES[code].status


def code_for_status(status: int) -> str:
    """The generic code of an HTTP status, for answers whose status a provider dictates."""
    return _CODE_FOR_STATUS[status]


def public_code(err: OmnihubError) -> str:
    """The error's code when the table has it; otherwise its family's generic code.

    Only an instance given a code outside the table falls back; every class's own code is in the
    table (a test walks the package to check).
    """
    if err.code in ERROR_CODES:
        return err.code
    return "unavailable" if isinstance(err, RetryableError) else "bad_request"


def error_body(code: str, reason: str | None = None) -> str:
    """The JSON body of an error answer.

    A 5xx says only what the table says: what failed inside the hub belongs to the log (which
    dependency, its message), not to the caller. A 4xx carries ``reason``, our own words about the
    caller's request, or the table's meaning when there is none.
    """
    entry = ERROR_CODES[code]
    text = entry.meaning if reason is None or entry.status >= 500 else reason
    return json.dumps({"error": code, "reason": text})
