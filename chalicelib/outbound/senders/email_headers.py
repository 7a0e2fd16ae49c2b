"""What every email sender writes the same way: the From it sends from, the threaded subject and the
headers that keep a reply in the customer's thread (``In-Reply-To``, ``References``, our ``Message-ID``,
``Auto-Submitted`` on acknowledgments). The SES sender builds a whole MIME message from the same parts;
the HTTP senders (SendGrid, Mailgun, Postmark) pass them to their send APIs."""

from __future__ import annotations

from email.utils import parseaddr

from chalicelib.outbound.job import OutboundJob, OutboundKind

DEFAULT_SUBJECT = "Your request"
MAILBOXES_SETTING = "OMNIHUB_EMAIL_MAILBOXES"  # the hub's own addresses, comma-separated
FROM_SETTING = "OMNIHUB_EMAIL_FROM"


def mailboxes_from(setting: str | None) -> frozenset[str]:
    return frozenset(a.strip().lower() for a in (setting or "").split(",") if "@" in a)


def reply_from(mailbox: str | None, default: str | None, mailboxes: frozenset[str]) -> str | None:
    """The mailbox the customer wrote to, when it is one of the hub's: listed in ``OMNIHUB_EMAIL_MAILBOXES``
    or on the domain of the default sender (``OMNIHUB_EMAIL_FROM``). A mail's recipients are whatever its
    sender wrote: anything else would let a stranger choose the hub's From (and the provider would refuse it)."""
    if mailbox and "@" in mailbox:
        address = mailbox.strip().lower()
        default_domain = parseaddr(default or "")[1].rpartition("@")[2].lower()
        if address in mailboxes or (default_domain and address.rpartition("@")[2] == default_domain):
            return address
    return default


def subject_with_reference(subject: str | None, reference: str | None, *, reply: bool) -> str:
    text = " ".join((subject or "").split()) or DEFAULT_SUBJECT
    if reply and not text.lower().startswith(("re:", "r:", "aw:", "sv:")):
        text = f"Re: {text}"
    if reference and reference not in text:
        text = f"{text} [{reference}]"
    return text


def message_id_for(job: OutboundJob, from_address: str) -> str:
    """Derived from the outbound id: a resend after an ambiguous failure carries the same Message-ID,
    which the recipient's client deduplicates, and the customer's reply to it threads the same way."""
    domain = parseaddr(from_address)[1].rpartition("@")[2].strip("> ") or "omnihub.invalid"
    return f"<{job.outbound_id[:100].replace('@', '-')}@{domain}>"


def threading_headers(job: OutboundJob, from_address: str) -> list[tuple[str, str]]:
    """``Message-ID``, ``In-Reply-To``, ``References`` and, on an acknowledgment, the auto-reply marks."""
    threading = job.email
    in_reply_to = threading.in_reply_to if threading else None
    references = list(threading.references) if threading else []
    if in_reply_to and in_reply_to not in references:
        references.append(in_reply_to)
    headers = [("Message-ID", message_id_for(job, from_address))]
    if in_reply_to:
        headers.append(("In-Reply-To", in_reply_to))
    if references:
        headers.append(("References", " ".join(references)))
    if job.kind is OutboundKind.ACKNOWLEDGMENT:
        headers += [("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All")]
    return headers


def subject_of(job: OutboundJob) -> str:
    threading = job.email
    return subject_with_reference(threading.subject if threading else None, job.reference,
                                  reply=bool(threading and threading.in_reply_to))
