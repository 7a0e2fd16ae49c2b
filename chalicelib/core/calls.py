"""The telephony vocabulary every voice provider shares: call states, the metadata keys of a CALL
event, and what a call's first answer needs to know (:class:`CallGreeting`) with its spoken wording.

It lives in core/ because provider modules (TwiML, NCCO builders) and the conversation fold
(``chalicelib/conversations/calls.py``) both read it, and providers may import only core/.

Every CALL event carries ``metadata[CALL_ID]``: the provider's id of the whole call (one call
message derives from it), ``CALL_STAGE`` (which callback it came from) and, where the callback says,
``CALL_STATE`` (normalized), ``AGENT_ANSWERED`` ("true"/"false": did someone of the team pick up),
``DURATION`` (whole seconds), ``RECORDING_URL`` / ``RECORDING_ID`` / ``RECORDING_DURATION`` and
``TRANSCRIPTION_STATUS`` (the transcription text is the event's ``text``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

from chalicelib.core.errors import ModelError
from chalicelib.core.language import normalize_language_tag
from chalicelib.core.model import normalize_phone

CALL_ID = "call_id"
CALL_STAGE = "call_stage"
CALL_STATE = "call_state"
CALL_DIRECTION = "call_direction"
AGENT_ANSWERED = "agent_answered"
DURATION = "duration"
RECORDING_URL = "recording_url"
RECORDING_ID = "recording_id"
RECORDING_DURATION = "recording_duration"
TRANSCRIPTION_STATUS = "transcription_status"
TRANSCRIPTION_URL = "transcription_url"  # where a provider keeps the text instead of sending it
DROPPED_RECORDING_URL = "dropped_media_url"  # the same flag MMS uses: a URL off the provider's hosts
CALLER = "caller"  # "anonymous" when the caller id is withheld


class CallStage(StrEnum):
    """Which callback an event came from."""

    CALL = "call"  # the first webhook of the call (Twilio voice URL, Vonage answer, Connect flow)
    STATUS = "status"  # a progress/status callback of the caller's leg
    DIAL = "dial"  # the outcome of ringing the team (Twilio <Dial> action, Vonage connect leg, Connect agent)
    RECORDING = "recording"
    TRANSCRIPTION = "transcription"


class CallState(StrEnum):
    RINGING = "ringing"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def ended(self) -> bool:
        return self not in (CallState.RINGING, CallState.IN_PROGRESS)


@dataclass(frozen=True, slots=True)
class CallLog:
    """What the store keeps per call: the inbox keys of its callbacks so far, and where its one message
    lives once the caller's conversation is known (set once: the message's key never moves)."""

    inbox_keys: frozenset[str]
    conversation_id: str | None = None
    message_created_at: str | None = None


# ---- the first answer: what the hub says to a caller --------------------------------------------------

# The customer's language → the text-to-speech locale both Twilio <Say> and Vonage talk accept.
TTS_LOCALES = {
    "en": "en-US", "en-gb": "en-GB", "en-us": "en-US", "it": "it-IT", "es": "es-ES", "es-mx": "es-MX",
    "fr": "fr-FR", "de": "de-DE", "pt": "pt-PT", "pt-br": "pt-BR", "nl": "nl-NL", "pl": "pl-PL",
    "ja": "ja-JP", "th": "th-TH",
}
DEFAULT_LANGUAGE = "en"

# What the caller hears. Keys: hello (unknown caller), hello_name, reference, connecting, voicemail_closed,
# voicemail_no_answer. Languages without a table speak English rather than mispronounce a guess.
PROMPTS: dict[str, dict[str, str]] = {
    "en": {
        "hello": "Hello, thank you for calling.",
        "hello_name": "Hello {name}, thank you for calling.",
        "reference": "Your case reference is {reference}.",
        "connecting": "Please hold, we are connecting you.",
        "voicemail_closed": "We are closed right now. Please leave a message after the beep and we will call you back.",
        "voicemail_no_answer": "Nobody can answer right now. Please leave a message after the beep and we will call "
                               "you back.",
    },
    "it": {
        "hello": "Buongiorno, grazie per averci chiamato.",
        "hello_name": "Buongiorno {name}, grazie per averci chiamato.",
        "reference": "Il riferimento della sua pratica è {reference}.",
        "connecting": "Resti in linea, la stiamo mettendo in contatto.",
        "voicemail_closed": "In questo momento siamo chiusi. Lasci un messaggio dopo il segnale acustico e la "
                            "richiameremo.",
        "voicemail_no_answer": "Nessuno può rispondere in questo momento. Lasci un messaggio dopo il segnale acustico "
                               "e la richiameremo.",
    },
    "es": {
        "hello": "Hola, gracias por llamar.",
        "hello_name": "Hola {name}, gracias por llamar.",
        "reference": "La referencia de su caso es {reference}.",
        "connecting": "No cuelgue, le estamos conectando.",
        "voicemail_closed": "Ahora mismo estamos cerrados. Deje un mensaje después de la señal y le llamaremos.",
        "voicemail_no_answer": "Ahora mismo nadie puede atenderle. Deje un mensaje después de la señal y le "
                               "llamaremos.",
    },
    "fr": {
        "hello": "Bonjour, merci de votre appel.",
        "hello_name": "Bonjour {name}, merci de votre appel.",
        "reference": "La référence de votre dossier est {reference}.",
        "connecting": "Veuillez patienter, nous vous mettons en relation.",
        "voicemail_closed": "Nous sommes fermés pour le moment. Laissez un message après le bip et nous vous "
                            "rappellerons.",
        "voicemail_no_answer": "Personne ne peut répondre pour le moment. Laissez un message après le bip et nous "
                               "vous rappellerons.",
    },
    "de": {
        "hello": "Guten Tag, vielen Dank für Ihren Anruf.",
        "hello_name": "Guten Tag {name}, vielen Dank für Ihren Anruf.",
        "reference": "Ihre Vorgangsnummer lautet {reference}.",
        "connecting": "Bitte bleiben Sie dran, wir verbinden Sie.",
        "voicemail_closed": "Wir sind gerade geschlossen. Bitte hinterlassen Sie nach dem Signalton eine Nachricht, "
                            "wir rufen Sie zurück.",
        "voicemail_no_answer": "Gerade ist niemand erreichbar. Bitte hinterlassen Sie nach dem Signalton eine "
                               "Nachricht, wir rufen Sie zurück.",
    },
    "pt": {
        "hello": "Olá, obrigado pela sua chamada.",
        "hello_name": "Olá {name}, obrigado pela sua chamada.",
        "reference": "A referência do seu processo é {reference}.",
        "connecting": "Aguarde, estamos a ligá-lo.",
        "voicemail_closed": "Neste momento estamos fechados. Deixe uma mensagem após o sinal e ligaremos de volta.",
        "voicemail_no_answer": "Neste momento ninguém pode atender. Deixe uma mensagem após o sinal e ligaremos de "
                               "volta.",
    },
}

MAX_SPOKEN_NAME = 60  # a name is read out, never a paragraph
MAX_REFERENCE = 32
_UNSPEAKABLE = re.compile(r"[\x00-\x1f\x7f<>&{}\[\]\\\ufffe\uffff\ud800-\udfff]")


def spoken_name(name: str | None) -> str | None:
    """The customer's name as it may be read out: no markup or control characters, bounded."""
    if not name:
        return None
    cleaned = " ".join(_UNSPEAKABLE.sub(" ", name).split())[:MAX_SPOKEN_NAME].strip()
    return cleaned or None


def spell_out(reference: str) -> str:
    """``"OH-7K3M"`` → ``"O, H, 7, K, 3, M"``: separated so that a TTS engine reads each character."""
    return ", ".join(ch for ch in reference.upper() if ch.isascii() and ch.isalnum())


def tts_locale(language: str | None) -> str:
    tag = normalize_language_tag(language) or DEFAULT_LANGUAGE
    return TTS_LOCALES.get(tag) or TTS_LOCALES.get(tag.split("-", 1)[0]) or TTS_LOCALES[DEFAULT_LANGUAGE]


def _check_url(name: str, url: str) -> str:
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("https", "http") or not parts.netloc or _UNSPEAKABLE.search(url) \
            or any(ch.isspace() for ch in url):
        raise ModelError(f"{name} must be an absolute http(s) URL")
    return url


@dataclass(frozen=True, slots=True)
class CallCallbacks:
    """Where the provider reports on the call; every URL absolute (the provider calls it back)."""

    action: str  # Twilio <Dial>/<Record> action (what to do next); Vonage connect eventUrl
    recording: str  # Twilio recordingStatusCallback; Vonage record eventUrl
    transcription: str  # Twilio transcribeCallback; Vonage record transcription.eventUrl

    def __post_init__(self) -> None:
        for name in ("action", "recording", "transcription"):
            _check_url(name, getattr(self, name))


@dataclass(frozen=True, slots=True)
class CallGreeting:
    """Everything the first answer of a call says, read from storage before answering (no outbound call).

    ``open_now`` comes from the business calendar (``chalicelib/core/calendar.py``); without a
    ``support_number`` the call always goes to voicemail. ``business_number`` is the number that was
    called (Vonage connects from it). Unknown callers have no name, language or reference.
    """

    callbacks: CallCallbacks
    open_now: bool = False
    support_number: str | None = None
    business_number: str | None = None
    customer_name: str | None = None
    language: str | None = None
    reference: str | None = None
    dial_timeout_seconds: int = 20
    voicemail_max_seconds: int = 120

    def __post_init__(self) -> None:
        for name in ("support_number", "business_number"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, normalize_phone(value))
        if not 5 <= self.dial_timeout_seconds <= 120:
            raise ModelError("dial_timeout_seconds must be between 5 and 120")
        if not 5 <= self.voicemail_max_seconds <= 600:
            raise ModelError("voicemail_max_seconds must be between 5 and 600")
        if self.reference is not None and len(self.reference) > MAX_REFERENCE:
            raise ModelError(f"a reference has at most {MAX_REFERENCE} characters")

    @property
    def dials(self) -> bool:
        return self.open_now and self.support_number is not None

    def prompt(self, key: str) -> str:
        tag = normalize_language_tag(self.language) or DEFAULT_LANGUAGE
        table = PROMPTS.get(tag) or PROMPTS.get(tag.split("-", 1)[0])
        if table is None:
            table = PROMPTS[DEFAULT_LANGUAGE]
        return table[key]

    @property
    def locale(self) -> str:
        """The TTS locale of the prompts as really written (English where no table exists for the language)."""
        tag = normalize_language_tag(self.language) or DEFAULT_LANGUAGE
        return tts_locale(tag) if (tag in PROMPTS or tag.split("-", 1)[0] in PROMPTS) else TTS_LOCALES[DEFAULT_LANGUAGE]

    def opening_lines(self) -> list[str]:
        """The greeting, then the open conversation's reference spelled out, when there is one."""
        name = spoken_name(self.customer_name)
        lines = [self.prompt("hello_name").format(name=name) if name else self.prompt("hello")]
        spelled = spell_out(self.reference) if self.reference else ""
        if spelled:
            lines.append(self.prompt("reference").format(reference=spelled))
        return lines

    def voicemail_prompt(self, *, after_no_answer: bool) -> str:
        return self.prompt("voicemail_no_answer" if after_no_answer else "voicemail_closed")


@dataclass(frozen=True, slots=True)
class CallAnswer:
    """What the hub decided to say to a caller, before the provider adds where it calls back.

    Built from storage and configuration by provider-neutral code (``chalicelib/ingest/call_answer.py``);
    the provider module turns it into a :class:`CallGreeting` with its own callback URLs. The default
    is the answer that needs nothing: an unknown caller, straight to the voicemail.
    """

    open_now: bool = False
    support_number: str | None = None
    business_number: str | None = None
    customer_name: str | None = None
    language: str | None = None
    reference: str | None = None
    dial_timeout_seconds: int = 20
    voicemail_max_seconds: int = 120

    def greeting(self, callbacks: CallCallbacks) -> CallGreeting:
        return CallGreeting(
            callbacks=callbacks, open_now=self.open_now, support_number=self.support_number,
            business_number=self.business_number, customer_name=self.customer_name, language=self.language,
            reference=self.reference, dial_timeout_seconds=self.dial_timeout_seconds,
            voicemail_max_seconds=self.voicemail_max_seconds,
        )
