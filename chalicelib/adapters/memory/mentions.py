"""The in-memory twin of the Graph mention lookup: answers from a dict, fails on demand."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.core.errors import RetryableError


class InMemoryMentionLookup:
    """``comments`` / ``media``: id → the object Graph would nest under ``mentioned_comment`` /
    ``mentioned_media``. An unknown id is refused for good (None), as Graph's 4xx is; ``fail_next``
    lookups raise RetryableError first (an outage)."""

    def __init__(self, comments: Mapping[str, Mapping[str, Any]] | None = None,
                 media: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.comments = dict(comments or {})
        self.media = dict(media or {})
        self.fail_next = 0
        self.calls: list[tuple[str, str | None, str | None]] = []

    def lookup(self, ig_user_id: str, *, comment_id: str | None, media_id: str | None) -> Mapping[str, Any] | None:
        self.calls.append((ig_user_id, comment_id, media_id))
        if self.fail_next > 0:
            self.fail_next -= 1
            raise RetryableError("Graph is unavailable (twin)")
        if comment_id:
            found = self.comments.get(comment_id)
            return None if found is None else {"id": ig_user_id, "mentioned_comment": dict(found)}
        found = self.media.get(media_id or "")
        return None if found is None else {"id": ig_user_id, "mentioned_media": dict(found)}
