"""Opt-out / opt-in keywords (SMS and WhatsApp): pure rules, recorded as consent per channel.

Carriers and Twilio's Advanced Opt-Out treat these words, alone in a message, as the customer's
decision; the hub records it and never acknowledges such a message.
"""

from __future__ import annotations

from enum import StrEnum


class ConsentKeyword(StrEnum):
    OPT_OUT = "opt_out"  # consent withdrawn
    OPT_IN = "opt_in"  # consent granted again
    HELP = "help"  # the customer asks what this number is


_OPT_OUT = {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout", "opt-out",
            "stop all", "arresta", "basta", "cancella"}
_OPT_IN = {"start", "unstop", "yes", "subscribe", "optin", "opt-in", "avvia"}
_HELP = {"help", "info", "aiuto"}


def consent_keyword(text: str | None) -> ConsentKeyword | None:
    """The keyword the whole message is, if any (``"STOP"``, ``" stop! "``); ``None`` for prose."""
    if not text:
        return None
    word = " ".join(text.strip().strip(".!").lower().split())
    if word in _OPT_OUT:
        return ConsentKeyword.OPT_OUT
    if word in _OPT_IN:
        return ConsentKeyword.OPT_IN
    if word in _HELP:
        return ConsentKeyword.HELP
    return None


def event_consent_keyword(channel: str, text: str | None, provider_keyword: str | None) -> ConsentKeyword | None:
    """The keyword an inbound message carries: the provider's own verdict first (Twilio's ``OptOutType``
    knows the account's custom and localized keywords), else the text, on SMS and WhatsApp only."""
    if provider_keyword:
        try:
            return ConsentKeyword(provider_keyword)
        except ValueError:
            pass
    return consent_keyword(text) if channel in ("sms", "whatsapp") else None
