"""The one interface every provider sender implements, and helpers they share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from chalicelib.core.model import DeliveryStatus
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
