"""Email attachments kept: the webhook stores the request, the worker saves each attachment's bytes to the
media store under its own key, the message carries name, type, size and SHA-256, and the conversation
shows a short-lived link. A refused request stores nothing, anywhere."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from typing import Any

import pytest

from chalicelib.adapters.memory import MemoryMediaStore, MemoryPayloadArchive, MemoryStore, memory_repositories
from chalicelib.api.queries import ATTACHMENT_LINK_SECONDS, conversation_detail
from chalicelib.conversations.threading import thread_message
from chalicelib.core.ports import Repositories
from chalicelib.email import attachment_object_key
from chalicelib.ingest.webhook import ingest_webhook
from chalicelib.providers import WebhookRequest
from chalicelib.providers.postmark import basic_auth_header
from tests.unit.conftest import test_id_key as KEY
from tests.unit.email.payloads import RECEIVED_AT, StaticSecrets, eml, fixture_json, form_data, provider_form

SECRETS = {"SENDGRID_INBOUND_TOKEN": "sg-token", "POSTMARK_INBOUND_USER": "pm", "POSTMARK_INBOUND_PASSWORD": "pw"}
PDF = eml("invoice-2024-118.pdf")
NOW = 1_717_402_355.0


@pytest.fixture
def media() -> MemoryMediaStore:
    return MemoryMediaStore()


@pytest.fixture
def repos(media: MemoryMediaStore) -> Repositories:
    return memory_repositories(MemoryStore(), payloads=MemoryPayloadArchive(), media=media)


def sendgrid_raw(raw: bytes, token: str = SECRETS["SENDGRID_INBOUND_TOKEN"]) -> WebhookRequest:
    content_type, body = form_data([("envelope", '{"to":["support@omnihub.example"]}'), ("email", raw)])
    return WebhookRequest(method="POST", path="/webhooks/email/sendgrid", headers={"content-type": content_type},
                          body=body, query={"token": token}, received_at=RECEIVED_AT)


def deliver(repos: Repositories, endpoint: str, request: WebhookRequest) -> Any:
    result = ingest_webhook(endpoint, request, inbox=repos.inbox, secrets=StaticSecrets(SECRETS), now=NOW)
    assert result.response.status == 200, result.response.body
    [event] = [e for e in result.new_events if e.kind.value == "message"]
    record = repos.inbox.get(event.inbox_key)
    assert record is not None
    return thread_message(repos, record, id_key=KEY)


def test_a_pdf_attachment_is_kept_under_its_own_key_and_shown_with_a_short_lived_link(
        repos: Repositories, media: MemoryMediaStore) -> None:
    threaded = deliver(repos, "sendgrid", sendgrid_raw(eml("multipart_pdf.eml")))
    [attachment] = threaded.message.attachments
    digest = hashlib.sha256(PDF).hexdigest()
    key = attachment_object_key(threaded.event.event_id, digest)
    assert media.objects[key] == (PDF, "application/pdf")
    assert (attachment.name, attachment.content_type, attachment.size, attachment.media_id) == (
        "invoice-2024-118.pdf", "application/pdf", len(PDF), f"sha256:{digest}")
    assert attachment.url == f"memory://payloads/{key}"
    [message] = conversation_detail(repos, threaded.conversation.id)["messages"]
    [shown] = message["attachments"]
    assert shown["url"] == f"memory://payloads/{key}?expires_in={ATTACHMENT_LINK_SECONDS}"
    assert shown["sha256"] == digest and shown["name"] == "invoice-2024-118.pdf" and "url_expires_at" in shown


def test_inline_images_are_kept_apart_from_attachments(repos: Repositories, media: MemoryMediaStore) -> None:
    threaded = deliver(repos, "sendgrid", sendgrid_raw(eml("inline_image.eml")))
    kinds = {a.kind for a in threaded.message.attachments}
    assert "inline_image" in kinds
    shown = conversation_detail(repos, threaded.conversation.id)["messages"][0]["attachments"]
    inline = [a for a in shown if a["kind"] == "inline_image"]
    assert inline and all(a.get("inline") is True for a in inline)
    assert len(media.objects) == len(threaded.message.attachments)


def test_sendgrid_parsed_mode_files_are_kept(repos: Repositories, media: MemoryMediaStore) -> None:
    fields, files = provider_form("sendgrid_parsed.json")
    content_type, body = form_data(fields, files)
    request = WebhookRequest(method="POST", path="/webhooks/email/sendgrid", headers={"content-type": content_type},
                             body=body, query={"token": "sg-token"}, received_at=RECEIVED_AT)
    threaded = deliver(repos, "sendgrid", request)
    [attachment] = threaded.message.attachments
    assert attachment.url is not None and [b for b, _ in media.objects.values()] == [PDF]


def test_postmark_base64_attachments_are_kept(repos: Repositories, media: MemoryMediaStore) -> None:
    headers = {"content-type": "application/json", "authorization": basic_auth_header("pm", "pw")}
    request = WebhookRequest(method="POST", path="/webhooks/email/postmark", headers=headers,
                             body=json.dumps(fixture_json("postmark_inbound.json")).encode(), received_at=RECEIVED_AT)
    threaded = deliver(repos, "postmark", request)
    assert threaded.message.attachments and all(a.url for a in threaded.message.attachments)
    assert len(media.objects) == len(threaded.message.attachments)


def test_a_forged_request_stores_nothing_anywhere(repos: Repositories, media: MemoryMediaStore) -> None:
    result = ingest_webhook("sendgrid", sendgrid_raw(eml("multipart_pdf.eml"), token="guess"), inbox=repos.inbox,
                            secrets=StaticSecrets(SECRETS), now=NOW)
    assert result.response.status == 403 and result.new_events == ()
    assert media.objects == {}


def test_a_redelivered_message_rewrites_the_same_object(repos: Repositories, media: MemoryMediaStore) -> None:
    first = deliver(repos, "sendgrid", sendgrid_raw(eml("multipart_pdf.eml")))
    record = repos.inbox.get(first.event.inbox_key)
    assert record is not None
    again = thread_message(repos, record, id_key=KEY)
    assert again.message == first.message and len(media.objects) == 1


def test_an_unreadable_payload_keeps_the_metadata(media: MemoryMediaStore) -> None:
    store = MemoryStore()
    repos = memory_repositories(store, payloads=MemoryPayloadArchive(), media=media)
    result = ingest_webhook("sendgrid", sendgrid_raw(eml("multipart_pdf.eml")), inbox=repos.inbox,
                            secrets=StaticSecrets(SECRETS), now=NOW)
    [event] = result.new_events
    store.inbox[event.inbox_key] = replace(store.inbox[event.inbox_key], raw=b"not the form that was posted")
    record = repos.inbox.get(event.inbox_key)
    assert record is not None
    threaded = thread_message(repos, record, id_key=KEY)
    [attachment] = threaded.message.attachments
    assert attachment.url is None and attachment.name == "invoice-2024-118.pdf" and media.objects == {}
