"""The port through which the worker reads a voicemail's transcript that a provider only links to."""

from __future__ import annotations

from typing import Protocol


class TranscriptFetcher(Protocol):
    """Reads the text behind a callback's ``transcription_url``."""

    def fetch(self, url: str) -> str | None:
        """The transcript's text; None when refused for good (a URL off the provider's hosts, a 4xx, no
        words). Raises :class:`~chalicelib.core.errors.RetryableError` when it may answer later."""
        ...
