"""Consent, the one vocabulary: its states, the channels that honour STOP/START, the events that decide it.

Carriers and Twilio's Advanced Opt-Out treat opt-out / opt-in words, alone in a message, as the
customer's decision on SMS and WhatsApp; the hub records it per channel, never acknowledges such a
message and sends nothing more on a channel whose consent is withdrawn. On other channels the
provider reports the decision as a lifecycle event (LINE unfollow, Viber unsubscribed, a blocked
Telegram bot). Pure: every module that reads, records or enforces consent imports it from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from chalicelib.core.model import Channel


class ConsentState(StrEnum):
    """A customer's consent on one channel, as stored (``consent_<channel>``); absent: never asked."""

    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


# Where STOP/START alone in a message is a consent decision, and a withdrawal blocks every send.
# Elsewhere "yes" or "info" alone is ordinary conversation.
KEYWORD_CHANNELS: frozenset[Channel] = frozenset({Channel.SMS, Channel.WHATSAPP})

# Lifecycle events (``metadata["lifecycle"]``) that decide consent on the other channels.
WITHDRAWING_LIFECYCLE: frozenset[str] = frozenset({"unfollow", "unsubscribed", "blocked", "kicked"})
GRANTING_LIFECYCLE: frozenset[str] = frozenset({"follow", "subscribed", "unblocked", "conversation_started"})


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
    return consent_keyword(text) if channel in KEYWORD_CHANNELS else None


def keyword_consent(keyword: ConsentKeyword | None) -> ConsentState | None:
    """The consent a keyword decides: STOP withdraws, START grants, HELP (and no keyword) decides nothing."""
    if keyword is ConsentKeyword.OPT_OUT:
        return ConsentState.WITHDRAWN
    if keyword is ConsentKeyword.OPT_IN:
        return ConsentState.GRANTED
    return None


def lifecycle_consent(lifecycle: str | None) -> ConsentState | None:
    """The consent a lifecycle event decides, or None for one that decides nothing (``join``, ``leave``)."""
    if lifecycle in WITHDRAWING_LIFECYCLE:
        return ConsentState.WITHDRAWN
    if lifecycle in GRANTING_LIFECYCLE:
        return ConsentState.GRANTED
    return None


# Channels where a withdrawn consent stops every message: the keyword channels (STOP), and email, whose
# consent a hard bounce or a complaint withdraws (sending again would hurt the sender's reputation).
CONSENT_HONOURED_CHANNELS: frozenset[Channel] = KEYWORD_CHANNELS | {Channel.EMAIL}


def opted_out(consent: Mapping[str, str], channel: Channel | str) -> bool:
    """Whether sending on ``channel`` is forbidden: its consent is withdrawn and the channel honours it."""
    return channel in CONSENT_HONOURED_CHANNELS and consent.get(Channel(channel).value) == ConsentState.WITHDRAWN


def feedback_consent(metadata: Mapping[str, str]) -> tuple[str, ConsentState] | None:
    """The address whose email consent a provider's feedback withdraws: a hard (permanent) bounce's
    recipient, a complaint's recipient; None for a soft bounce, a delivery or anything else.

    Only a provider's own, signed report counts (``metadata.provider_feedback``): a DSN arriving as mail
    can be forged by anyone, and must not silence a customer."""
    if metadata.get("provider_feedback") != "true":
        return None
    if metadata.get("bounce") == "hard" and metadata.get("bounce_recipient"):
        return metadata["bounce_recipient"], ConsentState.WITHDRAWN
    if metadata.get("complaint") == "true" and metadata.get("complaint_recipient"):
        return metadata["complaint_recipient"], ConsentState.WITHDRAWN
    return None
