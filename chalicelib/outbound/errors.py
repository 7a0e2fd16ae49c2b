"""Send errors: permanent (record the failure, never retry) versus transient (retry the SQS message).

Like every hub error each has a stable ``code`` (``send_refused``, ``window_closed``, ...). Each
also carries what the provider said, so the ledger and the delivery figures can show it:
``error_code`` is the code recorded on the failed message (the provider's own, e.g. Twilio
``21211``, or a finer one of ours such as ``no_id`` when the provider gave none), ``http_status``
the provider's answer; a transient error also carries ``retry_after`` seconds when the provider
asked for a pause.
"""

from __future__ import annotations

from chalicelib.core.errors import PermanentError, RetryableError


class PermanentSendError(PermanentError):
    """The provider refused the message and will refuse it again (invalid number, blocked, ...)."""

    code = "send_refused"

    def __init__(
        self,
        reason: str,
        *,
        provider: str | None = None,
        error_code: str | None = None,
        http_status: int | None = None,
    ) -> None:
        super().__init__(reason)
        self.provider = provider
        self.error_code = error_code
        self.http_status = http_status

    @property
    def recorded_code(self) -> str:
        """What the failed message's ``error_code`` says: the provider's code, else ours."""
        return self.error_code or self.code

    def __str__(self) -> str:
        return _describe(self.provider, self.error_code, self.reason)


class WindowClosed(PermanentSendError):
    """The channel's customer-service window is closed and no allowed alternative fits."""

    code = "window_closed"


class OptedOut(PermanentSendError):
    """The customer withdrew consent on this channel (STOP): nothing may be sent."""

    code = "opted_out"


class SenderNotConfigured(PermanentSendError):
    """No sender, or no credentials, for the provider the job names."""

    code = "sender_not_configured"


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
        error_code: str | None = None,
        http_status: int | None = None,
        retry_after: float | None = None,
        ambiguous: bool = False,
    ) -> None:
        super().__init__(reason)
        self.provider = provider
        self.error_code = error_code
        self.http_status = http_status
        self.retry_after = retry_after
        self.ambiguous = ambiguous

    def __str__(self) -> str:
        return _describe(self.provider, self.error_code, self.reason)


def _describe(provider: str | None, error_code: str | None, reason: str) -> str:
    prefix = f"{provider}: " if provider else ""
    suffix = f" (code {error_code})" if error_code else ""
    return f"{prefix}{reason}{suffix}"
