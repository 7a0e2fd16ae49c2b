"""The hub's one error tree: every error raised on purpose descends from :class:`OmnihubError`.

Two families decide what happens next:

- :class:`PermanentError`: doing the same thing again cannot help. The input is wrong or forbidden
  (→ 4xx), or the deployment's configuration is (:class:`ConfigError`); a worker sends the message
  to its DLQ instead of retrying it.
- :class:`RetryableError`: a dependency failed; the same request may succeed later (→ 5xx, or a
  batch item failure that SQS redelivers).

Each error carries a stable snake_case ``code`` (a class attribute; one instance may override it)
and a ``reason`` written by us: never a dependency's message, which goes to the log instead, and
never a Python class name. HTTP statuses are not a property of these errors: the one table in
:mod:`chalicelib.core.error_codes` maps a code to its status and its documented meaning.
"""

from __future__ import annotations


class OmnihubError(Exception):
    """Base of every error the hub raises on purpose.

    Raised as is (neither permanent nor retryable) it is handled like any unexpected failure, which
    is retried: hence ``unavailable``.
    """

    code: str = "unavailable"

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if code is not None:
            self.code = code


class PermanentError(OmnihubError):
    """Retrying cannot help: the input is wrong or forbidden (→ 4xx, or the DLQ)."""

    code = "bad_request"


class RetryableError(OmnihubError):
    """A dependency failed; the same request may succeed later (→ 5xx or a batch item failure)."""

    code = "unavailable"


# --------------------------------------------------------------------- permanent: the caller's input
class ModelError(PermanentError, ValueError):
    """A value does not fit the canonical model (a permanent, 4xx-class error)."""


class BadRequest(PermanentError):
    """The request cannot be used: a field missing or malformed, a bad parameter."""

    code = "bad_request"


class InvalidCursor(BadRequest):
    """A pagination cursor the hub did not issue."""

    code = "invalid_cursor"


class Unauthorized(PermanentError):
    """No credentials, or wrong ones (an API key, a webhook signature)."""

    code = "unauthorized"


class Forbidden(PermanentError):
    """Known credentials without the right to do this."""

    code = "forbidden"


class NotFound(PermanentError):
    code = "not_found"


class Conflict(PermanentError):
    """The request does not fit the current state (e.g. no address on the chosen channel)."""

    code = "conflict"


class PayloadTooLarge(PermanentError):
    code = "payload_too_large"


class IdempotencyKeyReused(PermanentError):
    """An ``Idempotency-Key`` already used for a request with a different body."""

    code = "idempotency_key_reused"


# --------------------------------------------------------------------- permanent: the deployment's
class ConfigError(PermanentError):
    """The deployment's configuration is invalid: only an operator can fix it, retrying cannot."""

    code = "misconfigured"


# --------------------------------------------------------------------- retryable
class StoreUnavailable(RetryableError):
    """The durable write (or read) did not happen: the provider or the queue must retry."""
