"""Who is calling: the customer behind a phone number and their open case, from single-item reads only.

Used where an answer must be given at once and nothing may be written: the first answer of a call
(TwiML, NCCO) and the Amazon Connect flow's Lambda. The customer is the one of the same number on
SMS and WhatsApp (:func:`~chalicelib.conversations.identities.owner_of`, the rule of identity
resolution); a number nobody owns is an unknown caller.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.conversations.identities import owner_of
from chalicelib.core.model import Conversation, ConversationStatus, Customer, Identity
from chalicelib.core.ports import Repositories


@dataclass(frozen=True, slots=True)
class KnownCaller:
    customer: Customer
    conversation: Conversation | None  # the open (not resolved) conversation, if any

    @property
    def reference(self) -> str | None:
        return self.conversation.reference if self.conversation is not None else None


def find_caller(repos: Repositories, identity: Identity) -> KnownCaller | None:
    """At most four single-item reads (identity owners in one batch, customer, conversation)."""
    owner, sibling_owner = owner_of(repos.customers, identity)
    owner = owner or sibling_owner
    customer = repos.customers.get(owner) if owner else None
    if customer is None:
        return None
    open_id = customer.open_conversation_id
    conversation = repos.conversations.get(open_id) if open_id else None
    if conversation is not None and conversation.status is ConversationStatus.RESOLVED:
        conversation = None
    return KnownCaller(customer, conversation)
