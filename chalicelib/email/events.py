"""A ParsedEmail (plus how a provider delivered it) → the hub's InboundEvents.

One mail is one event whichever provider or mailbox delivered it: ``event_id`` is the mail's
``dedupe_key`` (its normalized Message-ID, or ``sha256:`` of its content when it has none), and
:func:`inbox_namespace` says under which namespace the inbox must key it — ``email`` for every email
event, instead of the provider name, so that the same Message-ID from SES and from Mailgun, or sent
to ``support@`` and ``billing@`` at once, is one conditional put. (``InboundEvent.inbox_key`` is
still ``provider#event_id`` in ``core/model.py``; the ingest use case adopts the namespace.)

The event (kind ``message``, channel ``email``, identity ``("email", From address)``):

- ``text``: the new text of the mail (quoted reply and signature cut), or its whole text when
  nothing new is left, or its subject for a mail that is only attachments or nothing at all; at most
  :data:`MAX_EVENT_TEXT_CHARS` characters. The whole text is kept in ``metadata["text_full"]``
  only when it differs and is short (:data:`MAX_FULL_TEXT_CHARS`): the raw payload has all of it.
- ``metadata`` (all strings): ``subject``, ``message_id``, ``in_reply_to``, ``references`` (space-joined),
  ``mailbox`` (where it arrived), ``mailbox_tag`` (its plus-address tag), ``recipients``, ``to``,
  ``cc``, ``reply_to``, ``date``, ``auto_reply``/``bulk`` (``"true"``), ``auto_reply_reasons``,
  ``bounce`` (``hard``/``soft``) with ``bounce_status``/``bounce_recipient``/``original_message_id``,
  ``is_forward``, ``body_source``, ``truncated`` and ``truncation``, ``provider_event_id``,
  ``attachments_bytes`` and the provider's verdicts (``spf``, ``dkim``, ``dmarc``, ``spam``).
- ``attachments``: one :class:`Attachment` per file (``kind`` from the media type) and per inline
  image (``kind="inline_image"``, so presenters can show them apart); ``media_id`` is
  ``sha256:<hex>`` and ``url`` stays None until the bytes are stored: the storing step puts them at
  :func:`attachment_object_key` and fills ``url`` (``s3://<payload bucket>/<key>``), which
  ``GET /conversations/{id}`` turns into a short-lived presigned URL.

A DSN that names the mail it bounces (``original_message_id``) also yields a ``delivery_status``
event (``failed``) for that Message-ID, id ``<dedupe_key>#dsn``, so a bounce by mail updates the
outbound message like a provider's bounce notification does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from chalicelib.core import bucket_layout
from chalicelib.core.model import (
    EMAIL_INBOX_NAMESPACE,
    Attachment,
    Channel,
    DeliveryStatus,
    EventKind,
    InboundEvent,
    ModelError,
    Sender,
)
from chalicelib.core.timestamps import format_timestamp, parse_timestamp
from chalicelib.email.headers import one_line
from chalicelib.email.parsed import EmailAttachment, ParsedEmail, mailbox_tag
from chalicelib.providers.base import AddressError, identity_or_error

EMAIL_DEDUPE_NAMESPACE = EMAIL_INBOX_NAMESPACE
MAX_EVENT_TEXT_CHARS = 20_000
MAX_FULL_TEXT_CHARS = 4_000
MAX_LIST_CHARS = 1_000
MAX_EVENT_ATTACHMENTS = 100
MAX_PROVIDER_EVENT_ID = 200  # characters; a provider's own id is a UUID or a short token
ATTACHMENTS_PREFIX = bucket_layout.ATTACHMENTS_PREFIX  # where kept attachments live (infra grants it)
# A Date header later than reception by more than this is a wrong clock or a lie: reception wins.
FUTURE_DATE_TOLERANCE = timedelta(minutes=15)
_ATTACHMENT_KINDS = {"image": "image", "audio": "audio", "video": "video"}


@dataclass(frozen=True, slots=True)
class EmailDelivery:
    """One mail as a provider delivered it."""

    provider: str  # "ses", "sendgrid", "mailgun", "postmark"
    parsed: ParsedEmail
    received_at: str
    provider_event_id: str | None = None  # the provider's own id for this delivery, when it gives one
    mailbox: str | None = None  # the envelope recipient the provider reports, when it does
    verdicts: Mapping[str, str] = field(default_factory=dict)  # spf, dkim, dmarc, spam (provider's words)
    served_mailboxes: Collection[str] = ()  # the hub's own addresses, to pick the mailbox among To/Cc

    def __post_init__(self) -> None:
        # The provider's id is a word of its JSON (Postmark's MessageID, SES's mail.messageId), not a parsed
        # header: made one bounded line here, like every header value, so it carries no line break into
        # the stored event (where a reply or a status lookup could reuse it).
        if self.provider_event_id is not None:
            cleaned = one_line(self.provider_event_id, limit=MAX_PROVIDER_EVENT_ID) or None
            object.__setattr__(self, "provider_event_id", cleaned)


def inbox_namespace(event: InboundEvent) -> str:
    """The inbox dedupe namespace: ``email`` for every email event (cross-provider), else the provider
    (the rule lives on the model: :attr:`InboundEvent.inbox_namespace`)."""
    return event.inbox_namespace


def attachment_object_key(event_id: str, sha256: str) -> str:
    """Where an attachment's bytes go in the payload bucket: per message (so erasing a customer's
    messages erases their files) and content-addressed within it (a retry rewrites the same key)."""
    message = hashlib.sha256(event_id.encode("utf-8")).hexdigest()[:32]
    return f"{ATTACHMENTS_PREFIX}email/{message}/{sha256}"


def email_media(parsed: ParsedEmail) -> dict[str, bytes]:
    """The bytes of a mail's attachments and inline images by ``media_id`` (``sha256:<hex>``), as
    :func:`email_events` names them on the message event."""
    return {f"sha256:{item.sha256}": item.content for item in (*parsed.attachments, *parsed.inline_images)}


def email_events(delivery: EmailDelivery) -> list[InboundEvent]:
    parsed = delivery.parsed
    metadata = email_metadata(delivery)
    occurred_at = _occurred_at(parsed.date, delivery.received_at)
    base = {
        "provider": delivery.provider,
        "event_id": parsed.dedupe_key,
        "channel": Channel.EMAIL,
        "occurred_at": occurred_at,
        "provider_message_id": delivery.provider_event_id,
    }
    events = [_message_event(parsed, base, metadata)]
    bounce = parsed.loop.bounce
    if bounce is not None and bounce.original_message_id and (bounce.action or "failed") == "failed":
        events.append(InboundEvent(
            provider=delivery.provider,
            event_id=f"{parsed.dedupe_key}#dsn"[:512],
            kind=EventKind.DELIVERY_STATUS,
            channel=Channel.EMAIL,
            occurred_at=occurred_at,
            provider_message_id=bounce.original_message_id,
            status=DeliveryStatus.FAILED,
            error_code=bounce.status or "bounce",
            metadata={k: v for k, v in metadata.items() if k.startswith(("bounce", "original_message_id"))}
            | {"message_id": parsed.dedupe_key},
        ))
    return events


def _message_event(parsed: ParsedEmail, base: dict[str, Any], metadata: dict[str, str]) -> InboundEvent:
    address = parsed.sender.address if parsed.sender else parsed.envelope_sender
    try:
        if not address:
            raise AddressError("the mail has no sender address")
        sender = Sender(identity=identity_or_error(Channel.EMAIL, address),
                        name=parsed.sender.name if parsed.sender else None, email=address)
        text, attachments = _content(parsed, metadata)
        return InboundEvent(kind=EventKind.MESSAGE, sender=sender, text=text, attachments=attachments,
                            metadata=metadata, **base)
    except (AddressError, ModelError) as err:
        # Kept (raw payload stored, same id on a retry) but never threaded: nobody to answer.
        reason = "invalid_sender" if isinstance(err, AddressError) else "invalid_event"
        return InboundEvent(kind=EventKind.UNKNOWN, metadata=metadata | {"reason": reason}, **base)


def _content(parsed: ParsedEmail, metadata: dict[str, str]) -> tuple[str | None, tuple[Attachment, ...]]:
    files = [_attachment(item, kind=None) for item in parsed.attachments]
    files += [_attachment(item, kind="inline_image") for item in parsed.inline_images]
    if len(files) > MAX_EVENT_ATTACHMENTS:
        files = files[:MAX_EVENT_ATTACHMENTS]
        metadata["attachments_dropped"] = "true"
    text = parsed.new_text.strip() or parsed.text.strip()
    if not text and not files:
        text = parsed.subject or "(empty message)"
        metadata["empty_body"] = "true"
    if len(text) > MAX_EVENT_TEXT_CHARS:
        text = text[:MAX_EVENT_TEXT_CHARS]
        metadata["text_truncated"] = "true"
    full = parsed.text.strip()
    if full and full != text and len(full) <= MAX_FULL_TEXT_CHARS:
        metadata["text_full"] = full
    return text or None, tuple(files)


def _attachment(item: EmailAttachment, *, kind: str | None) -> Attachment:
    main = item.content_type.split("/", 1)[0]
    return Attachment(
        kind=kind or _ATTACHMENT_KINDS.get(main, "document" if main in ("application", "text") else "file"),
        url=None,
        media_id=f"sha256:{item.sha256}",
        content_type=item.content_type,
        name=item.filename,
        size=item.size,
    )


def email_metadata(delivery: EmailDelivery) -> dict[str, str]:
    parsed = delivery.parsed
    mailbox = delivery.mailbox or parsed.mailbox(delivery.served_mailboxes)
    values: dict[str, str | None] = {
        "subject": parsed.subject,
        "message_id": parsed.message_id,
        "dedupe_key": parsed.dedupe_key if parsed.dedupe_key != parsed.message_id else None,
        "in_reply_to": parsed.in_reply_to,
        "references": " ".join(parsed.references),
        "mailbox": mailbox,
        "mailbox_tag": mailbox_tag(mailbox),
        "recipients": _joined(parsed.recipients),
        "to": _joined(a.address for a in parsed.to),
        "cc": _joined(a.address for a in parsed.cc),
        "reply_to": _joined(a.address for a in parsed.reply_to),
        "date": parsed.date,
        "body_source": parsed.body_source,
        "provider_event_id": delivery.provider_event_id,
        "attachments_bytes": str(sum(a.size for a in files)) if (files := (*parsed.attachments,
                                                                            *parsed.inline_images)) else None,
    }
    loop = parsed.loop
    if loop.automated:
        # "auto_reply" is what the acknowledgment flow reads: bounces and bulk mail never get one either.
        values["auto_reply"] = "true"
        values["auto_reply_reasons"] = ",".join(loop.reasons)
    if loop.bulk:
        values["bulk"] = "true"
    if loop.bounce is not None:
        values["bounce"] = loop.bounce.kind.value
        values["bounce_status"] = loop.bounce.status
        values["bounce_action"] = loop.bounce.action
        values["bounce_recipient"] = loop.bounce.recipient
        values["bounce_diagnostic"] = loop.bounce.diagnostic
        values["original_message_id"] = loop.bounce.original_message_id
    if parsed.reply.is_forward:
        values["is_forward"] = "true"
    if parsed.truncated:
        values["truncated"] = "true"
        values["truncation"] = ",".join(parsed.truncation)
    for name, verdict in delivery.verdicts.items():
        values[name] = one_line(str(verdict), limit=200)
    return {key: value for key, value in values.items() if value}


def _joined(addresses: Iterable[str]) -> str:
    return ",".join(addresses)[:MAX_LIST_CHARS]


def _occurred_at(date: str | None, received_at: str) -> str:
    if not date:
        return received_at
    try:
        if parse_timestamp(date) > parse_timestamp(received_at) + FUTURE_DATE_TOLERANCE:
            return received_at
    except ModelError:
        return received_at
    return format_timestamp(parse_timestamp(date))
