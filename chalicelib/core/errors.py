"""One error hierarchy: permanent (→ 4xx, or the DLQ) versus retryable (→ 5xx, or a batch item failure)."""

from __future__ import annotations


class OmnihubError(Exception):
    """Base of every error the hub raises on purpose."""


class ModelError(ValueError):
    """A value does not fit the canonical model (a permanent, 4xx-class error)."""


class PermanentError(OmnihubError):
    """Retrying cannot help: the input is wrong or forbidden."""

    status = 400

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if status is not None:
            self.status = status


class RetryableError(OmnihubError):
    """A dependency failed; the same request may succeed later (→ 5xx or a batch item failure)."""

    status = 503

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadRequest(PermanentError):
    status = 400


class Unauthorized(PermanentError):
    status = 401


class Forbidden(PermanentError):
    status = 403


class NotFound(PermanentError):
    status = 404


class PayloadTooLarge(PermanentError):
    status = 413


class Conflict(PermanentError):
    status = 409


class StoreUnavailable(RetryableError):
    """The durable write did not happen: the provider must retry."""
