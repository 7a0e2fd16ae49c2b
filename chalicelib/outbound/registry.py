"""Which sender sends what: the senders built from settings and secrets, and the provider per channel.

Every provider's API base URL comes from ``OMNIHUB_<PROVIDER>_API_BASE`` (e.g.
``OMNIHUB_TWILIO_API_BASE=http://127.0.0.1:4580``) and defaults to the public API, so the local
stack points every sender at the provider sandbox by configuration alone. Senders are built on
first use: a cold start reads no secret it does not need, and a provider without credentials fails
its jobs permanently (``SenderNotConfigured``) instead of failing the whole batch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.adapters.secrets import SecretSource
from chalicelib.adapters.settings import Settings
from chalicelib.core.model import Channel
from chalicelib.outbound.errors import SenderNotConfigured
from chalicelib.outbound.http import DEFAULT_CONNECT_TIMEOUT, DEFAULT_READ_TIMEOUT, HttpClient
from chalicelib.outbound.job import OutboundJob
from chalicelib.outbound.senders import line, meta, telegram, twilio, viber, vonage, x
from chalicelib.outbound.senders.base import Sender, SendResult
from chalicelib.outbound.senders.ses import SesSender

DEFAULT_API_BASES: dict[str, str] = {
    "twilio": twilio.DEFAULT_API_BASE,
    "meta": meta.DEFAULT_API_BASE,
    "telegram": telegram.DEFAULT_API_BASE,
    "line": line.DEFAULT_API_BASE,
    "viber": viber.DEFAULT_API_BASE,
    "x": x.DEFAULT_API_BASE,
    "vonage": vonage.DEFAULT_API_BASE,
}

# channel → (config variable, default provider, allowed providers)
_CHANNEL_PROVIDERS: dict[Channel, tuple[str | None, str, frozenset[str]]] = {
    Channel.SMS: ("OMNIHUB_SMS_PROVIDER", "twilio", frozenset({"twilio", "vonage"})),
    Channel.WHATSAPP: ("OMNIHUB_WHATSAPP_PROVIDER", "twilio", frozenset({"twilio", "meta", "vonage"})),
    Channel.MESSENGER: ("OMNIHUB_MESSENGER_PROVIDER", "meta", frozenset({"meta", "vonage"})),
    Channel.INSTAGRAM: (None, "meta", frozenset({"meta"})),
    Channel.TELEGRAM: (None, "telegram", frozenset({"telegram"})),
    Channel.LINE: (None, "line", frozenset({"line"})),
    Channel.VIBER: ("OMNIHUB_VIBER_PROVIDER", "viber", frozenset({"viber", "vonage"})),
    Channel.X: (None, "x", frozenset({"x"})),
    Channel.EMAIL: (None, "ses", frozenset({"ses"})),
}


class NoOutboundProvider(SenderNotConfigured):
    """The channel has no outbound sender (voice, webchat) or the configured provider cannot serve it."""


def api_base(provider: str, environ: Mapping[str, str]) -> str:
    """``OMNIHUB_<PROVIDER>_API_BASE`` or the provider's public API base URL."""
    configured = environ.get(f"OMNIHUB_{provider.upper()}_API_BASE")
    return (configured or DEFAULT_API_BASES[provider]).rstrip("/")


def provider_for(channel: Channel | str, hints: Mapping[str, str], inbound_provider: str | None = None) -> str:
    """The provider that sends on ``channel``.

    ``hints`` is the configuration (settings.environ): ``OMNIHUB_SMS_PROVIDER`` (twilio|vonage),
    ``OMNIHUB_WHATSAPP_PROVIDER`` (twilio|meta|vonage), ``OMNIHUB_MESSENGER_PROVIDER`` (meta|vonage),
    ``OMNIHUB_VIBER_PROVIDER`` (viber|vonage). ``inbound_provider``, the provider the customer wrote
    through, wins when it can send on the channel: a reply leaves by the number it came in on.
    """
    channel = Channel(channel)
    entry = _CHANNEL_PROVIDERS.get(channel)
    if entry is None:
        raise NoOutboundProvider(f"no outbound provider sends on {channel.value}")
    variable, default, allowed = entry
    if inbound_provider in allowed:
        return str(inbound_provider)
    configured = (hints.get(variable) or "").strip().lower() if variable else ""
    if configured and configured not in allowed:
        raise NoOutboundProvider(f"{variable}={configured!r} cannot send on {channel.value}; "
                                 f"use one of {sorted(allowed)}")
    return configured or default


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
    secret_source: SecretSource | Any,
    *,
    http: HttpClient | None = None,
    ses_client_factory: Callable[[], Any] | None = None,
) -> dict[str, Sender]:
    """provider → sender for every provider; credentials are read when a sender is first used."""
    env = settings.environ
    client = http or HttpClient(
        connect_timeout=float(env.get("OMNIHUB_HTTP_CONNECT_TIMEOUT") or DEFAULT_CONNECT_TIMEOUT),
        read_timeout=float(env.get("OMNIHUB_HTTP_READ_TIMEOUT") or DEFAULT_READ_TIMEOUT),
    )

    def need(provider: str, *names: str) -> list[str]:
        values = [secret_source.get(name) for name in names]
        missing = [name for name, value in zip(names, values, strict=True) if not value]
        if missing:
            raise SenderNotConfigured(f"missing secret(s) {', '.join(missing)}", provider=provider)
        return [str(v) for v in values]

    def build_twilio() -> Sender:
        sid, token = need("twilio", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN")
        return twilio.TwilioSender(
            account_sid=sid, auth_token=token, base_url=api_base("twilio", env),
            public_base_url=settings.public_base_url, default_from=env.get("OMNIHUB_TWILIO_FROM"),
            default_whatsapp_from=env.get("OMNIHUB_TWILIO_WHATSAPP_FROM"),
            messaging_service_sid=env.get("OMNIHUB_TWILIO_MESSAGING_SERVICE_SID"), http=client,
        )

    def build_meta() -> Sender:
        (token,) = need("meta", "META_ACCESS_TOKEN")
        return meta.MetaSender(
            access_token=token, base_url=api_base("meta", env),
            graph_version=env.get("OMNIHUB_META_GRAPH_VERSION") or meta.DEFAULT_GRAPH_VERSION,
            default_phone_number_id=env.get("OMNIHUB_META_PHONE_NUMBER_ID"), http=client,
        )

    def build_telegram() -> Sender:
        (token,) = need("telegram", "TELEGRAM_BOT_TOKEN")
        return telegram.TelegramSender(bot_token=token, base_url=api_base("telegram", env), http=client)

    def build_line() -> Sender:
        (token,) = need("line", "LINE_CHANNEL_ACCESS_TOKEN")
        return line.LineSender(channel_access_token=token, base_url=api_base("line", env), http=client)

    def build_viber() -> Sender:
        (token,) = need("viber", "VIBER_AUTH_TOKEN")
        return viber.ViberSender(
            auth_token=token, base_url=api_base("viber", env),
            sender_name=env.get("OMNIHUB_VIBER_SENDER_NAME") or viber.DEFAULT_SENDER_NAME,
            sender_avatar=env.get("OMNIHUB_VIBER_SENDER_AVATAR"), http=client,
        )

    def build_x() -> Sender:
        (token,) = need("x", "X_BEARER_TOKEN")
        return x.XSender(bearer_token=token, base_url=api_base("x", env), http=client)

    def build_vonage() -> Sender:
        found = secret_source.get_many(
            ["VONAGE_APPLICATION_ID", "VONAGE_PRIVATE_KEY", "VONAGE_API_KEY", "VONAGE_API_SECRET"])
        return vonage.VonageSender(
            base_url=api_base("vonage", env), api_key=found.get("VONAGE_API_KEY"),
            api_secret=found.get("VONAGE_API_SECRET"), application_id=found.get("VONAGE_APPLICATION_ID"),
            private_key=found.get("VONAGE_PRIVATE_KEY"),
            default_from={channel: value for channel in ("sms", "whatsapp", "messenger", "viber")
                          if (value := env.get(f"OMNIHUB_VONAGE_{channel.upper()}_FROM"))},
            http=client,
        )

    def build_ses() -> Sender:
        return SesSender(
            client_factory=ses_client_factory or _default_ses_client_factory(settings),
            from_address=env.get("OMNIHUB_EMAIL_FROM"), reply_to=env.get("OMNIHUB_EMAIL_REPLY_TO"),
            configuration_set=env.get("OMNIHUB_SES_CONFIGURATION_SET"),
        )

    factories: dict[str, Callable[[], Sender]] = {
        "twilio": build_twilio, "meta": build_meta, "telegram": build_telegram, "line": build_line,
        "viber": build_viber, "x": build_x, "vonage": build_vonage, "ses": build_ses,
    }
    return {provider: LazySender(provider, factory) for provider, factory in factories.items()}


def _default_ses_client_factory(settings: Settings) -> Callable[[], Any]:
    def make() -> Any:
        import boto3  # only when an email is sent

        return boto3.client("sesv2", region_name=settings.environ.get("OMNIHUB_SES_REGION") or settings.region,
                            endpoint_url=settings.aws_endpoint_url)

    return make
