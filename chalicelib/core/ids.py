"""Every derived id, and the one reference allocator.

Ids are derived, not random, wherever a retry must land on the same item: from the inbox key
(the message, the conversation it opens, its acknowledgment) or from the identity (the customer).
A redelivered queue message therefore computes the same names, and every write is conditional.

What is derived from a person's address (the customer id, the inbound FIFO group) is a keyed
HMAC-SHA256 under the deployment's id key: a plain hash of a phone number is reversed by trying
every number of a country's plan. The key is an argument, so these functions stay pure; callers get
it from ``chalicelib.adapters.id_keys``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from collections.abc import Callable

from chalicelib.core.errors import RetryableError
from chalicelib.core.model import Identity

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
REFERENCE_PREFIX = "OH-"
REFERENCE_ATTEMPTS = 8
REFERENCE_LENGTH = 5
# A reference as people and mail clients write it back: in brackets in a subject (``[OH-7K3Q9]``),
# or bare (a plus-address tag ``support+OH-7K3Q9@``), any case.
_REFERENCE_IN_TEXT = re.compile(
    rf"(?<![0-9A-Za-z]){REFERENCE_PREFIX}([{_CROCKFORD}]{{{REFERENCE_LENGTH}}})(?![0-9A-Za-z])", re.IGNORECASE
)
MIN_ID_KEY_BYTES = 32  # the generated key has 64 characters; a shorter one is a mistake, not a key


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(parts).encode()).digest()


def _keyed_digest(key: bytes, *parts: str) -> bytes:
    """HMAC-SHA256 of the parts; refuses a missing or short key rather than derive a guessable id."""
    if not isinstance(key, bytes) or len(key) < MIN_ID_KEY_BYTES:
        raise ValueError(f"the id key must be at least {MIN_ID_KEY_BYTES} bytes")
    return hmac.new(key, "\x1f".join(parts).encode(), hashlib.sha256).digest()


def _base32(data: bytes, length: int) -> str:
    number = int.from_bytes(data, "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, 32)
        chars.append(_CROCKFORD[index])
    return "".join(chars)


def customer_id_for(identity: Identity, key: bytes) -> str:
    """The id of the customer first seen on ``identity``: stable for one key, meaningless without it.

    Only a new customer is named this way; an existing one is found through its identity item, so
    ids created before (or under another key) stay what they are.
    """
    return "cus_" + _base32(_keyed_digest(key, "customer", identity.key), 16).lower()


def fifo_group_for(ordering_key: str, key: bytes) -> str:
    """The inbound FIFO group of a sender: one sender's events stay in one group, in order, and the
    group (a queue attribute, visible in consoles and logs) names nobody."""
    return "grp_" + _keyed_digest(key, "fifo-group", ordering_key).hex()


def fifo_dedupe_id_for(inbox_key: str, key: bytes) -> str:
    """The inbound FIFO deduplication id: one per inbox event. Keyed like the group because provider
    event ids can embed the sender (a WhatsApp Cloud message id is the phone number in base64)."""
    return "dup_" + _keyed_digest(key, "fifo-dedupe", inbox_key).hex()


def event_reference(inbox_key: str) -> str:
    """The inbox key as log lines show it: the provider, then a hash of its event id (which may embed
    the sender's phone, see :func:`fifo_dedupe_id_for`). The same event always has the same reference;
    an operator holding an inbox key computes it to find the event's lines. Unkeyed on purpose (the
    webhook path logs it without reading a secret): an event id that embeds a phone also carries
    random bytes, so its hash cannot be reversed by enumerating phone numbers."""
    provider = inbox_key.split("#", 1)[0]
    return f"{provider}#{hashlib.sha256(inbox_key.encode()).hexdigest()[:24]}"


def conversation_id_for(inbox_key: str) -> str:
    """The id of the conversation an inbound event opens, if it opens one."""
    return "cnv_" + _base32(_digest("conversation", inbox_key), 16).lower()


def message_id_for(inbox_key: str) -> str:
    return "msg_" + _base32(_digest("message", inbox_key), 20).lower()


def acknowledgment_id_for(inbox_key: str) -> str:
    """The acknowledgment of one inbound event has one id: it can never be sent twice."""
    return "out_ack_" + hashlib.sha256(f"ack\x1f{inbox_key}".encode()).hexdigest()[:20]


def escalation_id_for(conversation_id: str, reason: str, level: int = 1) -> str:
    """One escalation of a conversation per reason and level: a redelivery or a re-run republishes the same id."""
    return "esc_" + _base32(_digest("escalation", conversation_id, reason, str(level)), 20).lower()


def lifecycle_event_id_for(subject_id: str, event_type: str, change: str) -> str:
    """One lifecycle event per change: ``subject_id`` is the conversation (the customer for
    ``customer_updated``), ``change`` names the change itself (the message that decided, the time
    of a status change, a profile version), so a redelivery or a retry publishes the same id."""
    return "evt_" + _base32(_digest("lifecycle-event", subject_id, event_type, change), 20).lower()


def agent_reply_id_for(conversation_id: str, idempotency_key: str | None) -> str:
    """A retried POST with the same Idempotency-Key names the same reply; without one, a new id."""
    if idempotency_key is None:
        return "out_rep_" + uuid.uuid4().hex[:20]
    return "out_rep_" + hashlib.sha256(f"{conversation_id}\x1f{idempotency_key}".encode()).hexdigest()[:20]


def survey_id_for(conversation_id: str) -> str:
    """A conversation's feedback survey has one id: it can never be sent twice."""
    return "out_srv_" + hashlib.sha256(f"survey\x1f{conversation_id}".encode()).hexdigest()[:20]


def survey_thanks_id_for(conversation_id: str) -> str:
    """The thanks after a conversation's survey answer: once, however often the answer is redelivered."""
    return "out_thx_" + hashlib.sha256(f"thanks\x1f{conversation_id}".encode()).hexdigest()[:20]


def reference_for(conversation_id: str, attempt: int = 0) -> str:
    """A short human reference (``OH-7K3Q9``): Crockford base32, no I/L/O/U to misread."""
    return REFERENCE_PREFIX + _base32(_digest("reference", conversation_id, str(attempt)), REFERENCE_LENGTH)


def references_in(text: str | None, *, limit: int = 5) -> list[str]:
    """The references a text names (a subject's ``[OH-7K3Q9]``), upper-cased, in order, at most ``limit``."""
    found: list[str] = []
    for match in _REFERENCE_IN_TEXT.finditer((text or "")[:4_000]):
        reference = REFERENCE_PREFIX + match.group(1).upper()
        if reference not in found:
            found.append(reference)
        if len(found) >= limit:
            break
    return found


def allocate_reference(conversation_id: str, reserve: Callable[[str, str], bool]) -> str:
    """The conversation's reference: the first candidate ``reserve(reference, conversation_id)`` grants.

    The candidates are derived from the conversation id, so a retry finds the one it reserved.
    """
    for attempt in range(REFERENCE_ATTEMPTS):
        candidate = reference_for(conversation_id, attempt)
        if reserve(candidate, conversation_id):
            return candidate
    raise RetryableError(f"no free reference after {REFERENCE_ATTEMPTS} attempts")


def public_conversation_id_for(customer_id: str, thread_key: str, generation: int) -> str:
    """The public conversation of one customer about one post (``thread_key``); ``generation`` counts the
    ones resolved before it, so a comment after a resolution opens the next one under a known name."""
    return "cnv_" + _base32(_digest("public", customer_id, thread_key, str(generation)), 16).lower()


def acknowledgment_claim_key(identity_key: str) -> str:
    """The expiring claim that holds a sender's address for one acknowledgment quiet period (the
    acknowledgment flow takes it; an erasure deletes it: the key names the address)."""
    return f"ack#{identity_key}"
