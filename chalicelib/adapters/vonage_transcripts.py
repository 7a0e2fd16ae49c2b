"""Vonage's transcript store behind :class:`~chalicelib.core.ports.TranscriptFetcher`, read by the worker.

``GET {transcription_url}`` with ``Authorization: Bearer <application JWT>`` (RS256, signed with
``VONAGE_PRIVATE_KEY`` for ``VONAGE_APPLICATION_ID``, as the Vonage sender signs). Only https URLs on
Vonage's hosts are fetched (a forged URL is never requested: None); no redirect is followed, timeouts
are short and the answer is bounded. Timeouts, 5xx and 429 raise :class:`RetryableError` (the queue
retries, then the DLQ keeps the callback); a 4xx, an oversized or wordless answer, or no application
credentials configured return None and are logged (the call message keeps "voicemail, no transcription").
"""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.adapters.observability import count, logger
from chalicelib.core.errors import RetryableError
from chalicelib.outbound.errors import PermanentSendError, TransientSendError
from chalicelib.outbound.http import HttpClient, bearer_auth
from chalicelib.outbound.senders.vonage import PROVIDER, vonage_application_jwt
from chalicelib.providers.vonage.transcripts import MAX_TRANSCRIPT_BYTES, is_vonage_transcript_url, transcript_text

CONNECT_TIMEOUT_SECONDS = 3.05
READ_TIMEOUT_SECONDS = 10.0


class TranscriptUnavailable(RetryableError):
    """Vonage could not answer now: the queue retries."""


class VonageTranscriptFetcher:
    def __init__(self, *, credentials: Callable[[], tuple[str | None, str | None]], http: HttpClient | None = None,
                 url_allowed: Callable[[str], bool] = is_vonage_transcript_url) -> None:
        """``credentials``: (VONAGE_APPLICATION_ID, VONAGE_PRIVATE_KEY), read on first use."""
        self._credentials = credentials
        self._http = http or HttpClient(connect_timeout=CONNECT_TIMEOUT_SECONDS, read_timeout=READ_TIMEOUT_SECONDS,
                                        max_response_bytes=MAX_TRANSCRIPT_BYTES)
        self._url_allowed = url_allowed

    def fetch(self, url: str) -> str | None:
        if not self._url_allowed(url):
            count("TranscriptRefused")
            logger.warning("a transcription_url off Vonage's hosts: not fetched")
            return None
        application_id, private_key = self._credentials()
        if not application_id or not private_key:  # a deployment without a Vonage application: never stall the call
            count("TranscriptRefused")
            logger.warning("no Vonage application credentials: the voicemail is kept without its transcript")
            return None
        authorization = bearer_auth(vonage_application_jwt(application_id, private_key))
        try:
            response = self._http.request("GET", url, provider=PROVIDER, authorization=authorization)
        except TransientSendError as err:
            count("TranscriptRetried")
            raise TranscriptUnavailable(f"Vonage transcript fetch failed for now ({type(err).__name__})") from err
        except PermanentSendError as err:
            count("TranscriptRefused")
            logger.warning("Vonage refused a transcript: kept without it", extra={"error_code": err.error_code})
            return None
        text = transcript_text(response.json())
        if text is None:
            logger.warning("a Vonage transcript without words: kept without it")
        return text
