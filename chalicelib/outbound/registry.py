"""Which sender sends what: the senders built from settings and secrets, and the provider per channel.

Both are views of the provider registry (chalicelib/providers/registry.py): which providers send,
on which channels, which one by default, and where each sender's factory lives. Every provider's
API base URL comes from ``OMNIHUB_<PROVIDER>_API_BASE`` (e.g.
``OMNIHUB_TWILIO_API_BASE=http://127.0.0.1:4580``) and defaults to the public API, so the local
stack points every sender at the provider sandbox by configuration alone. Senders are built on
first use, each by its own module's ``build_sender``: a cold start imports no sender and reads no
secret it does not need, and a provider without credentials fails its jobs permanently
(``SenderNotConfigured``) instead of failing the whole batch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.adapters.settings import Settings
from chalicelib.core.model import Channel
from chalicelib.outbound.errors import SenderNotConfigured
from chalicelib.outbound.http import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, HttpClient
from chalicelib.outbound.job import OutboundJob
from chalicelib.outbound.senders.base import SecretReader, Sender, SenderContext, SendResult
from chalicelib.providers.registry import REGISTRY, load, senders_by_channel

DEFAULT_API_BASES: dict[str, str] = {entry.name: entry.api_base for entry in REGISTRY if entry.api_base}

_CHANNEL_SENDERS = senders_by_channel()


class NoOutboundProvider(SenderNotConfigured):
    """The channel has no outbound sender (voice, webchat) or the configured provider cannot serve it."""


class NoSenderForChannel(NoOutboundProvider):
    """No provider sends on the channel at all (web chat, voice), as opposed to a misconfiguration."""


def api_base(provider: str, environ: Mapping[str, str]) -> str:
    """``OMNIHUB_<PROVIDER>_API_BASE`` or the provider's public API base URL."""
    configured = environ.get(f"OMNIHUB_{provider.upper()}_API_BASE")
    return (configured or DEFAULT_API_BASES[provider]).rstrip("/")


# Channels whose replies leave through the deployment's choice whichever provider carried the message in:
# an email leaves from the mailbox it was sent to, which any email provider can send from
# (OMNIHUB_EMAIL_PROVIDER, default ses).
CHOSEN_BY_DEPLOYMENT = frozenset({Channel.EMAIL})


def provider_for(channel: Channel | str, hints: Mapping[str, str], inbound_provider: str | None = None) -> str:
    """The provider that sends on ``channel``.

    ``hints`` is the configuration (settings.environ): ``OMNIHUB_SMS_PROVIDER`` (twilio|vonage),
    ``OMNIHUB_WHATSAPP_PROVIDER`` (twilio|meta|vonage), ``OMNIHUB_MESSENGER_PROVIDER`` (meta|vonage),
    ``OMNIHUB_VIBER_PROVIDER`` (viber|vonage). ``inbound_provider``, the provider the customer wrote
    through, wins when it can send on the channel: a reply leaves by the number it came in on.
    """
    channel = Channel(channel)
    senders = _CHANNEL_SENDERS.get(channel)
    if senders is None:
        raise NoSenderForChannel(f"no outbound provider sends on {channel.value}")
    if inbound_provider in senders.allowed and channel not in CHOSEN_BY_DEPLOYMENT:
        return str(inbound_provider)
    variable = senders.variable
    configured = (hints.get(variable) or "").strip().lower() if variable else ""
    if configured and configured not in senders.allowed:
        raise NoOutboundProvider(f"{variable}={configured!r} cannot send on {channel.value}; "
                                 f"use one of {sorted(senders.allowed)}")
    return configured or senders.default


class LazySender:
    """A sender built on its first job (secrets read then), then reused."""

    def __init__(self, provider: str, factory: Callable[[], Sender]) -> None:
        self.provider = provider
        self._factory = factory
        self._built: Sender | None = None
        self._lock = threading.Lock()

    def resolve(self) -> Sender:
        with self._lock:
            if self._built is None:
                self._built = self._factory()
            return self._built

    def send(self, job: OutboundJob) -> SendResult:
        return self.resolve().send(job)


def build_senders(
    settings: Settings,
    secret_source: SecretReader | Any,
    *,
    http: HttpClient | None = None,
    aws_client_factory: Callable[[], Any] | None = None,
) -> dict[str, Sender]:
    """provider → sender for every provider that sends; credentials are read when a sender is first used.

    ``aws_client_factory`` stands in for the AWS SDK client of senders that call AWS (tests).
    """
    env = settings.environ
    client = http or HttpClient(
        connect_timeout=float(env.get("OMNIHUB_HTTP_CONNECT_TIMEOUT") or DEFAULT_CONNECT_TIMEOUT),
        read_timeout=float(env.get("OMNIHUB_HTTP_READ_TIMEOUT") or DEFAULT_READ_TIMEOUT),
    )
    senders: dict[str, Sender] = {}
    for entry in REGISTRY:
        if entry.sender is None:
            continue
        context = SenderContext(
            provider=entry.name, settings=settings, secrets=secret_source, http=client,
            api_base=api_base(entry.name, env) if entry.api_base else "", aws_client_factory=aws_client_factory,
        )
        senders[entry.name] = LazySender(entry.name, _factory(entry.sender, context))
    return senders


def _factory(target: str, context: SenderContext) -> Callable[[], Sender]:
    def build() -> Sender:
        build_sender: Callable[[SenderContext], Sender] = load(target)  # the sender's module, on first use
        return build_sender(context)

    return build
