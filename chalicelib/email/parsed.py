"""What the hub reads from one mail, whichever provider delivered it: :class:`ParsedEmail`.

Pure data (no ``email.message`` objects), so it can be tested, compared and turned into events
without touching the MIME tree again. Attachment bytes are kept on :class:`EmailAttachment` for the
caller that stores them (the lead's S3 step); nothing else in the hub holds media bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass, field

from chalicelib.email.headers import MailAddress
from chalicelib.email.loops import LoopVerdict
from chalicelib.email.reply_text import ReplyParts


@dataclass(frozen=True, slots=True)
class EmailAttachment:
    """One attached file or inline image, decoded. ``sha256`` is the hex digest of ``content``."""

    filename: str | None
    content_type: str
    size: int
    sha256: str
    content: bytes = field(repr=False, compare=False)
    content_id: str | None = None  # without angle brackets; HTML refers to it as ``cid:<content_id>``

    @classmethod
    def of(cls, content: bytes, *, filename: str | None, content_type: str,
           content_id: str | None = None) -> EmailAttachment:
        return cls(filename=filename, content_type=content_type, size=len(content),
                   sha256=hashlib.sha256(content).hexdigest(), content=content, content_id=content_id)


@dataclass(frozen=True, slots=True)
class ParsedEmail:
    """One inbound mail, decoded and bounded.

    ``message_id``/``in_reply_to``/``references`` are normalized (see :mod:`.headers`). ``text`` is the
    whole body as text (``body_source`` says whether it came from a ``text/plain`` part, from HTML, or
    there was none); ``reply`` splits it into the new text, the quoted reply and the signature.
    ``dedupe_key`` is the Message-ID, or ``sha256:`` of the mail's content when it has none.
    ``truncated`` is set when a cap cut something (``truncation`` says what): the mail stays readable.
    """

    dedupe_key: str
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    subject: str
    sender: MailAddress | None
    reply_to: tuple[MailAddress, ...]
    to: tuple[MailAddress, ...]
    cc: tuple[MailAddress, ...]
    delivered_to: tuple[str, ...]
    envelope_recipients: tuple[str, ...]
    envelope_sender: str | None
    date: str | None
    text: str
    body_source: str  # "text", "html" or "none"
    reply: ReplyParts
    attachments: tuple[EmailAttachment, ...]
    inline_images: tuple[EmailAttachment, ...]
    loop: LoopVerdict
    truncation: tuple[str, ...] = ()
    size: int = 0  # bytes of the raw message (or of the provider's parsed fields)

    @property
    def new_text(self) -> str:
        return self.reply.new_text

    @property
    def truncated(self) -> bool:
        return bool(self.truncation)

    @property
    def recipients(self) -> tuple[str, ...]:
        """The mailboxes it was delivered to: the SMTP envelope when known, else Delivered-To, else To+Cc."""
        if self.envelope_recipients:
            return self.envelope_recipients
        if self.delivered_to:
            return self.delivered_to
        return tuple(a.address for a in (*self.to, *self.cc))

    def mailbox(self, served: Collection[str] = ()) -> str | None:
        """The hub's mailbox this mail arrived at: the first recipient the hub serves, else the first one.

        ``served`` holds the hub's addresses (``support@…``, ``billing@…``), lower-cased; a
        plus-address (``support+OH-7K3Q9@…``) counts as its base mailbox.
        """
        candidates = (*self.recipients, *(a.address for a in (*self.to, *self.cc)))
        if served:
            for address in candidates:
                if address in served or base_mailbox(address) in served:
                    return address
        return candidates[0] if candidates else None


def base_mailbox(address: str) -> str:
    """``support+OH-7K3Q9@example.com`` → ``support@example.com``."""
    local, at, domain = address.rpartition("@")
    return f"{local.split('+', 1)[0]}@{domain}" if at else address


def mailbox_tag(address: str | None) -> str | None:
    """The plus-address tag (``OH-7K3Q9`` in ``support+OH-7K3Q9@…``), which may carry a reference."""
    if not address or "@" not in address:
        return None
    local = address.rpartition("@")[0]
    return local.split("+", 1)[1] or None if "+" in local else None
