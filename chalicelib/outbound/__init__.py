"""Outbound delivery: one sender per provider behind one interface, the channel rules, and dispatch."""

from __future__ import annotations

from chalicelib.outbound.dispatch import (
    DeliveryLedger,
    DeliveryOutcome,
    DeliveryState,
    InMemoryLedger,
    deliver,
)
from chalicelib.outbound.errors import (
    OptedOut,
    PermanentSendError,
    SenderNotConfigured,
    TransientSendError,
    WindowClosed,
)
from chalicelib.outbound.http import HttpClient, HttpResponse, ProviderErrorDetail
from chalicelib.outbound.job import OUTBOUND_SCHEMA, PROVIDERS, EmailThreading, OutboundJob, OutboundKind, Template
from chalicelib.outbound.registry import (
    DEFAULT_API_BASES,
    LazySender,
    NoOutboundProvider,
    api_base,
    build_senders,
    provider_for,
)
from chalicelib.outbound.rules import (
    CUSTOMER_SERVICE_WINDOW,
    HUMAN_AGENT_TAG,
    HUMAN_AGENT_WINDOW,
    ChannelRulesConfig,
    TemplateConfig,
    check_channel_rules,
)
from chalicelib.outbound.senders.base import Sender, SendResult, digits_only, text_with_links
from chalicelib.outbound.senders.line import LineSender
from chalicelib.outbound.senders.meta import MetaSender
from chalicelib.outbound.senders.ses import SesSender, build_mime_message
from chalicelib.outbound.senders.telegram import TelegramSender
from chalicelib.outbound.senders.twilio import TwilioSender
from chalicelib.outbound.senders.viber import ViberSender
from chalicelib.outbound.senders.vonage import VonageSender
from chalicelib.outbound.senders.x import XSender

__all__ = [
    "CUSTOMER_SERVICE_WINDOW",
    "DEFAULT_API_BASES",
    "HUMAN_AGENT_TAG",
    "HUMAN_AGENT_WINDOW",
    "OUTBOUND_SCHEMA",
    "PROVIDERS",
    "ChannelRulesConfig",
    "DeliveryLedger",
    "DeliveryOutcome",
    "DeliveryState",
    "EmailThreading",
    "HttpClient",
    "HttpResponse",
    "InMemoryLedger",
    "LazySender",
    "LineSender",
    "MetaSender",
    "NoOutboundProvider",
    "OptedOut",
    "OutboundJob",
    "OutboundKind",
    "PermanentSendError",
    "ProviderErrorDetail",
    "SendResult",
    "Sender",
    "SenderNotConfigured",
    "SesSender",
    "TelegramSender",
    "Template",
    "TemplateConfig",
    "TransientSendError",
    "TwilioSender",
    "ViberSender",
    "VonageSender",
    "WindowClosed",
    "XSender",
    "api_base",
    "build_mime_message",
    "build_senders",
    "check_channel_rules",
    "deliver",
    "digits_only",
    "provider_for",
    "text_with_links",
]
