"""Vonage's voicemail transcripts, pure: which URLs may be fetched, and the text in the JSON.

The transcription event only links to the text (``transcription_url``); Vonage serves it as
``{"channels": [{"transcript": [{"sentence": "...", "words": [...]}, ...]}, ...]}``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

# The application's credentials the worker signs the transcript fetch with (as the Vonage sender does).
TRANSCRIPT_SECRETS = ("VONAGE_APPLICATION_ID", "VONAGE_PRIVATE_KEY")
MAX_TRANSCRIPT_BYTES = 256 * 1024
MAX_TRANSCRIPT_CHARS = 16_000


def is_vonage_host(host: str) -> bool:
    """``api.nexmo.com``, ``api-*.vonage.com`` and ``*.nexmo.com`` only."""
    host = host.lower().rstrip(".")
    if host.endswith(".nexmo.com"):
        return True
    name, _, domain = host.partition(".")
    return domain == "vonage.com" and name.startswith("api-") and len(name) > len("api-")


def is_vonage_transcript_url(url: str) -> bool:
    """An https URL on Vonage's hosts, default port, no credentials: anything else is never fetched."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return False
    return (parts.scheme == "https" and parts.hostname is not None and is_vonage_host(parts.hostname)
            and port in (None, 443) and parts.username is None and parts.password is None)


def transcript_text(body: Any) -> str | None:
    """Every channel's sentences in order, joined by spaces (bounded); None when there are no words."""
    if not isinstance(body, dict) or not isinstance(body.get("channels"), list):
        return None
    sentences: list[str] = []
    for channel in body["channels"]:
        lines = channel.get("transcript") if isinstance(channel, dict) else None
        for line in lines if isinstance(lines, list) else []:
            sentence = line.get("sentence") if isinstance(line, dict) else None
            if isinstance(sentence, str) and sentence.strip():
                sentences.append(sentence.strip())
    text = " ".join(sentences)[:MAX_TRANSCRIPT_CHARS].strip()
    return text or None
