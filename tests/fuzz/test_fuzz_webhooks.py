"""The in-process fuzz of every webhook endpoint (issue 9's "Done when").

Forged requests (random bytes, JSON and forms with a missing, wrong, stale or replayed signature) are
refused with a 4xx of the error-code table and store nothing. Signed requests built from each
provider's real-shaped fixtures, mutated by hypothesis and signed with the test secrets exactly as
the provider signs, answer 2xx or a declared 4xx, never a 5xx; a 4xx stores nothing and a 2xx stores
only inbox items of the endpoint it called.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import TEST_SECRETS
from tests.fuzz import signers
from tests.fuzz.conftest import FuzzHub, assert_error_body, assert_no_leak, examples
from tests.fuzz.strategies import (
    email_forms,
    hostile_text,
    mutated,
    mutated_email_form,
    mutated_form,
    mutated_json_body,
    random_json,
    render,
)
from tests.fuzz.strategies import fixture_documents as _fixture_documents

API_DOCUMENTS: list[Any] = [
    {"event_id": "e0a1b2c3d4", "type": "message", "from": {"id": "alice"}, "text": "Hello"},
    {"event_id": "e0a1b2c3d5", "type": "message", "text": "Ciao",
     "from": {"id": "bob", "name": "Bob", "language": "it", "email": "bob@example.com", "phone": "+393331234567"},
     "attachments": [{"url": "https://cdn.example.com/a.png", "content_type": "image/png", "name": "a.png"}],
     "sent_at": "2026-11-22T20:08:29.123Z"},
    {"event_id": "e0a1b2c3d6", "type": "message", "from": {"id": 42}, "text": "a numeric sender id"},
]


def fixture_documents(endpoint: str) -> list[Any]:
    directory = signers.FIXTURE_DIR[endpoint]
    return API_DOCUMENTS if directory is None else _fixture_documents(directory)


def _endpoint_names() -> list[str]:
    from chalicelib.providers.registry import webhook_endpoints

    return list(webhook_endpoints())


def test_the_fuzz_covers_every_webhook_endpoint_of_the_registry() -> None:
    """A provider added to the registry without a signer here fails this test, not silently unfuzzed."""
    assert set(_endpoint_names()) == (set(signers.JSON_SIGNERS) | set(signers.FORM_ENDPOINTS)
                                      | set(signers.EMAIL_FORM_SIGNERS))


def instant_ack(endpoint: str) -> bool:
    from chalicelib.providers.registry import webhook_endpoints

    return webhook_endpoints()[endpoint].instant_ack


def check_refused_or_accepted(hub: FuzzHub, endpoint: str, response: Any, *, forged: bool) -> None:
    """The rules every answer keeps: no 5xx, a table error body for a 4xx, nothing stored when refused."""
    items, keys = stored = hub.stored()
    try:
        status = response.status_code
        body = response.body if isinstance(response.body, bytes) else str(response.body).encode()
        assert status < 500, (status, body[:300])
        assert_no_leak(body.decode("utf-8", "replace"))
        if status >= 400:
            assert_error_body(status, body)
            assert items == [] and keys == [], f"{endpoint} answered {status} but stored {len(items)} items"
        elif forged:
            pytest.fail(f"{endpoint} accepted a forged request: {status} {body[:200]!r}")
        else:
            assert 200 <= status < 300, status
            inbox = [item for item in items if item["sk"] == "INBOX"]
            references = [item for item in items if item["sk"] == "REF"]  # an instant acknowledgment's reference
            claims = [item for item in items if item["sk"] == "CLAIM"]  # a one-time token seen (Mailgun)
            assert len(inbox) + len(references) + len(claims) == len(items), items
            assert all(item["endpoint"] == endpoint for item in inbox), inbox
            assert len(references) <= (1 if instant_ack(endpoint) else 0), references
            assert len(keys) <= 1, keys  # at most the one raw payload of this request
    finally:
        hub.clear(stored)


# ------------------------------------------------------------------ forged
def _garbled(signature: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(alphabet="abcdef0123456789=v:,Bearer .", max_size=80),
        st.just(signature[:-1] + ("0" if signature[-1:] != "0" else "1")),
        st.just(signature[: len(signature) // 2]),
        st.just(signature + "0"),
        st.just("sha256=" + "0" * 64),
        st.just("Bearer e30.e30."),
        st.just("Bearer eyJhbGciOiJub25lIn0.eyJpYXQiOjB9."),
    )


def _email_form_signed(draw: st.DrawFn, endpoint: str, fields: list[tuple[str, str | bytes]],
                       **options: Any) -> signers.FuzzRequest:
    if endpoint == "sendgrid":
        return signers.sign_sendgrid(fields, via=draw(st.sampled_from(["query", "basic"])), **options)
    return signers.sign_mailgun_form(fields, multipart_form=draw(st.booleans()), **options)


@st.composite
def forged_request(draw: st.DrawFn, endpoint: str) -> signers.FuzzRequest:
    """A request whose signature does not match its body: missing, garbled, another body's (replayed),
    the wrong secret's, or stale (only where the provider signs a time)."""
    if endpoint in signers.FORM_ENDPOINTS:
        path = signers.FORM_ENDPOINTS[endpoint]
        pairs = draw(mutated_form(signers.FORM_FIXTURES[endpoint]))
        honest = signers.sign_twilio(path, pairs)
        other = signers.sign_twilio(path, [*pairs, ("Extra", "1")])
        wrong_secret = signers.sign_twilio(path, pairs, secret="not-the-token")
    elif endpoint in signers.EMAIL_FORM_SIGNERS:
        fields = draw(mutated_email_form(endpoint))
        via = draw(st.sampled_from(["query", "basic"]))
        multipart_form = draw(st.booleans())

        def sign(form: list[tuple[str, str | bytes]], **options: Any) -> signers.FuzzRequest:
            if endpoint == "sendgrid":
                return signers.sign_sendgrid(form, via=via, **options)
            return signers.sign_mailgun_form(form, multipart_form=multipart_form, **options)

        honest = sign(fields)
        other = sign([*fields, ("extra", "1")])
        wrong_secret = sign(fields, secret="not-the-secret-but-32-bytes-long!!")
    else:
        body = draw(st.one_of(mutated_json_body(signers.FIXTURE_DIR[endpoint] or "meta"),
                              st.builds(render, random_json), st.binary(max_size=200)))
        sign_json = signers.JSON_SIGNERS[endpoint]
        honest = sign_json(body)
        other = sign_json(body + b" ")
        wrong_secret = sign_json(body, secret="not-the-secret-but-32-bytes-long!!")
    signature = signers.credential(endpoint, honest)
    kind = draw(st.sampled_from(["missing", "garbled", "replayed", "wrong_secret", "stale", "empty"]))
    forged = signers.with_credential(endpoint, honest, None)
    if kind == "garbled":
        forged = signers.with_credential(endpoint, honest, draw(_garbled(signature)))
    elif kind == "replayed":
        forged = signers.with_credential(endpoint, honest, signers.credential(endpoint, other))
        if endpoint == "api":  # the timestamp goes with its signature
            forged.headers["X-Omnihub-Timestamp"] = other.headers["X-Omnihub-Timestamp"]
    elif kind == "wrong_secret":
        forged = wrong_secret
    elif kind == "empty":
        forged = signers.with_credential(endpoint, honest, "")
    elif kind == "stale":
        if endpoint == "api":
            forged = signers.sign_api(honest.body, timestamp=int(time.time()) - draw(st.integers(301, 10**9)))
        elif endpoint in signers.VONAGE_ENDPOINTS:
            # Vonage's iat is checked for age; a stale or absurd one (-10**400 is issue 9's #4) is refused.
            stale_iat = draw(st.sampled_from([int(time.time()) - 86_400 * 30, int(time.time()) + 86_400 * 30]))
            forged = signers.JSON_SIGNERS[endpoint](honest.body, issued_at=stale_iat)
        elif endpoint == "mailgun":  # rightly signed, but outside the tolerance either way
            stale = int(time.time()) + draw(st.sampled_from([-1, 1])) * draw(st.integers(301, 10**9))
            forged = signers.sign_mailgun_form(list(honest.form or ()), multipart_form=honest.multipart,
                                               timestamp=stale)
        else:  # providers that sign no time: a stale request is a replay of another body
            forged = signers.with_credential(endpoint, honest, signers.credential(endpoint, other))
    if endpoint in ("telegram", "sendgrid", "postmark", "postmark_events") and kind in ("replayed", "stale"):
        # A token or a password is the same for every body: "another body's" is any other value.
        token = draw(st.text(alphabet="abcdefXYZ_-0123456789", min_size=1, max_size=64).filter(
            lambda value: value not in (TEST_SECRETS["TELEGRAM_SECRET_TOKEN"], *signers.EMAIL_SECRETS.values())))
        forged = (signers.JSON_SIGNERS[endpoint](honest.body, secret=token) if endpoint.startswith("postmark")
                  else signers.sign_sendgrid(list(honest.form or ()), secret=token, via=via) if endpoint == "sendgrid"
                  else signers.with_credential(endpoint, honest, token))
    if endpoint in signers.VONAGE_ENDPOINTS and kind == "stale" and forged.headers == honest.headers:
        forged = signers.with_credential(endpoint, honest, None)
    return forged


@pytest.mark.parametrize("endpoint", _endpoint_names())
def test_forged_requests_are_refused_and_store_nothing(fuzz_hub: FuzzHub, endpoint: str) -> None:
    @examples(40)
    @given(request=forged_request(endpoint))
    def run(request: signers.FuzzRequest) -> None:
        response = signers.send(fuzz_hub.client, request)
        check_refused_or_accepted(fuzz_hub, endpoint, response, forged=True)
        assert 400 <= response.status_code < 500
        if endpoint in signers.FORGED_STATUS:  # the provider's "stop retrying" answer, or too large at the door
            assert response.status_code in (signers.FORGED_STATUS[endpoint], 413), response.body

    run()


def test_vonage_absurd_claims_are_401(fuzz_hub: FuzzHub) -> None:
    """Issue 9 #4: a JWT signed with the right secret but an iat/nbf/exp of any wrong type or range."""
    import hashlib

    import jwt

    body = render(fixture_documents("vonage_messages")[0])

    @examples(30)
    @given(claim=st.sampled_from(["iat", "nbf", "exp"]),
           value=st.one_of(st.sampled_from([-(10**400), 10**400, "now", None, [], {}, 1e308, -1e308, True]),
                           # past 2**53 seconds a time claim is absurd (a far but representable exp is fine)
                           st.integers(min_value=-(10**30), max_value=10**30).filter(lambda v: abs(v) > 2**53)))
    def run(claim: str, value: Any) -> None:
        claims: dict[str, Any] = {"iat": int(time.time()), "jti": "j", "iss": "Vonage",
                                  "payload_hash": hashlib.sha256(body).hexdigest()}
        claims[claim] = value
        try:
            token = jwt.api_jws.encode(json.dumps(claims).encode() if not isinstance(value, float)
                                       else json.dumps(claims, allow_nan=True).encode(),
                                       TEST_SECRETS["VONAGE_SIGNATURE_SECRET"], algorithm="HS256")
        except (OverflowError, ValueError):
            return
        request = signers.FuzzRequest("POST", "/webhooks/vonage/messages", body,
                                      {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        response = signers.send(fuzz_hub.client, request)
        check_refused_or_accepted(fuzz_hub, "vonage_messages", response, forged=True)
        assert response.status_code == 401

    run()


# ------------------------------------------------------------------ signed
@st.composite
def signed_request(draw: st.DrawFn, endpoint: str) -> signers.FuzzRequest:
    if endpoint in signers.FORM_ENDPOINTS:
        path = signers.FORM_ENDPOINTS[endpoint]
        if draw(st.integers(0, 4)) == 0:  # raw bytes: percent-escapes of invalid UTF-8, raw junk
            raw = draw(st.one_of(
                st.binary(max_size=200),
                st.builds(lambda p, junk: signers.form_body(p) + b"&Body=" + junk,
                          mutated_form(signers.FORM_FIXTURES[endpoint]),
                          st.sampled_from([b"%ED%A0%80", b"%FF%FE", b"\xed\xa0\x80", b"\xff", b"%", b"%%%", b"=&=&"])),
            ))
            return signers.sign_twilio_raw(path, raw)
        return signers.sign_twilio(path, draw(mutated_form(signers.FORM_FIXTURES[endpoint])))
    if endpoint in signers.EMAIL_FORM_SIGNERS:
        return _email_form_signed(draw, endpoint, draw(mutated_email_form(endpoint)))
    documents = fixture_documents(endpoint)
    body = draw(st.one_of(
        st.builds(lambda doc, ascii_: render(doc, ensure_ascii=ascii_), mutated(documents), st.booleans()),
        mutated_json_body(signers.FIXTURE_DIR[endpoint]) if signers.FIXTURE_DIR[endpoint] else st.nothing(),
        st.just(b""),
    ))
    if endpoint == "telegram":
        bot = draw(st.sampled_from(["support_bot", "b", "x" * 200, "%F0%9F%99%82", "bot-1"]))
        return signers.sign_telegram(body, bot=bot)
    return signers.JSON_SIGNERS[endpoint](body)


SIGNED_EXAMPLES = {"meta": 90, "line": 80, "telegram": 80, "viber": 70, "vonage_messages": 70, "api": 80,
                   "twilio_messaging": 80, "twilio_status": 60,
                   # the newer endpoints, kept small: email parsing costs more per example
                   # telephony: the call's answer reads the caller's customer on every example
                   "twilio_voice": 40, "twilio_voice_status": 30, "twilio_voice_action": 30,
                   "twilio_voice_recording": 30, "twilio_voice_transcription": 30, "vonage_voice_answer": 40,
                   "vonage_voice_event": 40,
                   "x": 60, "postmark": 40, "ses": 40, "sendgrid": 40, "mailgun": 40}


@pytest.mark.parametrize("endpoint", _endpoint_names())
def test_signed_mutated_requests_never_5xx(fuzz_hub: FuzzHub, endpoint: str) -> None:
    @examples(SIGNED_EXAMPLES.get(endpoint, 60))
    @given(request=signed_request(endpoint))
    def run(request: signers.FuzzRequest) -> None:
        response = signers.send(fuzz_hub.client, request)
        check_refused_or_accepted(fuzz_hub, endpoint, response, forged=False)

    run()


@pytest.mark.parametrize("endpoint", _endpoint_names())
def test_every_unmutated_fixture_is_accepted(fuzz_hub: FuzzHub, endpoint: str) -> None:
    """The oracle for the mutated runs: the fixtures themselves, signed, answer 2xx (the signer works)."""
    if endpoint in signers.VOICE_FORM_FIXTURES:
        from tests.fuzz.strategies import FIXTURES

        prefix = signers.VOICE_FORM_FIXTURES[endpoint]
        requests = [signers.sign_twilio(signers.FORM_ENDPOINTS[endpoint], parse_qsl(p.read_text().strip()))
                    for p in sorted((FIXTURES / "voice/twilio").glob(prefix + "*.txt"))]
    elif endpoint in signers.FORM_ENDPOINTS:
        from tests.fuzz.strategies import fixture_forms

        wanted = "status" if endpoint == "twilio_status" else "sms"
        forms = [f for f in fixture_forms("twilio") if any(n == "MessageStatus" for n, _ in f) == (wanted == "status")]
        requests = [signers.sign_twilio(signers.FORM_ENDPOINTS[endpoint], form) for form in forms]
    elif endpoint == "sendgrid":
        requests = [signers.sign_sendgrid(form, via=via)
                    for form in email_forms(endpoint) for via in ("query", "basic")]
    elif endpoint == "mailgun":
        requests = [signers.sign_mailgun_form(form, multipart_form=multipart_form)
                    for form in email_forms(endpoint) for multipart_form in (False, True)]
    else:
        requests = [signers.JSON_SIGNERS[endpoint](render(doc)) for doc in fixture_documents(endpoint)]
    assert requests
    for request in requests:
        response = signers.send(fuzz_hub.client, request)
        check_refused_or_accepted(fuzz_hub, endpoint, response, forged=False)
        assert 200 <= response.status_code < 300, (request.body[:200], response.body[:300])


# ------------------------------------------------------------------ Meta's subscription handshake
def test_meta_handshake_answers_only_the_verify_token(fuzz_hub: FuzzHub) -> None:
    @examples(60)
    @given(mode=st.sampled_from(["subscribe", "unsubscribe", "", "SUBSCRIBE"]) | hostile_text,
           token=st.sampled_from([TEST_SECRETS["META_VERIFY_TOKEN"], "wrong", ""]) | hostile_text,
           challenge=st.sampled_from(["1158201444", "", "<script>", "9" * 5000]) | hostile_text,
           drop=st.sets(st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge"])))
    def run(mode: str, token: str, challenge: str, drop: set[str]) -> None:
        params = {"hub.mode": mode, "hub.verify_token": token, "hub.challenge": challenge}
        query = urlencode({k: v.encode("utf-8", "surrogatepass") for k, v in params.items() if k not in drop})
        response = fuzz_hub.client.http.get("/webhooks/meta" + ("?" + query if query else ""))
        items, keys = fuzz_hub.stored()
        assert items == [] and keys == []
        genuine = ("hub.verify_token" not in drop and token == TEST_SECRETS["META_VERIFY_TOKEN"]
                   and "hub.mode" not in drop and mode == "subscribe")
        assert response.status_code < 500, response.body
        if response.status_code >= 400:
            assert_error_body(response.status_code, response.body)
            # A genuine handshake is refused only for a challenge Meta never sends: none, empty (Meta's is
            # always a non-empty number), non-ASCII or oversized.
            assert (not genuine or "hub.challenge" in drop or not challenge or not challenge.isascii()
                    or len(challenge) > 1000)
        else:
            assert genuine, (params, drop, response.status_code)

    run()


# ------------------------------------------------------------------ X's Challenge-Response Check
def test_x_crc_answers_the_token_signed_and_stores_nothing(fuzz_hub: FuzzHub) -> None:
    from chalicelib.providers.x import sign_x_payload

    @examples(40)
    @given(token=st.sampled_from(["9b4507b3-9040-4669-9ca3-6b94edb50553", "", "x" * 512, "x" * 513]) | hostile_text,
           drop=st.booleans())
    def run(token: str, drop: bool) -> None:
        query = "" if drop else "?" + urlencode({"crc_token": token.encode("utf-8", "surrogatepass")})
        response = fuzz_hub.client.http.get("/webhooks/x" + query)
        items, keys = fuzz_hub.stored()
        assert items == [] and keys == []
        assert response.status_code < 500, response.body
        if response.status_code >= 400:
            assert_error_body(response.status_code, response.body)
            assert drop or not token or len(token.encode("utf-8", "surrogatepass")) > 512 or not token.isprintable()
        else:
            sent = token.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
            expected = sign_x_payload(TEST_SECRETS["X_CONSUMER_SECRET"], sent.encode("utf-8"))
            assert json.loads(response.body) == {"response_token": expected}

    run()
