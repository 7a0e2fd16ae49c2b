"""The shared readers of signed input in channels/base.py: PayloadError (or a fallback), nothing else."""

from __future__ import annotations

import hashlib
import json

import pytest

from chalicelib.core.model import Channel, Identity
from chalicelib.providers.base import (
    AddressError,
    PayloadError,
    as_dict,
    as_list,
    canonical_id,
    epoch_to_timestamp,
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
