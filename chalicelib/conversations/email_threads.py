"""Email threading: the conversation a mail answers, by its headers and then by the reference it names.

Tried before the customer's open conversation (``threading.decide_thread``), in this order:

1. ``In-Reply-To``, then ``References`` newest first, against the Message-IDs the hub stored: every
   mail it received and every mail it sent (:class:`~chalicelib.core.ports.MailThreadIndex`);
2. a conversation reference in the subject (``Re: Your request [OH-7K3Q9]``), then in the plus-address
   tag of the mailbox it was sent to (``support+OH-7K3Q9@…``).

A match counts only when the conversation belongs to the customer who wrote: a Message-ID travels
to everyone in copy and a reference can be typed by anyone, and neither may put a stranger's mail in
somebody else's case. A resolved conversation found this way is reopened by the worker.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.core.ids import references_in
from chalicelib.core.model import Channel, Conversation, InboundEvent
from chalicelib.core.ports import Repositories

MAX_HEADER_IDS = 51  # In-Reply-To and at most 50 References (chalicelib/email/headers.py caps them)


@dataclass(frozen=True, slots=True)
class MailThreadHints:
    message_ids: tuple[str, ...]  # In-Reply-To first, then References from the newest
    references: tuple[str, ...]  # conversation references named by the subject, then the mailbox tag


def mail_thread_hints(event: InboundEvent) -> MailThreadHints:
    """What an email event says about the thread it continues (pure: its metadata only)."""
    if event.channel is not Channel.EMAIL:
        return MailThreadHints((), ())
    metadata = event.metadata
    own = metadata.get("message_id")
    ids = [metadata.get("in_reply_to") or "", *reversed((metadata.get("references") or "").split())]
    message_ids = tuple(i for i in dict.fromkeys(ids) if i and i != own)[:MAX_HEADER_IDS]
    references = references_in(metadata.get("subject"))
    references += [r for r in references_in(metadata.get("mailbox_tag")) if r not in references]
    return MailThreadHints(message_ids, tuple(references))


def find_mail_thread(repos: Repositories, event: InboundEvent, customer_id: str) -> Conversation | None:
    """The customer's conversation this mail continues (possibly resolved), or None."""
    hints = mail_thread_hints(event)
    candidates: list[str] = []
    if hints.message_ids and repos.mail_threads is not None:
        known = repos.mail_threads.conversations_for(hints.message_ids)
        candidates += [known[message_id] for message_id in hints.message_ids if message_id in known]
    for reference in hints.references:
        conversation_id = repos.references.conversation_for(reference)
        if conversation_id:
            candidates.append(conversation_id)
    for conversation_id in dict.fromkeys(candidates):
        conversation = repos.conversations.get(conversation_id, consistent=True)
        if conversation is not None and conversation.customer_id == customer_id:
            return conversation
    return None


def remember_mail(repos: Repositories, message_id: str | None, conversation_id: str) -> None:
    """Record a mail's Message-ID (received or sent) for the replies that will name it."""
    if message_id and repos.mail_threads is not None:
        repos.mail_threads.remember(message_id, conversation_id)
