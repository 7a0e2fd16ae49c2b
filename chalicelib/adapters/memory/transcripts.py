"""The in-memory twin of the transcript fetcher: answers from a dict, fails on demand."""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.core.errors import RetryableError


class InMemoryTranscriptFetcher:
    """``transcripts``: URL → text. An unknown URL is refused for good (None), as a 4xx is;
    ``fail_next`` fetches raise RetryableError first (an outage)."""

    def __init__(self, transcripts: Mapping[str, str] | None = None) -> None:
        self.transcripts = dict(transcripts or {})
        self.fail_next = 0
        self.calls: list[str] = []

    def fetch(self, url: str) -> str | None:
        self.calls.append(url)
        if self.fail_next > 0:
            self.fail_next -= 1
            raise RetryableError("the transcript store is unavailable (twin)")
        return self.transcripts.get(url)
