"""Mailgun routes: HMAC-SHA256 over timestamp+token, stale and replayed tokens, parsed and raw MIME forms."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac

from chalicelib.providers.base import SignatureError, WebhookRequest
from chalicelib.providers.mailgun import (
    CHANNEL,
    TOLERANCE_SECONDS,
    StaleSignatureError,
    mailgun_replay_claim,
    parse_mailgun_events,
    sign_mailgun,
    verify_mailgun_signature,
)
from tests.unit.email.payloads import RECEIVED_AT, MemoryInbox, eml, form_data, ingest, provider_form

KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
SECRETS = {"MAILGUN_SIGNING_KEY": KEY}
NOW = 1_717_402_355
TOKEN = "8f5c2b7e1d9a4c3b6e0f2a8d7c5b4e3f1a2b3c4d5e6f7a8b9c"  # 50 characters, as Mailgun's
MESSAGE_ID = "CAH7yN8sQ1Z4vGx=P0kX9q3dLr2m+Fw@mail.gmail.com"


def oracle_signature(key: str, timestamp: str, token: str) -> str:
    """An independent HMAC-SHA256 (the cryptography package's), as Mailgun's docs describe it."""
    mac = crypto_hmac.HMAC(key.encode(), hashes.SHA256())
    mac.update((timestamp + token).encode())
    return mac.finalize().hex()


def signed_fields(timestamp: int = NOW, token: str = TOKEN, key: str = KEY) -> list[tuple[str, str | bytes]]:
    return [("timestamp", str(timestamp)), ("token", token), ("signature", oracle_signature(key, str(timestamp),
                                                                                            token))]


def request(content_type: str, body: bytes) -> WebhookRequest:
    return WebhookRequest(method="POST", path="/webhooks/email/mailgun", headers={"content-type": content_type},
                          body=body, received_at=RECEIVED_AT)


def parsed_request(**kwargs: int | str) -> WebhookRequest:
    fields, files = provider_form("mailgun_parsed.json")
    return request(*form_data(fields + signed_fields(**kwargs), files))  # type: ignore[arg-type]


def raw_request(raw: bytes) -> WebhookRequest:
    fields: list[tuple[str, str | bytes]] = [
        ("recipient", "support@omnihub.example"), ("sender", "mario.rossi@gmail.com"),
        ("from", "Mario Rossi <Mario.Rossi@gmail.com>"), ("subject", "Invoice 2024-118 is wrong"),
        ("body-mime", raw)]
    return request(*form_data(fields + signed_fields()))


def test_our_signature_matches_an_independent_hmac() -> None:
    assert sign_mailgun(KEY, "1717402355", TOKEN) == oracle_signature(KEY, "1717402355", TOKEN)
    assert len(sign_mailgun(KEY, "1", "t")) == 64


def test_signed_multipart_and_urlencoded_forms_are_accepted() -> None:
    verify_mailgun_signature(parsed_request(), SECRETS, NOW)
    from urllib.parse import urlencode

    body = urlencode([("recipient", "support@omnihub.example"), ("body-plain", "hi"),
                      *signed_fields()]).encode()
    verify_mailgun_signature(request("application/x-www-form-urlencoded", body), SECRETS, NOW)


@pytest.mark.parametrize("tamper", ["key", "token", "timestamp", "missing", "malformed"])
def test_forged_signatures_are_refused(tamper: str) -> None:
    fields, files = provider_form("mailgun_parsed.json")
    signature_fields = signed_fields(key="key-wrong") if tamper == "key" else signed_fields()
    if tamper == "token":
        signature_fields[1] = ("token", TOKEN[:-1] + "x")
    if tamper == "timestamp":
        signature_fields[0] = ("timestamp", str(NOW + 1))
    if tamper == "missing":
        signature_fields = signature_fields[:2]
    if tamper == "malformed":
        signature_fields[0] = ("timestamp", "1e9")
    with pytest.raises(SignatureError):
        verify_mailgun_signature(request(*form_data(fields + signature_fields, files)), SECRETS, NOW)


def test_forged_is_406_and_stores_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryInbox()
    fields, files = provider_form("mailgun_parsed.json")
    forged = request(*form_data(fields + signed_fields(key="key-wrong"), files))
    result = ingest(monkeypatch, CHANNEL, forged, secrets=SECRETS, store=store, now=NOW)
    assert result.response.status == 406 and store.items == {}


@pytest.mark.parametrize("offset", [TOLERANCE_SECONDS + 1, -(TOLERANCE_SECONDS + 1), 86_400])
def test_stale_timestamps_are_refused_with_the_claim(offset: int, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = parsed_request(timestamp=NOW - offset)
    with pytest.raises(StaleSignatureError) as raised:
        verify_mailgun_signature(stale, SECRETS, NOW)
    assert raised.value.claim == mailgun_replay_claim(stale)
    store = MemoryInbox()
    assert ingest(monkeypatch, CHANNEL, stale, secrets=SECRETS, store=store, now=NOW).response.status == 406
    assert store.items == {}


def test_replay_claim_tells_a_retry_from_a_replay() -> None:
    original = parsed_request()
    retry = replace(original)
    fields, files = provider_form("mailgun_parsed.json", subject="Please refund everything")
    replayed = request(*form_data(fields + signed_fields(), files))  # the captured signature, another body
    verify_mailgun_signature(replayed, SECRETS, NOW)  # the signature alone cannot tell: the claim must
    claim, retried, replay = (mailgun_replay_claim(r) for r in (original, retry, replayed))
    assert claim == retried
    assert replay.key == claim.key and replay.fingerprint != claim.fingerprint
    assert claim.key.startswith("mailgun#token#") and TOKEN not in claim.key
    assert claim.expires_at == NOW + 2 * TOLERANCE_SECONDS


def test_parsed_route_post_with_attachment(monkeypatch: pytest.MonkeyPatch) -> None:
    store = MemoryInbox()
    result = ingest(monkeypatch, CHANNEL, parsed_request(), secrets=SECRETS, store=store, now=NOW)
    assert result.response.status == 200
    [event] = result.new_events
    assert event.provider == "mailgun" and event.event_id == MESSAGE_ID
    assert event.sender is not None and event.sender.identity.address == "mario.rossi@gmail.com"
    assert event.text is not None and event.text.startswith("Hello,\n\nthe attached invoice charges 118,00 €")
    assert event.metadata["mailbox"] == "support@omnihub.example"
    assert [a.name for a in event.attachments] == ["invoice-2024-118.pdf"]


def test_raw_mime_route_is_the_same_event_id() -> None:
    [raw_event] = parse_mailgun_events(raw_request(eml("multipart_pdf.eml")))
    [parsed_event] = parse_mailgun_events(parsed_request())
    assert raw_event.event_id == parsed_event.event_id == MESSAGE_ID
    assert raw_event.attachments == parsed_event.attachments


def test_html_only_mail_is_rendered_by_the_hub_not_by_mailgun() -> None:
    fields = [("recipient", "billing@omnihub.example"), ("sender", "lucia@shop.example"),
              ("message-headers", '[["From", "Lucia <lucia@shop.example>"], ["Content-Type", "text/html"],'
                                  ' ["Message-Id", "<h1@shop.example>"]]'),
              ("body-plain", "Mailgun's own rendering"), ("body-html", "<p>Ciao</p><ul><li>uno</li></ul>")]
    [event] = parse_mailgun_events(request(*form_data(fields + signed_fields())))
    assert event.text == "Ciao\n\n- uno"
    assert event.metadata["body_source"] == "html"


def test_a_token_seen_before_with_another_body_is_refused_406_and_stores_nothing() -> None:
    from chalicelib.adapters.memory import MemoryStore, memory_repositories
    from chalicelib.ingest.webhook import ingest_webhook
    from tests.unit.email.payloads import StaticSecrets

    store = MemoryStore()
    repos = memory_repositories(store)
    original = parsed_request()
    fields, files = provider_form("mailgun_parsed.json", subject="Please refund everything",
                                  **{"Message-Id": "<replayed-1@evil.example>"})
    replayed = request(*form_data(fields + signed_fields(), files))  # the captured signature block, another mail

    def deliver(webhook: WebhookRequest, at: float = NOW) -> int:
        return ingest_webhook("mailgun", webhook, inbox=repos.inbox, secrets=StaticSecrets(SECRETS), now=at,
                              claims=repos.claims).response.status

    assert deliver(original) == 200
    assert deliver(replace(original), NOW + 30) == 200  # Mailgun retrying: the same token and body
    assert len(store.inbox) == 1
    assert deliver(replayed, NOW + 60) == 406
    assert len(store.inbox) == 1 and "replayed-1@evil.example" not in "".join(store.inbox)
