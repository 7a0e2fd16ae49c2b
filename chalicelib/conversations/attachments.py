"""Email attachments kept: their bytes go to the media store (the payload bucket), the message keeps
name, type, size, ``media_id = "sha256:<hex>"`` and the object's pointer.

Done in the worker, not on the webhook path: the webhook stores the request's raw body before it
answers (lose nothing), and a refused request never reaches the worker (store nothing). The worker
reads that body again through the endpoint's :attr:`ChannelSpec.media` and writes one object per
attachment at ``email.attachment_object_key`` (per message, content-addressed), so a redelivery
rewrites the same objects. An attachment whose bytes cannot be read keeps its metadata (the raw
payload still holds it); a store that is down is retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from chalicelib.adapters.observability import logger
from chalicelib.core.errors import PermanentError
from chalicelib.core.ids import event_reference
from chalicelib.core.model import Attachment, Channel
from chalicelib.core.ports import Repositories
from chalicelib.core.records import InboxRecord
from chalicelib.email.events import attachment_object_key, email_media
from chalicelib.email.mime import parse_email
from chalicelib.ingest.mail_objects import MAIL_CONTENT_TYPE

SHA256_PREFIX = "sha256:"


def keep_attachments(repos: Repositories, record: InboxRecord) -> tuple[Attachment, ...]:
    """The event's attachments, each with ``url`` = its stored object's pointer where its bytes were kept."""
    event = record.event
    pending = [a for a in event.attachments if _pending(a)]
    if not pending or repos.media is None or event.channel is not Channel.EMAIL:
        return event.attachments
    contents = _media_of(repos, record)
    kept: list[Attachment] = []
    for attachment in event.attachments:
        body = contents.get(attachment.media_id or "") if _pending(attachment) else None
        if body is None:
            kept.append(attachment)
            continue
        digest = (attachment.media_id or "").removeprefix(SHA256_PREFIX)
        pointer = repos.media.put(attachment_object_key(event.event_id, digest), body,
                                  content_type=attachment.content_type)
        kept.append(replace(attachment, url=pointer))
    return tuple(kept)


def _pending(attachment: Attachment) -> bool:
    return attachment.url is None and bool(attachment.media_id and attachment.media_id.startswith(SHA256_PREFIX))


def _media_of(repos: Repositories, record: InboxRecord) -> Mapping[str, bytes]:
    from chalicelib.providers import WebhookRequest, channel_spec

    reference = event_reference(record.inbox_key)
    mime = record.content_type == MAIL_CONTENT_TYPE  # the mail itself (an SES S3 object), not a webhook body
    try:
        raw = repos.inbox.raw_payload(record.inbox_key)
        spec = None if mime or not record.endpoint else channel_spec(record.endpoint)
    except (PermanentError, KeyError):  # the payload is gone, or an endpoint this build does not serve
        logger.warning("attachments not kept: payload or endpoint not found", extra={"event_ref": reference})
        return {}
    if raw is None or (not mime and (spec is None or spec.media is None)):
        return {}
    request = WebhookRequest(method="POST", path="", headers={"content-type": record.content_type or ""},
                             body=raw, received_at=record.received_at)
    try:
        if mime:
            return email_media(parse_email(raw))
        assert spec is not None and spec.media is not None
        return spec.media(request)
    except (PermanentError, ValueError, TypeError, KeyError, OverflowError, RecursionError) as err:
        logger.warning("attachments not kept: payload unreadable", extra={"event_ref": reference,
                                                                          "error": type(err).__name__})
        return {}
