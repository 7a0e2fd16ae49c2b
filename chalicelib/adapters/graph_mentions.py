"""The Graph API behind :class:`~chalicelib.core.ports.MentionLookup`: Instagram mentions looked up by the worker.

``GET {api base}/{version}/{ig-user-id}?fields=...`` with ``Authorization: Bearer META_ACCESS_TOKEN``
(the Meta sending token, read from the ``meta-send`` secret: the worker's role may read it). Timeouts,
5xx, 429 and Meta's throttling codes raise :class:`RetryableError` (the queue retries, then the DLQ
keeps it); another 4xx (the comment deleted, a private account, a missing permission) returns None and
is logged with Meta's code, never its text in a response. No token configured: retried, like an outage.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from chalicelib.adapters.observability import count, logger
from chalicelib.core.errors import RetryableError
from chalicelib.outbound.errors import PermanentSendError, TransientSendError
from chalicelib.outbound.http import HttpClient, bearer_auth
from chalicelib.outbound.senders.meta import DEFAULT_GRAPH_VERSION, PROVIDER, read_meta_error
from chalicelib.providers.meta.mentions import MentionQuery


class MentionLookupUnavailable(RetryableError):
    """Graph could not answer now (or the token is not configured yet): the queue retries."""


class GraphMentionLookup:
    def __init__(self, *, base_url: str, access_token: Callable[[], str | None], http: HttpClient | None = None,
                 graph_version: str = DEFAULT_GRAPH_VERSION) -> None:
        self._root = f"{base_url.rstrip('/')}/{graph_version}"
        self._access_token = access_token
        self._http = http or HttpClient()

    def lookup(self, ig_user_id: str, *, comment_id: str | None, media_id: str | None) -> Mapping[str, Any] | None:
        token = self._access_token()
        if not token:
            raise MentionLookupUnavailable("the Graph access token is not configured")
        query = MentionQuery(ig_user_id, comment_id, media_id)
        url = f"{self._root}/{quote(ig_user_id, safe='')}?{urlencode({'fields': query.fields()})}"
        try:
            response = self._http.request("GET", url, provider=PROVIDER, authorization=bearer_auth(token),
                                          error_reader=read_meta_error)
        except TransientSendError as err:
            count("MentionLookupRetried")
            raise MentionLookupUnavailable(f"Graph mention lookup failed for now ({type(err).__name__})") from err
        except PermanentSendError as err:
            count("MentionLookupRefused")
            logger.warning("Graph refused a mention lookup: kept as unknown", extra={"error_code": err.error_code})
            return None
        body = response.json()
        return body if isinstance(body, dict) else None
