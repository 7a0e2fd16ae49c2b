"""Send errors: permanent (record the failure, never retry) versus transient (retry the SQS message).

Both carry what the provider said (``code``, ``reason``) so the ledger and the delivery figures can
show it; a transient error also carries ``retry_after`` seconds when the provider asked for a pause.
"""

from __future__ import annotations

from chalicelib.core.errors import PermanentError, RetryableError


class PermanentSendError(PermanentError):
    """The provider refused the message and will refuse it again (invalid number, blocked, ...)."""

    status = 422

    def __init__(
        self,
        reason: str,
        *,
        provider: str | None = None,
        code: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.provider = provider
        self.code = code
        self.http_status = http_status

    def __str__(self) -> str:
        return _describe(self.provider, self.code, self.reason)


class WindowClosed(PermanentSendError):
    """The channel's customer-service window is closed and no allowed alternative fits."""

    def __init__(self, reason: str, *, provider: str | None = None, code: str | None = "window_closed",
                 http_status: int | None = None) -> None:
        super().__init__(reason, provider=provider, code=code, http_status=http_status)


class OptedOut(PermanentSendError):
    """The customer withdrew consent on this channel (STOP): nothing may be sent."""

    def __init__(self, reason: str, *, provider: str | None = None, code: str | None = "opted_out",
                 http_status: int | None = None) -> None:
        super().__init__(reason, provider=provider, code=code, http_status=http_status)


class SenderNotConfigured(PermanentSendError):
    """No sender, or no credentials, for the provider the job names."""

    def __init__(self, reason: str, *, provider: str | None = None) -> None:
        super().__init__(reason, provider=provider, code="sender_not_configured")


class TransientSendError(RetryableError):
    """The provider or the network failed this time; the same job may succeed later.

    ``ambiguous`` is True when the request may have reached the provider (a read timeout, a
    dropped connection after the body was written): a retry can then duplicate the message on
    providers without an idempotency key.
    """

    def __init__(
        self,
        reason: str,
        *,
        provider: str | None = None,
        code: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
        ambiguous: bool = False,
    ) -> None:
        super().__init__(reason)
        self.provider = provider
        self.code = code
        self.http_status = http_status
        self.retry_after = retry_after
        self.ambiguous = ambiguous

    def __str__(self) -> str:
        return _describe(self.provider, self.code, self.reason)


def _describe(provider: str | None, code: str | None, reason: str) -> str:
    prefix = f"{provider}: " if provider else ""
    suffix = f" (code {code})" if code else ""
    return f"{prefix}{reason}{suffix}"
