"""Every provider the hub talks to, registered once.

One frozen ``ProviderEntry`` (its shape: :mod:`chalicelib.providers.entries`) per provider says everything
the rest of the code needs to know about it: its webhook endpoints (route path, methods, the
:class:`~chalicelib.providers.base.ChannelSpec` that verifies and parses them, whether the response can
carry the instant acknowledgment), the
channels it carries, the secrets it reads (split into what checks inbound traffic and what sends,
so each Lambda can be granted only its half), its sender factory and default API base, and the
``./hub simulate`` commands that imitate it. ``ENDPOINTS``, ``SECRET_GROUPS``, the outbound
``PROVIDERS`` and sender registry, the channel → provider choice, devstack's simulators and
sandbox, and infra's secrets are all views of this one tuple: adding a provider is one entry here
plus the provider's own modules.

Code is named by ``"module:ATTRIBUTE"`` strings, imported on first use: this module imports no
provider module, no sender and no AWS library, so a webhook's cold start loads only its own
provider, and the outbound worker only the senders it uses.
"""

# The registry names secrets and the groups that hold them; it holds no secret value.
# ruff: noqa: S106

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from importlib import import_module
from typing import Any

from chalicelib.core.model import Channel
from chalicelib.providers.entries import ProviderEntry as ProviderEntry  # the shapes, re-exported
from chalicelib.providers.entries import Simulator as Simulator
from chalicelib.providers.entries import WebhookEndpoint as WebhookEndpoint

REGISTRY: tuple[ProviderEntry, ...] = (
    ProviderEntry(
        # The hub's own API: the generic signed channel (web chat, custom apps) and the REST keys.
        name="api",
        channels=frozenset({Channel.WEBCHAT}),
        secret_group="api",
        verify_secrets=("OMNIHUB_API_SIGNING_SECRET", "OMNIHUB_API_KEYS"),
        webhooks=(WebhookEndpoint("api", "/webhooks/api", ("POST",), "chalicelib.providers.api:CHANNEL"),),
        simulators=(Simulator("api", "devstack.simulators.api:simulate_api_webhook",
                              "generic signed channel (web chat); --from is any user id"),),
    ),
    ProviderEntry(
        name="twilio",
        channels=frozenset({Channel.SMS, Channel.WHATSAPP, Channel.VOICE}),
        secret_group="twilio",
        verify_secrets=("TWILIO_AUTH_TOKEN",),
        send_secrets=("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"),  # the auth token also signs webhooks
        webhooks=(
            WebhookEndpoint("twilio_messaging", "/webhooks/twilio/messaging", ("POST",),
                            "chalicelib.providers.twilio:MESSAGING", instant_ack=True),
            WebhookEndpoint("twilio_status", "/webhooks/twilio/status", ("POST",),
                            "chalicelib.providers.twilio:STATUS"),
            # Twilio Voice: the call's answer (TwiML) and its callbacks, all folded into one call message.
            WebhookEndpoint("twilio_voice", "/webhooks/twilio/voice", ("POST",),
                            "chalicelib.providers.twilio.voice:VOICE", answers_call=True),
            WebhookEndpoint("twilio_voice_status", "/webhooks/twilio/voice/status", ("POST",),
                            "chalicelib.providers.twilio.voice:VOICE_STATUS"),
            WebhookEndpoint("twilio_voice_action", "/webhooks/twilio/voice/action", ("POST",),
                            "chalicelib.providers.twilio.voice:VOICE_ACTION", answers_call=True),
            WebhookEndpoint("twilio_voice_recording", "/webhooks/twilio/voice/recording", ("POST",),
                            "chalicelib.providers.twilio.voice:VOICE_RECORDING"),
            WebhookEndpoint("twilio_voice_transcription", "/webhooks/twilio/voice/transcription", ("POST",),
                            "chalicelib.providers.twilio.voice:VOICE_TRANSCRIPTION"),
        ),
        sender="chalicelib.outbound.senders.twilio:build_sender",
        sends_on=frozenset({Channel.SMS, Channel.WHATSAPP}),
        default_sender_for=frozenset({Channel.SMS, Channel.WHATSAPP}),
        api_base="https://api.twilio.com",
        simulators=(
            Simulator("twilio-sms", "devstack.simulators.twilio:simulate_twilio_messaging_message",
                      "Twilio SMS; --from is a phone number (+393331234567)", (("channel", "sms"),)),
            Simulator("twilio-whatsapp", "devstack.simulators.twilio:simulate_twilio_messaging_message",
                      "Twilio WhatsApp; --from is a phone number", (("channel", "whatsapp"),)),
            Simulator("voice-twilio", "devstack.simulators.voice:simulate_twilio_voice_call",
                      "Twilio Voice, a whole unanswered call with voicemail (also: voice twilio); --from is a phone"),
        ),
    ),
    ProviderEntry(
        name="meta",
        channels=frozenset({Channel.WHATSAPP, Channel.MESSENGER, Channel.INSTAGRAM}),
        secret_group="meta",
        verify_secrets=("META_APP_SECRET", "META_VERIFY_TOKEN"),
        send_secrets=("META_ACCESS_TOKEN",),
        webhooks=(WebhookEndpoint("meta", "/webhooks/meta", ("GET", "POST"), "chalicelib.providers.meta:CHANNEL"),),
        sender="chalicelib.outbound.senders.meta:build_sender",
        sends_on=frozenset({Channel.WHATSAPP, Channel.MESSENGER, Channel.INSTAGRAM}),
        default_sender_for=frozenset({Channel.MESSENGER, Channel.INSTAGRAM}),
        api_base="https://graph.facebook.com",
        simulators=(
            Simulator("whatsapp", "devstack.simulators.meta:simulate_meta_message",
                      "WhatsApp Cloud API; --from is a phone"),
            Simulator("messenger", "devstack.simulators.meta:simulate_meta_social",
                      "Messenger; --from is a PSID; dm|comment", (("channel", "messenger"),), ("dm", "comment")),
            Simulator("instagram", "devstack.simulators.meta:simulate_meta_social",
                      "Instagram; --from is an IGSID; dm|comment|mention", (("channel", "instagram"),),
                      ("dm", "comment", "mention")),
        ),
    ),
    ProviderEntry(
        name="telegram",
        channels=frozenset({Channel.TELEGRAM}),
        secret_group="telegram",
        verify_secrets=("TELEGRAM_SECRET_TOKEN",),
        send_secrets=("TELEGRAM_BOT_TOKEN",),
        webhooks=(WebhookEndpoint("telegram", "/webhooks/telegram/{bot}", ("POST",),
                                  "chalicelib.providers.telegram:CHANNEL", instant_ack=True),),
        sender="chalicelib.outbound.senders.telegram:build_sender",
        sends_on=frozenset({Channel.TELEGRAM}),
        default_sender_for=frozenset({Channel.TELEGRAM}),
        api_base="https://api.telegram.org",
        simulators=(Simulator("telegram", "devstack.simulators.telegram:simulate_telegram_message",
                              "Telegram; --from is a chat id"),),
    ),
    ProviderEntry(
        name="line",
        channels=frozenset({Channel.LINE}),
        secret_group="line",
        verify_secrets=("LINE_CHANNEL_SECRET",),
        send_secrets=("LINE_CHANNEL_ACCESS_TOKEN",),
        webhooks=(WebhookEndpoint("line", "/webhooks/line", ("POST",), "chalicelib.providers.line:CHANNEL"),),
        sender="chalicelib.outbound.senders.line:build_sender",
        sends_on=frozenset({Channel.LINE}),
        default_sender_for=frozenset({Channel.LINE}),
        api_base="https://api.line.me",
        # A push carries X-Line-Retry-Key (a repeat answers 409) and a reply token is single-use.
        retry_safe=True,
        simulators=(Simulator("line", "devstack.simulators.line:simulate_line_message",
                              "LINE; --from is a user id (U...)"),),
    ),
    ProviderEntry(
        name="viber",
        channels=frozenset({Channel.VIBER}),
        secret_group="viber",
        verify_secrets=("VIBER_AUTH_TOKEN",),  # Viber signs callbacks with the bot's own token
        send_secrets=("VIBER_AUTH_TOKEN",),
        webhooks=(WebhookEndpoint("viber", "/webhooks/viber", ("POST",), "chalicelib.providers.viber:CHANNEL"),),
        sender="chalicelib.outbound.senders.viber:build_sender",
        sends_on=frozenset({Channel.VIBER}),
        default_sender_for=frozenset({Channel.VIBER}),
        api_base="https://chatapi.viber.com",
        simulators=(Simulator("viber", "devstack.simulators.viber:simulate_viber_message",
                              "Viber; --from is a user id"),),
    ),
    ProviderEntry(
        # Account Activity webhook (CRC GET, signed POSTs); DMs and reply posts are sent.
        name="x",
        channels=frozenset({Channel.X}),
        secret_group="x",
        verify_secrets=("X_CONSUMER_SECRET",),
        send_secrets=("X_BEARER_TOKEN",),
        webhooks=(WebhookEndpoint("x", "/webhooks/x", ("GET", "POST"), "chalicelib.providers.x:CHANNEL"),),
        sender="chalicelib.outbound.senders.x:build_sender",
        sends_on=frozenset({Channel.X}),
        default_sender_for=frozenset({Channel.X}),
        api_base="https://api.x.com",
        simulators=(Simulator("x", "devstack.simulators.x:simulate_x_message",
                              "X; --from is a user id; dm|mention|reply", kinds=("dm", "mention", "reply")),),
    ),
    ProviderEntry(
        name="vonage",
        channels=frozenset({Channel.SMS, Channel.WHATSAPP, Channel.MESSENGER, Channel.VIBER, Channel.VOICE}),
        secret_group="vonage",
        verify_secrets=("VONAGE_SIGNATURE_SECRET",),
        send_secrets=("VONAGE_API_KEY", "VONAGE_API_SECRET", "VONAGE_APPLICATION_ID", "VONAGE_PRIVATE_KEY"),
        webhooks=(
            WebhookEndpoint("vonage_messages", "/webhooks/vonage/messages", ("POST",),
                            "chalicelib.providers.vonage:MESSAGES"),
            # Vonage Voice: the answer URL (GET by default, POST when so configured) returns the NCCO.
            WebhookEndpoint("vonage_voice_answer", "/webhooks/vonage/voice/answer", ("GET", "POST"),
                            "chalicelib.providers.vonage.voice:VOICE_ANSWER", answers_call=True),
            WebhookEndpoint("vonage_voice_event", "/webhooks/vonage/voice/event", ("POST",),
                            "chalicelib.providers.vonage.voice:VOICE_EVENT"),
        ),
        sender="chalicelib.outbound.senders.vonage:build_sender",
        sends_on=frozenset({Channel.SMS, Channel.WHATSAPP, Channel.MESSENGER, Channel.VIBER}),
        api_base="https://api.nexmo.com",
        simulators=(
            Simulator("vonage-sms", "devstack.simulators.vonage:simulate_vonage_messages_message",
                      "Vonage Messages SMS; --from is a phone number", (("channel", "sms"),)),
            Simulator("vonage-whatsapp", "devstack.simulators.vonage:simulate_vonage_messages_message",
                      "Vonage Messages WhatsApp; --from is a phone number", (("channel", "whatsapp"),)),
            Simulator("voice-vonage", "devstack.simulators.voice:simulate_vonage_voice_call",
                      "Vonage Voice, a whole unanswered call with voicemail (also: voice vonage); --from is a phone"),
        ),
    ),
    ProviderEntry(
        # Amazon Connect: no webhook and no secret. A contact flow invokes a Lambda function (IAM: a
        # resource policy for connect.amazonaws.com) and EventBridge delivers contact events; app.py wires both.
        name="amazon_connect",
        channels=frozenset({Channel.VOICE}),
        invocations=("chalicelib.providers.connect:parse_invocation",
                     "chalicelib.providers.connect:parse_contact_event"),
        simulators=(Simulator("connect", "devstack.simulators.voice:simulate_connect_invocation",
                              "Amazon Connect, the contact flow's Lambda invoked in-process; --from is a phone"),),
    ),
    ProviderEntry(
        # Amazon SES v2 through boto3 and the Lambda's role: no secret, no HTTP API base. Inbound: SNS
        # notifications, verified against Amazon's signing certificate and the configured topics (no
        # secret either); app.py binds the spec to its certificate fetcher and topics.
        name="ses",
        channels=frozenset({Channel.EMAIL}),
        webhooks=(WebhookEndpoint("ses", "/webhooks/email/ses", ("POST",), "chalicelib.providers.ses:CHANNEL"),),
        sender="chalicelib.outbound.senders.ses:build_sender",
        sends_on=frozenset({Channel.EMAIL}),
        default_sender_for=frozenset({Channel.EMAIL}),
        simulators=(Simulator("ses", "devstack.simulators.email:simulate_ses_message",
                              "Amazon SES via SNS, signed with the local certificate; --from is an email address"),),
    ),
    # Inbound email providers (one MIME path: chalicelib/email); the same mail through two of them is
    # one inbox item (InboundEvent.inbox_namespace).
    ProviderEntry(
        name="sendgrid",
        channels=frozenset({Channel.EMAIL}),
        secret_group="sendgrid",
        verify_secrets=("SENDGRID_INBOUND_TOKEN", "SENDGRID_EVENT_PUBLIC_KEY"),
        send_secrets=("SENDGRID_API_KEY",),
        webhooks=(WebhookEndpoint("sendgrid", "/webhooks/email/sendgrid", ("POST",),
                                  "chalicelib.providers.sendgrid:CHANNEL"),
                  WebhookEndpoint("sendgrid_events", "/webhooks/email/sendgrid/events", ("POST",),
                                  "chalicelib.providers.sendgrid_events:CHANNEL")),
        sender="chalicelib.outbound.senders.sendgrid:build_sender",
        sends_on=frozenset({Channel.EMAIL}),
        api_base="https://api.sendgrid.com",
        simulators=(Simulator("sendgrid", "devstack.simulators.email:simulate_sendgrid_message",
                              "SendGrid Inbound Parse; --from is an email address; -o mode=raw|parsed"),),
    ),
    ProviderEntry(
        name="mailgun",
        channels=frozenset({Channel.EMAIL}),
        secret_group="mailgun",
        verify_secrets=("MAILGUN_SIGNING_KEY",),
        send_secrets=("MAILGUN_API_KEY",),
        webhooks=(WebhookEndpoint("mailgun", "/webhooks/email/mailgun", ("POST",),
                                  "chalicelib.providers.mailgun:CHANNEL"),
                  WebhookEndpoint("mailgun_events", "/webhooks/email/mailgun/events", ("POST",),
                                  "chalicelib.providers.mailgun_events:CHANNEL")),
        sender="chalicelib.outbound.senders.mailgun:build_sender",
        sends_on=frozenset({Channel.EMAIL}),
        api_base="https://api.mailgun.net",
        simulators=(Simulator("mailgun", "devstack.simulators.email:simulate_mailgun_message",
                              "Mailgun route forward(); --from is an email address; -o mode=parsed|mime"),),
    ),
    ProviderEntry(
        name="postmark",
        channels=frozenset({Channel.EMAIL}),
        secret_group="postmark",
        verify_secrets=("POSTMARK_INBOUND_USER", "POSTMARK_INBOUND_PASSWORD"),
        send_secrets=("POSTMARK_SERVER_TOKEN",),
        webhooks=(WebhookEndpoint("postmark", "/webhooks/email/postmark", ("POST",),
                                  "chalicelib.providers.postmark:CHANNEL"),
                  WebhookEndpoint("postmark_events", "/webhooks/email/postmark/events", ("POST",),
                                  "chalicelib.providers.postmark_events:CHANNEL")),
        sender="chalicelib.outbound.senders.postmark:build_sender",
        sends_on=frozenset({Channel.EMAIL}),
        api_base="https://api.postmarkapp.com",
        simulators=(Simulator("postmark", "devstack.simulators.email:simulate_postmark_message",
                              "Postmark inbound; --from is an email address"),),
    ),
)


# ---------------------------------------------------------------- views (each a pure function of entries)
@dataclass(frozen=True, slots=True)
class ChannelSenders:
    """Who may send on one channel, who does by default, and the variable that chooses."""

    default: str
    allowed: frozenset[str]
    variable: str | None = None  # OMNIHUB_<CHANNEL>_PROVIDER, only where there is a choice


def webhook_endpoints(entries: Iterable[ProviderEntry] = REGISTRY) -> dict[str, WebhookEndpoint]:
    """endpoint name → endpoint, across every provider."""
    return {endpoint.name: endpoint for entry in entries for endpoint in entry.webhooks}


def secret_groups(entries: Iterable[ProviderEntry] = REGISTRY) -> dict[str, str]:
    """secret name → its provider's group (chalicelib/adapters/secrets.py splits a group by reader)."""
    return {name: entry.secret_group for entry in entries if entry.secret_group for name in entry.secrets}


def sending_providers(entries: Iterable[ProviderEntry] = REGISTRY) -> tuple[str, ...]:
    """The providers that have a sender, in registry order."""
    return tuple(entry.name for entry in entries if entry.sender)


def senders_by_channel(entries: Iterable[ProviderEntry] = REGISTRY) -> dict[Channel, ChannelSenders]:
    """channel → its senders, for every channel some provider sends on (voice and web chat: none)."""
    entries = tuple(entries)
    choices: dict[Channel, ChannelSenders] = {}
    for channel in Channel:
        allowed = frozenset(entry.name for entry in entries if channel in entry.sends_on)
        if not allowed:
            continue
        defaults = [entry.name for entry in entries if channel in entry.default_sender_for]
        if len(defaults) != 1:
            raise ValueError(f"channel {channel.value} needs exactly one default sender, has {defaults}")
        variable = f"OMNIHUB_{channel.value.upper()}_PROVIDER" if len(allowed) > 1 else None
        choices[channel] = ChannelSenders(defaults[0], allowed, variable)
    return choices


def simulators(entries: Iterable[ProviderEntry] = REGISTRY) -> dict[str, Simulator]:
    """``./hub simulate`` command → simulator, across every provider."""
    return {simulator.command: simulator for entry in entries for simulator in entry.simulators}


def provider(name: str) -> ProviderEntry:
    """The entry of one provider; KeyError for a name the hub does not know."""
    return _BY_NAME[name]


def load(target: str) -> Any:
    """Import ``"module:ATTRIBUTE"`` (a ChannelSpec, a sender factory, a simulator) on first use."""
    module_name, _, attribute = target.partition(":")
    return getattr(import_module(module_name), attribute)


def check_registry(entries: Iterable[ProviderEntry]) -> None:
    """Names that must be unique across providers, and one default sender per channel."""
    entries = tuple(entries)
    for what, names in (
        ("provider", [e.name for e in entries]),
        ("endpoint", [w.name for e in entries for w in e.webhooks]),
        ("route", [f"{m} {w.path}" for e in entries for w in e.webhooks for m in w.methods]),
        ("simulate command", [s.command for e in entries for s in e.simulators]),
    ):
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"{what} registered twice: {', '.join(repeated)}")
    owners: dict[str, str] = {}
    for entry in entries:
        for name in entry.secrets:
            if owners.setdefault(name, str(entry.secret_group)) != entry.secret_group:
                raise ValueError(f"secret {name} is in two groups: {owners[name]}, {entry.secret_group}")
    senders_by_channel(entries)


check_registry(REGISTRY)
_BY_NAME = {entry.name: entry for entry in REGISTRY}
