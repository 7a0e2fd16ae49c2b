"""The one interface every provider sender implements, and helpers they share."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from chalicelib.adapters.settings import Settings
from chalicelib.core.model import DeliveryStatus
from chalicelib.outbound.errors import SenderNotConfigured
from chalicelib.outbound.http import HttpClient
from chalicelib.outbound.job import OutboundJob


@dataclass(frozen=True, slots=True)
class SendResult:
    """What the provider answered: its id for the message and the message's first status.

    ``details`` holds extra ids worth storing (the email ``Message-ID`` header, LINE's
    ``x-line-accepted-request-id``, the Telegram chat id, ...).
    """

    provider: str
    provider_message_id: str
    status: DeliveryStatus
    details: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Sender(Protocol):
    provider: str

    def send(self, job: OutboundJob) -> SendResult:
        """Send one job; raise PermanentSendError or TransientSendError on failure."""
        ...


class SecretReader(Protocol):
    def get(self, name: str) -> str | None: ...

    def get_many(self, names: Iterable[str]) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class SenderContext:
    """What a provider's ``build_sender`` may read, when the provider's first job arrives.

    Each sender module builds itself from this (``build_sender(context)``, named in the provider
    registry), so the outbound registry knows no provider's secrets or settings.
    """

    provider: str
    settings: Settings
    secrets: SecretReader
    http: HttpClient  # one client (and its timeouts) shared by every HTTP sender
    api_base: str = ""  # OMNIHUB_<PROVIDER>_API_BASE or the registry's default; "" for an AWS SDK sender
    aws_client_factory: Callable[[], Any] | None = None  # a test's stand-in for an AWS SDK client

    def setting(self, name: str) -> str | None:
        """A configuration variable (``OMNIHUB_TWILIO_FROM``), None when unset or empty."""
        return self.settings.environ.get(name) or None

    def require(self, *names: str) -> list[str]:
        """The secrets the sender cannot work without, in order; SenderNotConfigured names the missing ones."""
        values = [self.secrets.get(name) for name in names]
        missing = [name for name, value in zip(names, values, strict=True) if not value]
        if missing:
            raise SenderNotConfigured(f"missing secret(s) {', '.join(missing)}", provider=self.provider)
        return [str(value) for value in values]

    def optional(self, *names: str) -> Mapping[str, str]:
        """The secrets among ``names`` that are set (for senders with alternative credentials)."""
        return self.secrets.get_many(list(names))


def text_with_links(job: OutboundJob, *, skip_urls: frozenset[str] = frozenset()) -> str:
    """The text, followed by the URL of every attachment the channel cannot carry natively."""
    lines = [job.text.strip()] if job.text and job.text.strip() else []
    for attachment in job.attachments:
        if attachment.url and attachment.url not in skip_urls:
            label = attachment.name or attachment.caption
            lines.append(f"{label}: {attachment.url}" if label else attachment.url)
    return "\n".join(lines)


def digits_only(phone: str) -> str:
    """E.164 without the ``+`` (WhatsApp Cloud API ``to``, Vonage ``to``/``from``)."""
    return phone[1:] if phone.startswith("+") else phone
