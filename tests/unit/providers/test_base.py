"""The shared readers of signed input in channels/base.py: PayloadError (or a fallback), nothing else."""

from __future__ import annotations

import dataclasses
import hashlib
import json

import pytest

from chalicelib.core.model import Channel, EventKind, Identity, InboundEvent, Sender
from chalicelib.providers.base import (
    AddressError,
    ChannelSpec,
    LoneSurrogates,
    PayloadError,
    WebhookRequest,
    as_dict,
    as_list,
    canonical_id,
    constant_time_equal,
    epoch_to_timestamp,
    guard_lone_surrogates,
    identity_or_error,
    json_string,
    load_json,
    unreadable_reason,
)

FALLBACK = "2026-05-28T20:26:40.000Z"


@pytest.mark.parametrize(
    ("value", "millis", "expected"),
    [
        (1_749_416_383, False, "2025-06-08T20:59:43.000Z"),
        ("1749416383", False, "2025-06-08T20:59:43.000Z"),
        (1_749_416_383.25, False, "2025-06-08T20:59:43.250Z"),
        (1_749_416_383_001, True, "2025-06-08T20:59:43.001Z"),
        ("1749416383001", True, "2025-06-08T20:59:43.001Z"),
    ],
)
def test_epoch_to_timestamp(value: object, millis: bool, expected: str) -> None:
    assert epoch_to_timestamp(value, millis=millis) == expected


@pytest.mark.parametrize(
    "value",
    [float("nan"), float("inf"), float("-inf"), 1e30, -1e30, 10**30, 10**400, "NaN", "Infinity", "1e30",
     "9" * 400, "soon", "", None, True, [], {}, 253402300800],
)
def test_epoch_to_timestamp_refuses_anything_that_is_no_time(value: object) -> None:
    with pytest.raises(PayloadError):
        epoch_to_timestamp(value)
    assert epoch_to_timestamp(value, fallback=FALLBACK) == FALLBACK


def test_identity_or_error() -> None:
    assert identity_or_error(Channel.WHATSAPP, "whatsapp:+39 333 123 4567") == Identity(Channel.WHATSAPP,
                                                                                       "+393331234567")
    for channel, address in ((Channel.TELEGRAM, " "), (Channel.SMS, "VERIFY"), (Channel.SMS, "12345")):
        with pytest.raises(AddressError) as err:
            identity_or_error(channel, address)
        assert isinstance(err.value, PayloadError) and err.value.code == "bad_request"
        assert address.strip() not in err.value.reason or not address.strip()
        assert unreadable_reason(err.value)["reason"] == "invalid_sender"
    assert unreadable_reason(PayloadError("x")) == {"reason": "invalid_event", "reason_detail": "x"}


def test_json_string_keeps_ids_exact() -> None:
    assert json_string(2**60 + 1) == str(2**60 + 1)
    assert json_string("abc") == "abc"
    for value in (None, "", True, False, 1.5, {}, []):
        assert json_string(value) is None


def test_as_dict_and_as_list() -> None:
    assert as_dict({"a": 1}) == {"a": 1} and as_dict([1]) == {} and as_dict(None) == {}
    assert as_list([1]) == [1] and as_list({"a": 1}) == [] and as_list("x") == []


def test_canonical_id_is_the_hash_the_modules_used_before() -> None:
    # Stored event ids must not change: this is the formula meta, line, viber (and vonage, without
    # the prefix) each had.
    value = {"b": [1, "è"], "a": {"y": 2, "x": None}}
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    expected = hashlib.sha256(canonical.encode()).hexdigest()
    assert canonical_id(value) == "sha256:" + expected
    assert canonical_id(value, prefix="") == expected
    assert canonical_id({"a": {"x": None, "y": 2}, "b": [1, "è"]}) == canonical_id(value)


@pytest.mark.parametrize("body", [b"[" * 100_000, b"9" * 5000, b"\xff\xfe", b"{", "{\"a\": 1"])
def test_load_json_raises_payload_error_only(body: bytes | str) -> None:
    with pytest.raises(PayloadError, match="not JSON"):
        load_json(body)


def test_load_json_keeps_floats_as_text_when_asked() -> None:
    assert load_json(b'{"lat": 51.5216317, "id": 4912661846655238145}', parse_float=str) == {
        "lat": "51.5216317", "id": 4912661846655238145}


# --- lone UTF-16 surrogates ----------------------------------------------------------------------


def message(text: str, address: str = "u-1", event_id: str = "ev-1") -> InboundEvent:
    return InboundEvent(provider="api", event_id=event_id, kind=EventKind.MESSAGE, channel=Channel.WEBCHAT,
                        occurred_at=FALLBACK, sender=Sender(Identity(Channel.WEBCHAT, address), name="Ada"),
                        text=text, metadata={"type": "text"})


def test_valid_text_passes_untouched_under_either_policy() -> None:
    event = message("ciao 😀 è")
    for policy in LoneSurrogates:
        assert guard_lone_surrogates([event], policy) == [event]


def test_refuse_raises_payload_error_wherever_the_surrogate_is() -> None:
    for event in (message("a\ud83d"), message("hi", address="u-\udc00"), message("hi", event_id="e\udfff")):
        with pytest.raises(PayloadError, match="surrogate"):
            guard_lone_surrogates([event], LoneSurrogates.REFUSE)


def test_replace_puts_u_fffd_and_says_so_in_metadata() -> None:
    [event] = guard_lone_surrogates([message("a\ud83d b", address="u-\udc00")], LoneSurrogates.REPLACE)
    assert event.text == "a\ufffd b"
    assert event.sender is not None and event.sender.identity.address == "u-\ufffd"
    assert event.metadata == {"type": "text", "sanitized": "lone_surrogates"}
    json.dumps(event.to_dict(), ensure_ascii=False).encode()  # storable: no UnicodeEncodeError


def test_replace_joins_the_two_halves_of_a_pair_sent_apart() -> None:
    # CESU-8 (raw bytes ED A0 BD ED B8 80) decodes to two surrogates: together they are one emoji.
    text = json.loads(b'"ok \xed\xa0\xbd\xed\xb8\x80"')
    assert text == "ok \ud83d\ude00"
    [event] = guard_lone_surrogates([message(text)], LoneSurrogates.REPLACE)
    assert event.text == "ok 😀"


def test_every_spec_parser_is_guarded_once_even_when_replaced() -> None:
    def parse(request: WebhookRequest) -> list[InboundEvent]:
        return [message("x\ud83d")]

    spec = ChannelSpec(provider="api", secret_names=(), verify=lambda *_: None, parse=parse)
    request = WebhookRequest(method="POST", path="/", headers={}, body=b"")
    with pytest.raises(PayloadError):
        spec.parse(request)  # REFUSE is the default
    replacing = dataclasses.replace(spec, lone_surrogates=LoneSurrogates.REPLACE)
    [event] = replacing.parse(request)
    assert event.text == "x\ufffd"
    assert replacing.parse.__name__ == "parse"


def test_a_form_value_that_is_not_utf8_becomes_surrogates_for_the_policy_to_judge() -> None:
    request = WebhookRequest(method="POST", path="/", headers={}, body=b"a=%ED%A0%BD&b=%FF&c=ok")
    assert request.form() == [("a", "\udced\udca0\udcbd"), ("b", "\udcff"), ("c", "ok")]


def test_canonical_id_and_constant_time_equal_never_raise_on_a_surrogate() -> None:
    assert canonical_id({"t": "\ud83d"}) != canonical_id({"t": "\ud83e"})
    assert constant_time_equal("abc", "ab\ud83d") is False
