"""Public conversations: comments on a post, mentions and reply posts, one conversation per customer and post.

Pure. A public event (``metadata.public == "true"``, set by the Meta feed/comments parser and the X
parser) threads on its *thread key*, ``<channel>#<post>``, instead of the customer's open (direct)
conversation. The post is the Page post or Instagram media (``post_id``); on X the conversation's
root post (``conversation_id``), else the post answered (``in_reply_to``), else the post itself.

A public conversation's id derives from the customer, the key and a generation (how many of them were
resolved before): the worker finds the newest by reading generation 0, 1, ... (single-item reads) and
opens the next one when the newest is resolved. No pointer to claim: the customer's events are handled
in order (one FIFO group), and the conditional create settles a race between linked identities.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.core.ids import public_conversation_id_for
from chalicelib.core.model import Conversation, InboundEvent

MAX_POST_ID_CHARS = 200  # longer ids are hashed: the key becomes part of a derived id only, but stays short
MAX_GENERATIONS = 1000  # a customer resolved a thousand times about one post: the newest is joined


def is_public(event: InboundEvent) -> bool:
    return event.metadata.get("public") == "true"


def post_of(event: InboundEvent) -> str | None:
    """The post a public event is about, as the parsers name it."""
    metadata = event.metadata
    return (metadata.get("post_id") or metadata.get("conversation_id") or metadata.get("in_reply_to")
            or metadata.get("tweet_id") or metadata.get("comment_id") or None)


def public_thread_key(event: InboundEvent) -> str | None:
    """``<channel>#<post>`` for a public event, None for a direct one."""
    if not is_public(event):
        return None
    post = post_of(event) or event.event_id
    if len(post) > MAX_POST_ID_CHARS:
        post = "sha256:" + hashlib.sha256(post.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{event.channel.value}#{post}"


@dataclass(frozen=True, slots=True)
class PublicThread:
    """The newest public conversation of a customer about one post, as read."""

    key: str
    generation: int  # of ``current``; the one to open when there is none yet
    current: Conversation | None

    def next_id(self, customer_id: str) -> str:
        """The conversation a message opens: generation 0 at first, the one after a resolved one later."""
        generation = self.generation + 1 if self.current is not None else self.generation
        return public_conversation_id_for(customer_id, self.key, generation)


def newest_public_thread(
    customer_id: str, key: str, get: Callable[[str], Conversation | None]
) -> PublicThread:
    """Read generation 0, 1, ... until one does not exist; the last that does is the newest."""
    found: Conversation | None = None
    generation = 0
    for candidate in range(MAX_GENERATIONS):
        conversation = get(public_conversation_id_for(customer_id, key, candidate))
        if conversation is None:
            break
        found, generation = conversation, candidate
    return PublicThread(key, generation, found)


