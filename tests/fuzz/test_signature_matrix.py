"""The negative signature matrix: every webhook endpoint of the provider registry × (missing, wrong,
replayed, stale, resent), deterministic, each case from the endpoint's first real-shaped fixture.

- missing: no signature or token at all → the provider's "stop retrying" status, nothing stored;
- wrong: signed with another secret (another key pair for SNS and SendGrid's events) → refused, nothing stored;
- replayed: a genuine request is accepted, then its signature is sent with another body → refused, nothing
  new stored (where the credential is a token that covers no body, there is nothing to replay: ``TOKENS``);
- stale: rightly signed, but the signed time is an hour old → refused, nothing stored (only where the
  provider signs a time; the others are in ``NO_SIGNED_TIME`` with the reason);
- resent: the same genuine request twice (a provider's retry) → both 2xx, the second stores nothing new.

The tables below must classify every endpoint of the registry (``test_every_endpoint_is_in_the_matrix``),
so a provider added to the registry fails here until someone decides how its signature can be forged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import pytest

from tests.fuzz import signers
from tests.fuzz.conftest import FuzzHub, assert_error_body
from tests.fuzz.strategies import FIXTURES, email_forms, fixture_forms, render
from tests.fuzz.test_fuzz_webhooks import _endpoint_names, fixture_documents

WRONG_SECRET = "not-the-secret-but-32-bytes-long!!"
STALE_BY = 3600  # seconds: far outside the generic channel's and Mailgun's tolerance (300 s)


def stale_by(endpoint: str) -> int:
    """Vonage retries for 24 h, so its tokens may be 25 h old (chalicelib/providers/vonage/signature.py)."""
    from chalicelib.providers.vonage import IAT_MAX_AGE_SECONDS

    return IAT_MAX_AGE_SECONDS + STALE_BY if endpoint in signers.VONAGE_ENDPOINTS else STALE_BY


# endpoint → the keyword its signer takes for the time it signs.
SIGNED_TIME = {"api": "timestamp", "vonage_messages": "issued_at", "vonage_voice_answer": "issued_at",
               "vonage_voice_event": "issued_at", "mailgun": "timestamp", "mailgun_events": "timestamp"}
# endpoint → why no signed time can be stale.
NO_SIGNED_TIME = {
    **{endpoint: "signs the body and URL, no time: a resent request is a duplicate (see resent)"
       for endpoint in ("meta", "line", "viber", "x", *signers.FORM_ENDPOINTS)},
    "sendgrid_events": "signs a timestamp header, but SendGrid retries for 72 h: no window; stored once per event",
    "ses": "SNS signs its Timestamp, but retries for hours: no window; stored once per MessageId",
    "telegram": "a secret token, no time", "sendgrid": "a secret token, no time",
    "postmark": "basic auth, no time", "postmark_events": "basic auth, no time",
}
# A credential that covers no body: "another body's signature" is the same token (checked by wrong/missing).
TOKENS = frozenset({"telegram", "sendgrid", "postmark", "postmark_events"})


def builder(endpoint: str) -> Callable[..., signers.FuzzRequest]:
    """``build(secret=None, other=False, **time)``: the endpoint's first fixture, signed (with ``secret``
    instead of the test's), ``other``: with a different body that parses the same way."""
    if endpoint in signers.FORM_ENDPOINTS:
        path = signers.FORM_ENDPOINTS[endpoint]
        if endpoint in signers.VOICE_FORM_FIXTURES:
            source = sorted((FIXTURES / "voice/twilio").glob(signers.VOICE_FORM_FIXTURES[endpoint] + "*.txt"))[0]
            pairs = parse_qsl(source.read_text().strip())
        else:
            status = endpoint == "twilio_status"
            pairs = next(f for f in fixture_forms("twilio") if any(n == "MessageStatus" for n, _ in f) == status)
        return lambda secret=None, other=False: signers.sign_twilio(
            path, [*pairs, *([("Extra", "1")] if other else [])], secret=secret)
    if endpoint in signers.EMAIL_FORM_SIGNERS:
        fields = email_forms(endpoint)[0]
        sign = signers.EMAIL_FORM_SIGNERS[endpoint]
        return lambda secret=None, other=False, **signed: sign([*fields, *([("extra", "1")] if other else [])],
                                                               secret=secret, **signed)
    body = render(fixture_documents(endpoint)[0])
    return lambda secret=None, other=False, **signed: signers.JSON_SIGNERS[endpoint](
        body + (b" " if other else b""), secret=secret, **signed)


def forged_status(endpoint: str) -> int:
    """The provider's "stop retrying" status, as its ChannelSpec declares it (401 unless it says otherwise)."""
    from chalicelib.providers.registry import load, webhook_endpoints

    return int(load(webhook_endpoints()[endpoint].spec).forged_status)


def assert_refused(hub: FuzzHub, endpoint: str, request: signers.FuzzRequest,
                   before: tuple[list[dict[str, Any]], list[str]] = ([], [])) -> None:
    response = signers.send(hub.client, request)
    assert response.status_code == forged_status(endpoint), (response.status_code, response.body[:300])
    assert_error_body(response.status_code, response.body)
    assert hub.stored() == before, f"{endpoint}: a refused request stored something"


def accepted(hub: FuzzHub, request: signers.FuzzRequest) -> tuple[list[dict[str, Any]], list[str]]:
    response = signers.send(hub.client, request)
    assert 200 <= response.status_code < 300, (response.status_code, response.body[:300])
    stored = hub.stored()
    assert stored[0], "a genuine request stored nothing"
    return stored


@pytest.fixture(autouse=True)
def empty_store(fuzz_hub: FuzzHub) -> Any:
    fuzz_hub.clear()
    yield
    fuzz_hub.clear()


def test_every_endpoint_is_in_the_matrix() -> None:
    endpoints = set(_endpoint_names())
    assert set(SIGNED_TIME) | set(NO_SIGNED_TIME) == endpoints
    assert not set(SIGNED_TIME) & set(NO_SIGNED_TIME)
    assert endpoints >= TOKENS


@pytest.mark.parametrize("endpoint", _endpoint_names())
def test_missing_signature(fuzz_hub: FuzzHub, endpoint: str) -> None:
    assert_refused(fuzz_hub, endpoint, signers.with_credential(endpoint, builder(endpoint)(), None))


@pytest.mark.parametrize("endpoint", _endpoint_names())
def test_wrong_secret(fuzz_hub: FuzzHub, endpoint: str) -> None:
    assert_refused(fuzz_hub, endpoint, builder(endpoint)(secret=WRONG_SECRET))


@pytest.mark.parametrize("endpoint", sorted(set(_endpoint_names()) - TOKENS))
def test_replayed_signature_on_another_body(fuzz_hub: FuzzHub, endpoint: str) -> None:
    build = builder(endpoint)
    if endpoint == "mailgun":  # the signature covers timestamp + token only: the token may be used once
        stamp, token = str(int(time.time())), "t" * 50
        genuine, replayed = (build(timestamp=int(stamp), token=token),
                             build(other=True, timestamp=int(stamp), token=token))
    else:
        genuine, other = build(), build(other=True)
        replayed = replay(endpoint, genuine, other)
    assert genuine.body != replayed.body
    before = accepted(fuzz_hub, genuine)
    assert_refused(fuzz_hub, endpoint, replayed, before)


def replay(endpoint: str, genuine: signers.FuzzRequest, other: signers.FuzzRequest) -> signers.FuzzRequest:
    """``other``'s body carrying ``genuine``'s whole credential (with the time it signed, if any)."""
    if endpoint == "mailgun_events":
        document = json.loads(other.body)
        document["signature"] = json.loads(genuine.body)["signature"]
        document["replayed"] = True  # another body (a re-serialized one would be the same bytes)
        return signers.FuzzRequest(other.method, other.path, json.dumps(document).encode(), other.headers)
    if endpoint == "ses":
        envelope = json.loads(other.body)
        envelope.update({k: v for k, v in json.loads(genuine.body).items() if k.startswith("Signature")
                         or k in ("MessageId", "Timestamp")})
        return signers.ses_request(json.dumps(envelope).encode())
    replayed = signers.with_credential(endpoint, other, signers.credential(endpoint, genuine))
    for header in ("X-Omnihub-Timestamp", "X-Twilio-Email-Event-Webhook-Timestamp"):
        if header in genuine.headers:
            replayed.headers[header] = genuine.headers[header]
    return replayed


@pytest.mark.parametrize("endpoint", sorted(SIGNED_TIME))
@pytest.mark.parametrize("direction", [-1, 1], ids=["past", "future"])
def test_stale_signature(fuzz_hub: FuzzHub, endpoint: str, direction: int) -> None:
    stale = int(time.time()) + direction * (stale_by(endpoint) if direction < 0 else STALE_BY)
    assert_refused(fuzz_hub, endpoint, builder(endpoint)(**{SIGNED_TIME[endpoint]: stale}))


@pytest.mark.parametrize("endpoint", _endpoint_names())
def test_a_resent_genuine_request_stores_nothing_new(fuzz_hub: FuzzHub, endpoint: str) -> None:
    request = builder(endpoint)()
    first = accepted(fuzz_hub, request)
    response = signers.send(fuzz_hub.client, request)
    assert 200 <= response.status_code < 300, (response.status_code, response.body[:300])
    assert fuzz_hub.stored() == first
