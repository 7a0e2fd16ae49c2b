"""Amazon Connect: the contact flow's Lambda invocation and EventBridge contact events (pure).

No signature: Connect invokes the function through IAM (a resource policy for ``connect.amazonaws.com``
on the instance's ARN) and EventBridge through its rule target, so whatever reaches these parsers was
authorized by AWS. They still treat every field as hostile (types, sizes, phone format).

- :func:`parse_invocation`: ``Details.ContactData`` of a flow's "Invoke AWS Lambda function" block →
  the caller's identity ``("voice", +E164)``, the contact ids, the channel, and one CALL event;
- :func:`flow_attributes`: the answer, a flat map of strings the flow can branch on (``STRING_MAP``
  response validation), bounded by :data:`MAX_KEY_CHARS`, :data:`MAX_VALUE_CHARS`, :data:`MAX_ANSWER_BYTES`;
- :func:`parse_contact_event`: ``Amazon Connect Contact Event`` (CONNECTED_TO_AGENT, DISCONNECTED with
  the recording location where enabled) → CALL events of the same call.

The call id is ``InitialContactId`` (``initialContactId`` in contact events): a transfer creates a new
contact id, the initial one stays the call's.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.core import calls
from chalicelib.core.calls import CallStage, CallState
from chalicelib.core.model import Channel, EventKind, Identity, InboundEvent, ModelError, Sender
from chalicelib.core.timestamps import utc_now
from chalicelib.providers.base import PayloadError, as_dict, identity_or_error, json_string, valid_unicode

PROVIDER = "amazon_connect"
CONTACT_EVENT_SOURCE = "aws.connect"
CONTACT_EVENT_DETAIL_TYPE = "Amazon Connect Contact Event"

# The answer's bounds: Connect keeps returned pairs as user-defined contact attributes, whose whole set
# must stay under 32 KB; keys are short identifiers, and a value read by a prompt is a sentence at most.
MAX_KEY_CHARS = 64
MAX_VALUE_CHARS = 256
MAX_ANSWER_BYTES = 16 * 1024  # half the contact's 32 KB: the flow's own attributes need room too
MAX_ID_CHARS = 256
_KEY = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_SLUG = re.compile(r"[^A-Za-z0-9_\-]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


def _text(value: Any, limit: int = MAX_ID_CHARS) -> str | None:
    """A bounded string of the event, valid Unicode: a lone surrogate (which json.loads lets through and no
    store takes) becomes U+FFFD here, or the event would be refused by the table on every retry."""
    text = json_string(value)
    if text is None:
        return None
    text = valid_unicode(text).strip()
    return text[:limit] if text else None


@dataclass(frozen=True, slots=True)
class ConnectInvocation:
    contact_id: str
    call_id: str  # InitialContactId, or ContactId for a first contact
    channel: str  # VOICE, CHAT, TASK, ...
    caller: Identity | None
    initiation_method: str | None = None
    system_number: str | None = None
    instance_arn: str | None = None
    attributes: Mapping[str, str] = field(default_factory=dict)
    parameters: Mapping[str, str] = field(default_factory=dict)


def _string_map(value: Any) -> dict[str, str]:
    return {str(k)[:MAX_KEY_CHARS]: v[:MAX_VALUE_CHARS] for k, v in as_dict(value).items() if isinstance(v, str)}


def parse_invocation(event: Any) -> ConnectInvocation:
    """The flow's invocation event; PayloadError when it is not one."""
    details = as_dict(as_dict(event).get("Details"))
    contact = as_dict(details.get("ContactData"))
    contact_id = _text(contact.get("ContactId"))
    if not contact_id:
        raise PayloadError("Details.ContactData.ContactId is required")
    customer = as_dict(contact.get("CustomerEndpoint"))
    address = _text(customer.get("Address"), 64)
    caller: Identity | None = None
    if address and (_text(customer.get("Type")) or "TELEPHONE_NUMBER") == "TELEPHONE_NUMBER":
        try:
            caller = identity_or_error(Channel.VOICE, address)
        except PayloadError:
            caller = None  # a withheld number ("anonymous"): the flow still gets an answer
    system = as_dict(contact.get("SystemEndpoint"))
    return ConnectInvocation(
        contact_id=contact_id,
        call_id=_text(contact.get("InitialContactId")) or contact_id,
        channel=(_text(contact.get("Channel"), 32) or "VOICE").upper(),
        caller=caller,
        initiation_method=_text(contact.get("InitiationMethod"), 32),
        system_number=_text(system.get("Address"), 64),
        instance_arn=_text(contact.get("InstanceARN")),
        attributes=_string_map(contact.get("Attributes")),
        parameters=_string_map(details.get("Parameters")),
    )


def invocation_event(invocation: ConnectInvocation, received_at: str | None = None) -> InboundEvent:
    """The call as the flow reports it: one CALL event per contact (a repeated invocation is a duplicate)."""
    metadata = {calls.CALL_ID: invocation.call_id, calls.CALL_STAGE: CallStage.CALL.value,
                calls.CALL_STATE: CallState.IN_PROGRESS.value, "contact_id": invocation.contact_id,
                "connect_channel": invocation.channel}
    if invocation.initiation_method:
        metadata[calls.CALL_DIRECTION] = "inbound" if invocation.initiation_method == "INBOUND" else "outbound"
    if invocation.system_number:
        metadata["to"] = invocation.system_number
    if invocation.caller is None:
        metadata[calls.CALLER] = "anonymous"
    sender = Sender(identity=invocation.caller, phone=invocation.caller.address) if invocation.caller else None
    return InboundEvent(provider=PROVIDER, event_id=f"{invocation.call_id}#contact#{invocation.contact_id}",
                        kind=EventKind.CALL, channel=Channel.VOICE, occurred_at=received_at or utc_now(),
                        sender=sender, provider_message_id=invocation.call_id, metadata=metadata)


# ---- the answer --------------------------------------------------------------------------------------


class Route(Protocol):
    """What the answer needs of a routing decision (``chalicelib.routing.rules.RoutingDecision``)."""

    @property
    def route(self) -> str: ...


@dataclass(frozen=True, slots=True)
class CallerLookup:
    """What storage knows about the caller, read before answering (within Connect's 8 seconds)."""

    known: bool = False
    customer_name: str | None = None
    language: str | None = None
    tier: str | None = None
    reference: str | None = None
    crisis_active: bool = False
    crisis_status: str | None = None


def _free_text(value: str | None) -> str:
    return " ".join(_CONTROL.sub(" ", value or "").split())[:MAX_VALUE_CHARS]


def _slug(value: str | None) -> str:
    return _SLUG.sub("", value or "")[:MAX_VALUE_CHARS]


def flow_attributes(lookup: CallerLookup | None, route: Route | None = None) -> dict[str, str]:
    """The flat string map the flow branches on: every key present, every value a string.

    Values a flow compares (``known``, ``language``, ``tier``, ``reference``, ``crisis_active``,
    ``suggested_queue``) are reduced to letters, digits, ``-`` and ``_``; the name and the status line
    are free text without control characters. Everything is bounded, and the whole answer stays under
    :data:`MAX_ANSWER_BYTES` (the status line, then the name, are shortened first).
    """
    lookup = lookup or CallerLookup()
    answer = {
        "known": "true" if lookup.known else "false",
        "customer_name": _free_text(lookup.customer_name),
        "language": _slug(lookup.language),
        "tier": _slug(lookup.tier),
        "reference": _slug(lookup.reference),
        "crisis_active": "true" if lookup.crisis_active else "false",
        "crisis_status": _free_text(lookup.crisis_status) if lookup.crisis_active else "",
        "suggested_queue": _slug(route.route) if route is not None else "",
    }
    for key in ("crisis_status", "customer_name"):
        while answer_bytes(answer) > MAX_ANSWER_BYTES and answer[key]:
            answer[key] = answer[key][: len(answer[key]) // 2]
    return answer


def answer_bytes(answer: Mapping[str, str]) -> int:
    return len(json.dumps(answer, ensure_ascii=False).encode("utf-8", "surrogatepass"))


def is_flat_string_map(answer: Any) -> bool:
    """Connect's STRING_MAP rule, as the flow block checks it, plus the hub's own bounds."""
    return (isinstance(answer, dict) and all(isinstance(k, str) and _KEY.match(k) for k in answer)
            and all(isinstance(v, str) and len(v) <= MAX_VALUE_CHARS for v in answer.values())
            and answer_bytes(answer) <= MAX_ANSWER_BYTES)


# ---- EventBridge contact events -------------------------------------------------------------------------


def _recording_location(detail: dict[str, Any]) -> str | None:
    for candidate in [as_dict(detail.get("recording")), *(as_dict(r) for r in (detail.get("recordings") or [])
                                                         if isinstance(detail.get("recordings"), list))]:
        location = _text(candidate.get("location") or candidate.get("Location"), 1024)
        if location:
            return location
    return None


def parse_contact_event(event: Any) -> list[InboundEvent]:
    """CONNECTED_TO_AGENT and DISCONNECTED as CALL events; other contact events are not the call's business."""
    envelope = as_dict(event)
    if envelope.get("source") != CONTACT_EVENT_SOURCE or envelope.get("detail-type") != CONTACT_EVENT_DETAIL_TYPE:
        raise PayloadError("not an Amazon Connect contact event")
    detail = as_dict(envelope.get("detail"))
    event_type = (_text(detail.get("eventType"), 64) or "").upper()
    contact_id = _text(detail.get("contactId"))
    if not contact_id:
        raise PayloadError("detail.contactId is required")
    call_id = _text(detail.get("initialContactId")) or contact_id
    metadata = {calls.CALL_ID: call_id, "contact_id": contact_id, "connect_event": event_type}
    if (_text(detail.get("initiationMethod"), 32) or "") == "INBOUND":
        metadata[calls.CALL_DIRECTION] = "inbound"
    if event_type == "CONNECTED_TO_AGENT":
        metadata.update({calls.CALL_STAGE: CallStage.DIAL.value, calls.AGENT_ANSWERED: "true"})
    elif event_type == "DISCONNECTED":
        metadata.update({calls.CALL_STAGE: CallStage.STATUS.value, calls.CALL_STATE: CallState.COMPLETED.value})
        if as_dict(detail.get("agentInfo")):
            metadata[calls.AGENT_ANSWERED] = "true"
        location = _recording_location(detail)
        if location:  # an S3 location, read through the hub's own role: never a URL to fetch
            metadata.update({calls.RECORDING_ID: location, "recording_location": location})
    else:
        return []
    try:
        occurred = _text(envelope.get("time"), 64) or utc_now()
        return [InboundEvent(provider=PROVIDER, event_id=f"{call_id}#{event_type.lower()}#{contact_id}",
                             kind=EventKind.CALL, channel=Channel.VOICE, occurred_at=occurred,
                             provider_message_id=call_id, metadata=metadata)]
    except ModelError as err:
        raise PayloadError(str(err)) from err
