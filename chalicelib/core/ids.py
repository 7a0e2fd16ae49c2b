"""Every derived id, and the one reference allocator.

Ids are derived, not random, wherever a retry must land on the same item: from the inbox key
(the message, the conversation it opens, its acknowledgment) or from the identity (the customer).
A redelivered queue message therefore computes the same names, and every write is conditional.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable

from chalicelib.core.errors import RetryableError
from chalicelib.core.model import Identity

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_PREFIX = "OH-"
REFERENCE_ATTEMPTS = 8


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


def _base32(data: bytes, length: int) -> str:
    number = int.from_bytes(data, "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, 32)
        chars.append(_CROCKFORD[index])
    return "".join(chars)


def customer_id_for(identity: Identity) -> str:
    return "cus_" + _base32(_digest("customer", identity.key), 16).lower()


def conversation_id_for(inbox_key: str) -> str:
    """The id of the conversation an inbound event opens, if it opens one."""
    return "cnv_" + _base32(_digest("conversation", inbox_key), 16).lower()


def message_id_for(inbox_key: str) -> str:
    return "msg_" + _base32(_digest("message", inbox_key), 20).lower()


def acknowledgment_id_for(inbox_key: str) -> str:
    """The acknowledgment of one inbound event has one id: it can never be sent twice."""
    return "out_ack_" + hashlib.sha256(f"ack\x1f{inbox_key}".encode()).hexdigest()[:20]


def agent_reply_id_for(conversation_id: str, idempotency_key: str | None) -> str:
    """A retried POST with the same Idempotency-Key names the same reply; without one, a new id."""
    if idempotency_key is None:
        return "out_rep_" + uuid.uuid4().hex[:20]
    return "out_rep_" + hashlib.sha256(f"{conversation_id}\x1f{idempotency_key}".encode()).hexdigest()[:20]


def reference_for(conversation_id: str, attempt: int = 0) -> str:
    """A short human reference (``OH-7K3Q9``): Crockford base32, no I/L/O/U to misread."""
    return REFERENCE_PREFIX + _base32(_digest("reference", conversation_id, str(attempt)), 5)


def allocate_reference(conversation_id: str, reserve: Callable[[str, str], bool]) -> str:
    """The conversation's reference: the first candidate ``reserve(reference, conversation_id)`` grants.

    The candidates are derived from the conversation id, so a retry finds the one it reserved.
    """
    for attempt in range(REFERENCE_ATTEMPTS):
        candidate = reference_for(conversation_id, attempt)
        if reserve(candidate, conversation_id):
            return candidate
    raise RetryableError(f"no free reference after {REFERENCE_ATTEMPTS} attempts")
