"""Derived ids that stand for a person (customer ids, inbound FIFO groups) are keyed: without the
deployment's id key they cannot be matched to a phone number by enumeration."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from chalicelib.adapters.sqs import fifo_token
from chalicelib.core.ids import MIN_ID_KEY_BYTES, customer_id_for, event_reference, fifo_dedupe_id_for, fifo_group_for
from chalicelib.core.model import Channel, Identity
from chalicelib.handlers.relay import relay_outgoing

KEY = b"k" * MIN_ID_KEY_BYTES
OTHER_KEY = b"o" * MIN_ID_KEY_BYTES
PHONE = "+393331234567"
SMS = Identity(Channel.SMS, PHONE)
# A WhatsApp Cloud message id is the sender's phone in base64 (protobuf framing around it).
WAMID = "wamid.HBgMMzkzMzMxMjM0NTY3FQIAEhgUM0VCMEM3NjdEMEQxRTVBN0Y2QzIA"


def _unsalted_customer_id(identity: Identity) -> str:
    """The derivation customer ids had before they were keyed: SHA-256 of the identity, base32."""
    number = int.from_bytes(hashlib.sha256(f"customer\x1f{identity.key}".encode()).digest(), "big")
    chars = []
    for _ in range(16):
        number, index = divmod(number, 32)
        chars.append("0123456789ABCDEFGHJKMNPQRSTVWXYZ"[index])
    return "cus_" + "".join(chars).lower()


def _enumerate(target: str, derive: Any) -> list[str]:
    """What an attacker holding a customer id does: try every number of a 10,000-number block."""
    candidates = (f"+39333123{n:04d}" for n in range(10_000))
    return [phone for phone in candidates if derive(Identity(Channel.SMS, phone)) == target]


def test_the_wamid_fixture_really_embeds_the_phone() -> None:
    import base64

    assert PHONE[1:].encode() in base64.b64decode(WAMID.removeprefix("wamid."))


# ------------------------------------------------------------------ customer ids
def test_a_customer_id_is_stable_for_one_key_and_differs_across_keys() -> None:
    assert customer_id_for(SMS, KEY) == customer_id_for(Identity(Channel.SMS, PHONE), KEY)
    assert customer_id_for(SMS, KEY) != customer_id_for(SMS, OTHER_KEY)
    assert customer_id_for(SMS, KEY) != customer_id_for(Identity(Channel.WHATSAPP, PHONE), KEY)
    assert customer_id_for(SMS, KEY).startswith("cus_") and len(customer_id_for(SMS, KEY)) == 20


def test_a_customer_id_is_not_the_unsalted_sha256_of_the_identity() -> None:
    assert customer_id_for(SMS, KEY) != _unsalted_customer_id(SMS)


def test_enumerating_phone_numbers_finds_the_customer_only_with_the_key() -> None:
    target = customer_id_for(SMS, KEY)
    assert _enumerate(target, lambda identity: customer_id_for(identity, KEY)) == [PHONE]  # the attack works...
    assert _enumerate(target, lambda identity: customer_id_for(identity, OTHER_KEY)) == []  # ...only with the key
    assert _enumerate(target, _unsalted_customer_id) == []


@pytest.mark.parametrize("key", [b"", b"short", b"x" * (MIN_ID_KEY_BYTES - 1)])
def test_no_id_is_derived_with_an_empty_or_short_key(key: bytes) -> None:
    for derive in (lambda: customer_id_for(SMS, key), lambda: fifo_group_for(SMS.key, key),
                   lambda: fifo_dedupe_id_for("twilio#SM1", key)):
        with pytest.raises(ValueError, match="id key"):
            derive()


# ------------------------------------------------------------------ FIFO groups and dedupe ids
def test_the_fifo_group_keeps_one_sender_in_one_group_and_names_nobody() -> None:
    group = fifo_group_for(SMS.key, KEY)
    assert group == fifo_group_for("sms#+393331234567", KEY)
    assert group != fifo_group_for(Identity(Channel.SMS, "+393331234568").key, KEY)
    assert group != fifo_group_for(SMS.key, OTHER_KEY)
    assert "3331234567" not in group and "sms" not in group
    assert fifo_token(group) == group  # a valid FIFO token as it is: never re-hashed without the key


def _inbox_stream_record(inbox_key: str, ordering_key: str, kind: str = "message") -> dict[str, Any]:
    return {
        "eventName": "INSERT",
        "dynamodb": {"NewImage": {
            "pk": {"S": f"INBOX#{inbox_key}"}, "sk": {"S": "INBOX"},
            "kind": {"S": kind}, "ordering_key": {"S": ordering_key},
        }},
    }


def test_the_relay_gives_inbound_fifo_a_group_and_dedupe_id_that_reveal_no_phone() -> None:
    routed = relay_outgoing(_inbox_stream_record(f"meta#{WAMID}", "whatsapp#+393331234567"), lambda: KEY)
    assert routed is not None
    queue, outgoing = routed
    assert queue.logical_name == "inbound"
    for attribute in (fifo_token(outgoing.group_id), fifo_token(outgoing.dedupe_id)):
        assert "3331234567" not in attribute
        assert WAMID not in attribute and "HBgM" not in attribute
    assert outgoing.group_id == fifo_group_for("whatsapp#+393331234567", KEY)
    assert outgoing.body["inbox_key"] == f"meta#{WAMID}"  # the worker still finds the item


def test_the_relay_keeps_one_senders_events_in_one_group_whatever_the_event() -> None:
    first = relay_outgoing(_inbox_stream_record("twilio#SM1", "sms#+393331234567"), lambda: KEY)
    second = relay_outgoing(_inbox_stream_record("twilio#SM2", "sms#+393331234567"), lambda: KEY)
    other = relay_outgoing(_inbox_stream_record("twilio#SM3", "sms#+393331234568"), lambda: KEY)
    assert first and second and other
    assert first[1].group_id == second[1].group_id != other[1].group_id
    assert first[1].dedupe_id != second[1].dedupe_id


def test_the_relay_needs_no_key_for_an_outbound_job() -> None:
    def no_key() -> bytes:
        raise AssertionError("the key is not needed for outbound jobs")

    job = {"outbound_id": "out_1", "conversation_id": "cnv_1"}
    record = {"eventName": "INSERT", "dynamodb": {"NewImage": {
        "pk": {"S": "CONV#cnv_1"}, "sk": {"S": "MSG#2026-01-01T00:00:00.000Z#out_1"}, "job": {"S": json.dumps(job)}}}}
    routed = relay_outgoing(record, no_key)
    assert routed is not None and routed[1].group_id == "cnv_1"


# ------------------------------------------------------------------ what logs show of an event
def test_the_event_reference_in_logs_keeps_the_provider_and_hides_its_event_id() -> None:
    reference = event_reference(f"meta#{WAMID}")
    assert reference.startswith("meta#") and WAMID not in reference and "HBgM" not in reference
    assert reference == event_reference(f"meta#{WAMID}")
    assert reference != event_reference("meta#wamid.other")
