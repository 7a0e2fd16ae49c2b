"""What of an inbound event's metadata the stored message shows to agents and support tools (pure).

The inbox keeps every fact a parser read; the message keeps those an agent acts on: which quick reply
or button was pressed, the ad or m.me link that opened the thread, the Instagram story answered or
mentioned, the comment or post of a public message and where to see it. A fixed list (nothing a
provider invents reaches the API), each value bounded.
"""

from __future__ import annotations

from collections.abc import Mapping

MAX_VALUE_CHARS = 1000

SHOWN_KEYS: frozenset[str] = frozenset({
    # what the customer pressed or answered
    "message_type", "quick_reply_payload", "postback_payload", "reply_to", "story_id", "story_url",
    # how they came: an ad, an m.me link
    "referral_ref", "referral_source", "referral_type", "referral_ad_id", "referral_referer_uri",
    "referral_ad_title", "referral_ad_post_id", "referral_ad_product_id", "referral_ad_photo_url",
    "referral_ad_video_url",
    # the public side: the comment or post, the post it is about, where to see it
    "public", "public_source", "post_id", "comment_id", "parent_id", "permalink", "media_product_type",
    "username", "screen_name", "tweet_id", "relation", "in_reply_to", "quoted_tweet_id",
    # the Page or account written to, and the thread's mode
    "page_id", "mode",
})


def shown_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    return {key: value[:MAX_VALUE_CHARS] for key, value in metadata.items() if key in SHOWN_KEYS and value}
