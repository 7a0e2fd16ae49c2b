"""The provider sandbox's error presets: each provider's own answer for a named failure or a bare status.

``POST /_sandbox/fail`` names a preset (``rate_limited``, ``invalid_number``…) or a status; these
builders give the status, headers and body that provider's API answers with.
"""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

Answer = tuple[int, dict[str, str], Any]  # status, extra headers, JSON-able body


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
