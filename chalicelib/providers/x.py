"""X Account Activity API webhook (``GET`` + ``POST /webhooks/x``).

- CRC: ``GET ?crc_token=T`` → ``{"response_token": "sha256=" + base64(HMAC-SHA256(X_CONSUMER_SECRET, T))}``
  (at registration, then hourly; the webhook is disabled if the answer is wrong or late).
- Signature: ``x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256(X_CONSUMER_SECRET, raw body)>``,
  checked before anything in the body is read.
- Body: ``{"for_user_id": <the subscribed account>, "<kind>_events": [...], "users": {...}}``; one
  event per item. Ids are snowflakes beyond 2^53: always ``id_str`` or the JSON string, never a float.

What becomes what:

- ``direct_message_events`` (``type: message_create``): a MESSAGE from ``sender_id`` (name and
  screen name from ``users``), event id = the DM event id; the account's own DMs
  (``sender_id == for_user_id``) are ignored.
- ``tweet_create_events``: a mention of the account, a reply to it or a quote of one of its posts is a
  public MESSAGE (``public: "true"``, ``tweet_id``, ``in_reply_to``, ``conversation_id``, ``permalink``),
  event id = the tweet id; the account's own posts and every retweet are ignored.
- ``block_events``: the account blocked (``blocked``) or unblocked (``unblocked``) someone: a
  lifecycle event of that person (X reports only blocks made *by* the subscribed account).
- ``direct_message_mark_read_events`` by the customer: a DELIVERY_STATUS ``read`` of
  ``last_read_event_id`` (every earlier DM is read too: ``metadata.covers_earlier``).
- everything else (``favorite_events``, ``follow_events``, typing, mutes, deletes, revokes): UNKNOWN,
  stored raw.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from chalicelib.core.error_codes import error_body
from chalicelib.core.media import is_provider_media_url
from chalicelib.core.model import Attachment, Channel, DeliveryStatus, EventKind, InboundEvent, ModelError, Sender
from chalicelib.providers.base import (
    ChannelSpec,
    PayloadError,
    Secrets,
    SignatureError,
    WebhookRequest,
    WebhookResponse,
    as_dict,
    as_list,
    canonical_id,
    constant_time_equal,
    epoch_to_timestamp,
    hmac_sha256,
    identity_or_error,
    json_string,
    load_json,
    require_secret,
    unreadable_reason,
)

PROVIDER = "x"
CONSUMER_SECRET_NAME = "X_CONSUMER_SECRET"
SIGNATURE_HEADER = "x-twitter-webhooks-signature"
SIGNATURE_PREFIX = "sha256="
MAX_CRC_TOKEN = 512
X_MEDIA_HOSTS = ("twimg.com", "ton.twitter.com", "ton.x.com")

EventBuilder = Callable[[dict[str, Any], str, dict[str, Any], WebhookRequest], InboundEvent | None]


# --- CRC and signature ---------------------------------------------------------------------------


def sign_x_payload(consumer_secret: str, payload: bytes) -> str:
    """``sha256=<base64 HMAC-SHA256>``: the CRC response token and the POST signature alike."""
    return SIGNATURE_PREFIX + base64.b64encode(hmac_sha256(consumer_secret, payload)).decode("ascii")


def verify_x_signature(request: WebhookRequest, secrets: Secrets, now: float) -> None:
    secret = require_secret(secrets, CONSUMER_SECRET_NAME)
    signature = (request.header(SIGNATURE_HEADER) or "").strip()
    if not signature:
        raise SignatureError("missing x-twitter-webhooks-signature")
    if not constant_time_equal(sign_x_payload(secret, request.body), signature):
        raise SignatureError("x-twitter-webhooks-signature does not match the body (wrong X_CONSUMER_SECRET?)")


def answer_x_crc(request: WebhookRequest, secrets: Secrets, now: float) -> WebhookResponse | None:
    """The Challenge-Response Check: any GET is one; POSTs carry events (``None``)."""
    if request.method.upper() != "GET":
        return None
    token = request.query.get("crc_token")
    if not token or len(token) > MAX_CRC_TOKEN:
        return WebhookResponse(400, error_body("bad_request", "crc_token is required (at most 512 characters)"))
    response_token = sign_x_payload(require_secret(secrets, CONSUMER_SECRET_NAME), token.encode("utf-8"))
    return WebhookResponse(200, json.dumps({"response_token": response_token}))


# --- helpers -------------------------------------------------------------------------------------


def _event(**fields: Any) -> InboundEvent:
    try:
        return InboundEvent(provider=PROVIDER, channel=Channel.X, **fields)
    except ModelError as err:
        raise PayloadError(str(err)) from err


def _unknown(event_id: str, occurred_at: str, event_type: str, metadata: dict[str, str]) -> InboundEvent:
    return _event(event_id=event_id, kind=EventKind.UNKNOWN, occurred_at=occurred_at,
                  metadata={**metadata, "type": event_type})


def _put(metadata: dict[str, str], key: str, value: Any) -> None:
    text = json_string(value)
    if text is not None:
        metadata[key] = text


def _id(data: dict[str, Any], key: str = "id") -> str | None:
    """``<key>_str`` when X sends it, else the value itself (a string, or an exact JSON integer)."""
    return json_string(data.get(f"{key}_str")) or json_string(data.get(key))


def _sender(user_id: str, user: dict[str, Any], metadata: dict[str, str]) -> Sender:
    _put(metadata, "screen_name", user.get("screen_name"))
    return Sender(identity=identity_or_error(Channel.X, user_id), name=json_string(user.get("name")),
                  language=json_string(user.get("lang")))


def _when_ms(value: Any, request: WebhookRequest) -> str:
    return epoch_to_timestamp(value, millis=True, fallback=request.received_at)


# --- one builder per event kind -------------------------------------------------------------------


def _direct_message(item: dict[str, Any], account: str, payload: dict[str, Any],
                    request: WebhookRequest) -> InboundEvent | None:
    create = as_dict(item.get("message_create"))
    sender_id = json_string(create.get("sender_id"))
    if sender_id == account:
        return None  # the account's own DM (an agent's reply, echoed)
    event_id = _id(item)
    occurred_at = _when_ms(item.get("created_timestamp"), request)
    metadata = {"event_type": "direct_message", "for_user_id": account}
    _put(metadata, "recipient_id", as_dict(create.get("target")).get("recipient_id"))
    data = as_dict(create.get("message_data"))
    _put(metadata, "quick_reply_payload", as_dict(data.get("quick_reply_response")).get("metadata"))
    if not event_id or not sender_id or item.get("type") != "message_create":
        return _unknown(event_id or canonical_id(item), occurred_at, str(item.get("type") or "direct_message"),
                        metadata)
    sender = _sender(sender_id, as_dict(as_dict(payload.get("users")).get(sender_id)), metadata)
    attachments = []
    media = as_dict(as_dict(data.get("attachment")).get("media"))
    if media:
        url = json_string(media.get("media_url_https"))
        kind = {"photo": "image", "animated_gif": "video"}.get(str(media.get("type")), str(media.get("type") or "file"))
        attachments.append(Attachment(kind=kind, media_id=_id(media),
                                      url=url if url and is_provider_media_url(url, X_MEDIA_HOSTS) else None))
    text = json_string(data.get("text"))
    return _event(event_id=event_id, kind=EventKind.MESSAGE, occurred_at=occurred_at, sender=sender, text=text,
                  attachments=tuple(attachments), provider_message_id=event_id, metadata=metadata)


def _tweet_text(tweet: dict[str, Any]) -> str | None:
    extended = as_dict(tweet.get("extended_tweet"))  # 280-character posts arrive truncated otherwise
    return json_string(extended.get("full_text")) or json_string(tweet.get("full_text")) or json_string(
        tweet.get("text"))


def _tweet(tweet: dict[str, Any], account: str, payload: dict[str, Any],
           request: WebhookRequest) -> InboundEvent | None:
    user = as_dict(tweet.get("user"))
    author = _id(user)
    if author == account or tweet.get("retweeted_status") is not None:
        return None  # the account's own post or reply, or a retweet (nothing was said)
    tweet_id = _id(tweet)
    occurred_at = _when_ms(tweet.get("timestamp_ms"), request)
    in_reply_to_user = _id(tweet, "in_reply_to_user_id")
    mentioned = {_id(as_dict(m)) for m in as_list(as_dict(tweet.get("entities")).get("user_mentions"))}
    quoted_author = _id(as_dict(as_dict(tweet.get("quoted_status")).get("user")))
    relation = ("reply" if in_reply_to_user == account else "mention" if account in mentioned
                else "quote" if quoted_author == account else None)
    metadata = {"event_type": "tweet", "for_user_id": account, "public": "true", "public_source": "x_tweets"}
    if not tweet_id or not author or relation is None:
        return _unknown(tweet_id or canonical_id(tweet), occurred_at, "tweet", metadata)
    sender = _sender(author, user, metadata)
    screen_name = metadata.get("screen_name")
    metadata.update(tweet_id=tweet_id, relation=relation,
                    permalink=f"https://x.com/{screen_name or 'i/web'}/status/{tweet_id}")
    _put(metadata, "in_reply_to", _id(tweet, "in_reply_to_status_id"))
    _put(metadata, "conversation_id", _id(tweet, "conversation_id"))
    _put(metadata, "quoted_tweet_id", _id(tweet, "quoted_status_id"))
    if payload.get("user_has_blocked") is True:
        metadata["user_has_blocked"] = "true"
    return _event(event_id=tweet_id, kind=EventKind.MESSAGE, occurred_at=occurred_at, sender=sender,
                  text=_tweet_text(tweet), provider_message_id=tweet_id, metadata=metadata)


def _block(item: dict[str, Any], account: str, payload: dict[str, Any], request: WebhookRequest) -> InboundEvent:
    target = as_dict(item.get("target"))
    target_id = _id(target)
    action = json_string(item.get("type")) or "block"
    occurred_at = _when_ms(item.get("created_timestamp"), request)
    metadata = {"event_type": action, "for_user_id": account}
    event_id = f"{action}:{account}:{target_id}:{json_string(item.get('created_timestamp')) or ''}"
    if action not in ("block", "unblock") or not target_id or _id(as_dict(item.get("source"))) != account:
        return _unknown(canonical_id(item), occurred_at, action, metadata)
    metadata.update(lifecycle="blocked" if action == "block" else "unblocked", blocked_by="us")
    return _event(event_id=event_id, kind=EventKind.LIFECYCLE, occurred_at=occurred_at,
                  sender=_sender(target_id, target, metadata), metadata=metadata)


def _mark_read(item: dict[str, Any], account: str, payload: dict[str, Any], request: WebhookRequest) -> InboundEvent:
    reader = json_string(item.get("sender_id"))
    last_read = json_string(item.get("last_read_event_id"))
    occurred_at = _when_ms(item.get("created_timestamp"), request)
    metadata = {"event_type": "direct_message_mark_read", "for_user_id": account}
    _put(metadata, "reader_id", reader)
    if reader == account or not last_read:  # the account read the customer's messages: nothing to apply
        return _unknown(canonical_id(item), occurred_at, "direct_message_mark_read", metadata)
    metadata["covers_earlier"] = "true"
    return _event(event_id=f"{last_read}#read", kind=EventKind.DELIVERY_STATUS, occurred_at=occurred_at,
                  provider_message_id=last_read, status=DeliveryStatus.READ, metadata=metadata)


_BUILDERS: dict[str, EventBuilder] = {
    "direct_message_events": _direct_message,
    "tweet_create_events": _tweet,
    "block_events": _block,
    "direct_message_mark_read_events": _mark_read,
}


def _raw(item: dict[str, Any], account: str, kind: str, request: WebhookRequest) -> InboundEvent:
    # favorites, follows, typing, mutes, deletes, revokes: stored as they came, nothing to decide.
    stamp = item.get("created_timestamp") or item.get("timestamp_ms")
    event_id = json_string(item.get("id")) if kind == "favorite_events" else None
    return _unknown(f"{kind}:{event_id}" if event_id else canonical_id([kind, item]), _when_ms(stamp, request),
                    kind.removesuffix("_events"), {"event_type": kind.removesuffix("_events"), "for_user_id": account})


def parse_x_event(request: WebhookRequest) -> list[InboundEvent]:
    payload = load_json(request.body)
    if not isinstance(payload, dict):
        raise PayloadError("body must be a JSON object")
    account = json_string(payload.get("for_user_id"))
    if not account:
        raise PayloadError('an Account Activity event needs "for_user_id"')
    events: list[InboundEvent] = []
    for kind, items in payload.items():
        if not kind.endswith("_events") or not isinstance(items, list):
            continue  # for_user_id, users, apps, user_has_blocked, ...
        build = _BUILDERS.get(kind)
        for item in items:
            item = as_dict(item)
            try:
                event = build(item, account, payload, request) if build else _raw(item, account, kind, request)
            except PayloadError as err:  # one unreadable item never sinks the batch
                event = _unknown(canonical_id([kind, item]), request.received_at, "invalid_event",
                                 {"event_type": kind.removesuffix("_events"), **unreadable_reason(err)})
            if event is not None:
                events.append(event)
    if not events and not any(key.endswith("_events") for key in payload):
        events.append(_unknown(canonical_id(payload), request.received_at, "unknown", {"for_user_id": account}))
    return events


CHANNEL = ChannelSpec(
    provider=PROVIDER,
    secret_names=(CONSUMER_SECRET_NAME,),
    verify=verify_x_signature,
    parse=parse_x_event,
    handshake=answer_x_crc,
)
