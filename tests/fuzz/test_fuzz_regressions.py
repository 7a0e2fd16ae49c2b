"""What the fuzz found, each minimized into a plain test (the fuzz itself keeps looking for more)."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator

import pytest

from tests.conftest import TEST_SECRETS
from tests.fuzz.conftest import FuzzHub, assert_error_body

SUPPORT = {"x-api-key": "support-key"}


@pytest.fixture(autouse=True)
def empty_store(fuzz_hub: FuzzHub) -> Iterator[None]:
    yield
    fuzz_hub.clear()


# ------------------------------------------------------------------ Vonage: a null time claim
@pytest.mark.parametrize("claim", ["nbf", "exp"])
def test_a_vonage_jwt_with_a_null_time_claim_is_refused(fuzz_hub: FuzzHub, claim: str) -> None:
    """Found by test_vonage_absurd_claims_are_401: ``"nbf": null`` (or ``"exp": null``) in a JWT signed
    with the right secret was read as "no such claim" and the request stored (200). A null is a claim of
    the wrong type: 401, nothing stored (issue 9 #4)."""
    import jwt

    body = b'{"channel":"sms","message_uuid":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","to":"447700900000",' \
           b'"from":"447700900001","timestamp":"2026-01-01T00:00:00Z","message_type":"text","text":"hi"}'
    claims = {"iat": int(time.time()), "jti": "j", "iss": "Vonage",
              "payload_hash": hashlib.sha256(body).hexdigest(), claim: None}
    token = jwt.encode(claims, TEST_SECRETS["VONAGE_SIGNATURE_SECRET"], algorithm="HS256")
    response = fuzz_hub.client.http.post("/webhooks/vonage/messages", body=body, headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert_error_body(401, response.body)
    assert fuzz_hub.stored() == ([], [])


# ------------------------------------------------------------------ cursors (the lead's fix)
def _cursor(state: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode().rstrip("=")


@pytest.mark.parametrize("state", [{"s": "x"}, {"s": None}, {"s": [1]}, {"offset": "x"}, {"s": 0, "k": "str"}])
def test_a_forged_cursor_is_400_invalid_cursor(fuzz_hub: FuzzHub, state: object) -> None:
    """``GET /conversations?cursor=eyJzIjoieCJ9`` (``{"s":"x"}``) answers 500 today (issue 9 #9)."""
    response = fuzz_hub.client.http.get(f"/conversations?cursor={_cursor(state)}", headers=SUPPORT)
    assert response.status_code == 400, response.body
    assert json.loads(response.body)["error"] == "invalid_cursor"


@pytest.mark.parametrize("cursor", ["0", "%21", "e30"])
def test_an_undecodable_cursor_says_invalid_cursor(fuzz_hub: FuzzHub, cursor: str) -> None:
    """``cursor=0`` is 400 but its code is ``bad_request``; the table has ``invalid_cursor`` for it."""
    response = fuzz_hub.client.http.get(f"/conversations?cursor={cursor}", headers=SUPPORT)
    assert response.status_code == 400
    assert json.loads(response.body)["error"] == "invalid_cursor"


# ------------------------------------------------------------------ X: the CRC's refusal body
@pytest.mark.parametrize("query", ["", "?crc_token=", "?crc_token=" + "x" * 513])
def test_an_x_crc_without_a_usable_token_is_a_table_error(fuzz_hub: FuzzHub, query: str) -> None:
    """Found by test_x_crc_answers_the_token_signed_and_stores_nothing: ``GET /webhooks/x`` without a
    crc_token answered 400 ``{"error": "crc_token is required"}``, a code outside the error table."""
    response = fuzz_hub.client.http.get("/webhooks/x" + query)
    assert response.status_code == 400
    assert_error_body(400, response.body)
    assert fuzz_hub.stored() == ([], [])


# ------------------------------------------------------------------ REST: a lone surrogate in a reply
@pytest.mark.parametrize("text", [b'"\\ud83d"', b'"a\xed\xa0\xbdb"'], ids=["escaped", "cesu"])
def test_a_reply_with_a_lone_surrogate_is_400_not_500(fuzz_hub: FuzzHub, text: bytes) -> None:
    """Found by test_hostile_bodies_are_a_declared_4xx_and_store_nothing: ``{"text": "\\ud83d"}`` reached
    the reply's fingerprint (``json.dumps(...).encode()``) and answered 500. json.loads accepts a lone
    surrogate, escaped or as raw CESU-8 bytes; no store takes it: every REST body with one is refused."""
    conversation_id = "cnv_0000000000000000"  # the body is judged before the conversation is looked up
    before = fuzz_hub.table_items()
    response = fuzz_hub.client.http.post(f"/conversations/{conversation_id}/messages", body=b'{"text":' + text + b"}",
                                         headers={**SUPPORT, "Content-Type": "application/json"})
    assert response.status_code == 400, response.body
    assert_error_body(400, response.body)
    assert fuzz_hub.table_items() == before


# ------------------------------------------------------------------ Amazon Connect contact events
def _contact_event(**detail: object) -> dict[str, object]:
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "fixtures" / "voice" / "connect_contact_disconnected.json"
    event = json.loads(path.read_text())
    event["detail"].update(detail)
    return dict(event)


def test_a_contact_event_with_a_lone_surrogate_in_an_id_is_stored_not_retried_forever(fuzz_hub: FuzzHub) -> None:
    """Found by test_fuzz_connect: ``"contactId": "\\ud83d"`` reached the table's key, which refuses it
    (UnicodeEncodeError here, a ValidationException on AWS), so the handler raised on every one of
    EventBridge's retries. An id is valid Unicode at the door (the surrogate becomes U+FFFD)."""
    answer = fuzz_hub.app_module.connect_contact_events(_contact_event(contactId="\ud83d"), None)
    assert answer == {"stored": 1}
    [item] = [item for item in fuzz_hub.table_items() if item["sk"] == "INBOX"]
    assert "\ufffd" in json.loads(item["event"])["metadata"]["contact_id"]


def test_a_contact_event_larger_than_eventbridge_sends_is_ignored_not_raised(fuzz_hub: FuzzHub) -> None:
    """Found by test_fuzz_connect: a contact event of megabytes (a field 3.5 million characters long) was
    put whole as the inbox item's raw payload, DynamoDB refused it (PayloadTooLarge) and the handler
    raised, again on every retry. EventBridge delivers at most 256 KB: anything larger is not one."""
    answer = fuzz_hub.app_module.connect_contact_events(_contact_event(contactId="ab" * 1_750_000), None)
    assert answer == {"stored": 0}
    assert fuzz_hub.stored() == ([], [])
