"""Amazon SES → S3: a mail the receipt rule wrote to the payload bucket becomes inbox events.

Two ways name such an object, both verified before they get here: the bucket's own notification of
a new object under :data:`MAIL_OBJECTS_PREFIX` (``receive_mail_objects``, through the
``mail-objects`` queue), and the SNS notification of an S3 action (a ``ses_received_in_s3`` lifecycle event, which the
conversation worker hands over). Either way the object is read whole, goes through the one MIME path
(:func:`chalicelib.providers.ses.ses_events_from_raw`) and each event is one conditional put keyed by
its Message-ID: the same mail named twice (both notifications, a redelivered queue message) is one
item. The inbox keeps a pointer to the object as its raw payload, so nothing is copied and the
worker reads the attachments from the mail itself.

Only this hub's bucket and prefix are read: a notification naming anything else is refused.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from chalicelib.adapters.observability import count, logger
from chalicelib.adapters.resources import MAIL_OBJECTS_PREFIX
from chalicelib.core.errors import NotFound, PermanentError
from chalicelib.core.ids import event_reference
from chalicelib.core.model import InboundEvent
from chalicelib.core.ports import InboxRepository, PayloadArchive
from chalicelib.core.timestamps import normalize_timestamp, utc_now

MAIL_OBJECT_ENDPOINT = "mail_object"  # the inbox item's endpoint: a mail read from the bucket, not a webhook
MAIL_CONTENT_TYPE = "message/rfc822"
MAX_MAIL_OBJECT_BYTES = 41 * 1024 * 1024  # SES writes mail of up to 40 MB (headers included)


class NotAMailObject(PermanentError):
    """A notification naming an object outside this hub's SES prefix, or one too large to be SES's."""


@dataclass(frozen=True, slots=True)
class MailObject:
    bucket: str
    key: str
    size: int | None = None
    created_at: str | None = None

    @property
    def pointer(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def mail_objects_in(s3_event: Mapping[str, Any]) -> list[MailObject]:
    """The objects an S3 event notification reports created (S3's test event and others: none)."""
    found = []
    for record in s3_event.get("Records") or ():
        if not isinstance(record, Mapping) or not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = record.get("s3")
        s3 = s3 if isinstance(s3, Mapping) else {}
        bucket, item = s3.get("bucket"), s3.get("object")
        bucket = bucket if isinstance(bucket, Mapping) else {}
        item = item if isinstance(item, Mapping) else {}
        if not bucket.get("name") or not item.get("key"):
            continue
        size = item.get("size")
        found.append(MailObject(str(bucket["name"]), unquote_plus(str(item["key"])),
                                size=int(size) if isinstance(size, int) else None,
                                created_at=_timestamp(record.get("eventTime"))))
    return found


def ingest_mail_object(
    mail: MailObject,
    *,
    bucket_name: str,
    inbox: InboxRepository,
    objects: PayloadArchive,
    served_mailboxes: Collection[str] = (),
    now: float | None = None,
) -> tuple[InboundEvent, ...]:
    """Store the events of one mail object; returns the new ones (none for a mail already stored).

    Raises :class:`NotAMailObject` for an object that is not this hub's, RetryableError when the
    bucket or the table failed (the queue redelivers). An object already gone (deleted by hand) is
    logged and skipped: there is nothing left to read."""
    if mail.bucket != bucket_name or not mail.key.startswith(MAIL_OBJECTS_PREFIX) or ".." in mail.key:
        raise NotAMailObject("the object is not under this hub's SES prefix")
    if mail.size is not None and mail.size > MAX_MAIL_OBJECT_BYTES:
        raise NotAMailObject("the object is larger than any mail SES writes")
    try:
        raw = objects.get(mail.pointer)
    except NotFound:
        logger.warning("SES mail object gone before it was read", extra={"object_key": mail.key[:300]})
        return ()
    if len(raw) > MAX_MAIL_OBJECT_BYTES:
        raise NotAMailObject("the object is larger than any mail SES writes")
    from chalicelib.providers.ses import ses_events_from_raw  # the SES module only when a mail arrives

    received_at = mail.created_at or utc_now()
    events = ses_events_from_raw(raw, received_at=received_at, object_key=mail.key, served_mailboxes=served_mailboxes)
    fresh = tuple(
        event for event in events
        if inbox.put(event, endpoint=MAIL_OBJECT_ENDPOINT, received_at=received_at, raw_body=b"",
                     content_type=MAIL_CONTENT_TYPE, raw_pointer=mail.pointer, now=now)
    )
    for event in events:
        logger.info("SES mail object stored" if event in fresh else "SES mail object duplicate",
                    extra={"event_ref": event_reference(event.inbox_key), "kind": event.kind.value})
    if events:
        count("WebhookEvents", channel=events[0].provider, value=len(fresh))
    return fresh


def _timestamp(value: Any) -> str | None:
    try:
        return normalize_timestamp(str(value)) if value else None
    except ValueError:
        return None
