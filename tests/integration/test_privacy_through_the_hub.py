"""A customer's export and erasure through the real routes on moto: traffic on SMS, WhatsApp, web chat and
email (an SES mail object with a PDF attachment), then ``GET /customers/{id}/export`` and
``DELETE /customers/{id}``, and a scan of the whole table and bucket for anything personal left."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from argparse import Namespace
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest

from devstack.cli import SIMULATORS
from tests.conftest import TEST_SECRETS, Hub, load_schema

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "email"
ADMIN = {"x-api-key": "admin-key"}
PHONE = "+393471112233"
SMS_TEXT = "Il mio ordine 5521 non e arrivato"
WHATSAPP_TEXT = "Potete richiamarmi domani mattina?"
WEBCHAT_TEXT = "I changed my address to Via Roma 12"
MAIL_TEXT = "the attached invoice charges"
# Everything that names Giulia (SMS, WhatsApp, web chat) or Mario (email), as it may be stored.
PERSONAL = ("393471112233", "Giulia Verdi", "giulia.verdi@example.org", "giulia-web-7", SMS_TEXT, WHATSAPP_TEXT,
            WEBCHAT_TEXT, "mario.rossi@gmail.com", "Mario Rossi", MAIL_TEXT, "invoice-2024-118.pdf")
CONTROL = ("393479998877", "Paolo wrote this")


@pytest.fixture(autouse=True)
def inbound_only(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    # Acknowledgments stay queued as outbound messages (stored, so erased too); no provider is called.
    hub.pump._handlers = {k: v for k, v in hub.pump._handlers.items() if k != "handle_outbound"}
    monkeypatch.setenv("OMNIHUB_URL", "https://hub.example.com")


def _twilio(kind: str, sender: str, text: str, name: str | None = None) -> Any:
    builder, _ = SIMULATORS[kind]
    return builder(Namespace(sender=sender, text=text, name=name, language="it", event_id=None, option=None),
                   dict(TEST_SECRETS))


def _twilio_status(hub: Hub, sid: str) -> None:
    from urllib.parse import urlencode

    from chalicelib.providers.twilio import sign_twilio_request

    params = [("MessageSid", sid), ("MessageStatus", "delivered"), ("AccountSid", TEST_SECRETS["TWILIO_ACCOUNT_SID"]),
              ("To", PHONE), ("From", "+15005550006")]
    signature = sign_twilio_request(TEST_SECRETS["TWILIO_AUTH_TOKEN"], "https://hub.example.com/webhooks/twilio/status",
                                    params)
    response = hub.client.http.post("/webhooks/twilio/status", body=urlencode(params).encode(), headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature})
    assert response.status_code == 200, response.body


def _post(hub: Hub, request: Any) -> Any:
    response = hub.client.http.post(request.path, body=request.body, headers=request.headers)
    assert 200 <= response.status_code < 300, response.body
    return response


def _webchat(hub: Hub) -> Any:
    body = json.dumps({"event_id": "web-evt-1", "type": "message", "text": WEBCHAT_TEXT,
                       "from": {"id": "giulia-web-7", "name": "Giulia Verdi", "email": "giulia.verdi@example.org",
                                "phone": PHONE}}).encode()
    timestamp = str(int(time.time()))
    signature = hmac.new(TEST_SECRETS["OMNIHUB_API_SIGNING_SECRET"].encode(), f"{timestamp}.".encode() + body,
                         hashlib.sha256).hexdigest()
    return hub.client.http.post("/webhooks/api", body=body, headers={
        "Content-Type": "application/json", "X-Omnihub-Timestamp": timestamp, "X-Omnihub-Signature": f"v1={signature}"})


def _bucket() -> str:
    from chalicelib.adapters import runtime

    return runtime.settings().bucket_name


def _objects(hub: Hub) -> dict[str, bytes]:
    s3 = hub.session.client("s3")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=_bucket()).get("Contents", [])]
    return {key: s3.get_object(Bucket=_bucket(), Key=key)["Body"].read() for key in keys}


def _customer_of(hub: Hub, channel: str, address: str) -> str | None:
    response = hub.client.http.get(f"/customers/lookup?channel={channel}&address={address}",
                                   headers={"x-api-key": "support-key"})
    return json.loads(response.body)["id"] if response.status_code == 200 else None


@pytest.fixture
def traffic(hub: Hub) -> dict[str, Any]:
    """Giulia writes by SMS, WhatsApp and web chat; Mario mails an invoice (SES → the bucket); Paolo
    writes by SMS and must be left alone."""
    sms = _twilio("twilio-sms", PHONE, SMS_TEXT)
    _post(hub, sms)
    _twilio_status(hub, parse_qs(sms.body.decode())["MessageSid"][0])  # names the message and the phone only
    _post(hub, _twilio("twilio-whatsapp", PHONE, WHATSAPP_TEXT, name="Giulia Verdi"))
    assert _webchat(hub).status_code == 200
    _post(hub, _twilio("twilio-sms", "+393479998877", "Paolo wrote this"))
    from chalicelib.adapters.resources import MAIL_OBJECTS_PREFIX

    raw_mail = (FIXTURES / "multipart_pdf.eml").read_bytes()
    hub.session.client("s3").put_object(Bucket=_bucket(), Key=f"{MAIL_OBJECTS_PREFIX}mario-1", Body=raw_mail)
    hub.pump.drain()
    giulia = {c for c in (_customer_of(hub, "sms", PHONE), _customer_of(hub, "whatsapp", PHONE),
                          _customer_of(hub, "webchat", "giulia-web-7")) if c}
    mario = _customer_of(hub, "email", "mario.rossi@gmail.com")
    assert giulia and mario
    return {"giulia": sorted(giulia), "mario": mario, "sms": sms}


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every record the hub logs during the test, with its extra fields, as JSON text."""
    import logging

    from chalicelib.adapters.observability import logger

    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            fields = {k: v for k, v in record.__dict__.items() if k not in ("exc_info", "args", "msg")}
            lines.append(json.dumps({"message": record.getMessage(), **fields}, default=str, ensure_ascii=False))

    keep = Keep()
    logger.addHandler(keep)
    yield lines
    logger.removeHandler(keep)


def _export(hub: Hub, customer_id: str) -> dict[str, Any]:
    response = hub.client.http.get(f"/customers/{customer_id}/export", headers=ADMIN)
    assert response.status_code == 200, response.body
    return dict(json.loads(response.body))


def test_the_export_holds_everything_about_the_customer_and_nothing_else(hub: Hub, traffic: dict[str, Any]) -> None:
    documents = [_export(hub, customer_id) for customer_id in traffic["giulia"]]
    text = json.dumps(documents, ensure_ascii=False)
    for expected in (SMS_TEXT, WHATSAPP_TEXT, WEBCHAT_TEXT, PHONE, "giulia.verdi@example.org"):
        assert expected in text
    assert "Paolo" not in text and "Mario" not in text
    assert all(d["complete"] and d["schema"] == "omnihub.customer_export.v1" for d in documents)
    channels = {m["channel"] for d in documents for c in d["conversations"] for m in c["messages"]}
    assert {"sms", "whatsapp", "webchat"} <= channels
    raw = [p for d in documents for p in d["raw_payloads"]]
    assert any(SMS_TEXT.replace(" ", "+") in p.get("raw_text", "") for p in raw)  # the form Twilio posted
    assert any(m["direction"] == "outbound" for d in documents for c in d["conversations"] for m in c["messages"])

    mail = _export(hub, traffic["mario"])
    [conversation] = mail["conversations"]
    [message] = [m for m in conversation["messages"] if m["direction"] == "inbound"]
    [attachment] = message["attachments"]
    link = urlsplit(attachment["url"])
    assert parse_qs(link.query)["X-Amz-Expires"] == ["3600"] and attachment["name"] == "invoice-2024-118.pdf"
    [payload] = mail["raw_payloads"]
    assert "raw_text" not in payload and urlsplit(payload["raw_url"]).path.endswith("inbound-mail/mario-1")
    assert MAIL_TEXT in payload["event"]["text"]


def test_erasure_reaches_every_copy_and_a_redelivery_is_not_ingested_again(hub: Hub, traffic: dict[str, Any],
                                                                           log_lines: list[str]) -> None:
    from chalicelib.adapters.id_keys import id_key
    from chalicelib.handlers.relay import relay_outgoing

    seen: list[dict[str, Any]] = []
    relay = hub.pump._handlers["relay_inbox_stream"]

    def spy(event: dict[str, Any], context: Any) -> Any:
        seen.extend(event["Records"])
        return relay(event, context)

    hub.pump._handlers = {**hub.pump._handlers, "relay_inbox_stream": spy}
    hub.receive_all("conversation-events")
    log_lines.clear()  # from here on: the erasure, the redelivery, the second DELETE
    held = json.dumps(hub.table_items(), default=str, ensure_ascii=False).lower() + " ".join(
        key.lower() + body.decode("utf-8", "replace").lower() for key, body in _objects(hub).items())
    assert [p for p in PERSONAL if p.lower() not in held] == []  # the scan below looks for what was there
    erased = [*traffic["giulia"], traffic["mario"]]
    answers = []
    for customer_id in erased:
        response = hub.client.http.delete(f"/customers/{customer_id}", headers=ADMIN)
        assert response.status_code == 200, response.body
        answers.append(json.loads(response.body))
    hub.pump.drain()

    # The relay saw the erasure's MODIFY and REMOVE records and turned none of them into work.
    assert {r["eventName"] for r in seen} >= {"MODIFY", "REMOVE"}
    assert [r for r in seen if relay_outgoing(r, id_key) is not None] == []
    events = hub.receive_all("conversation-events")
    assert sorted(e["customer"]["id"] for e in events) == sorted(erased)
    for event in events:
        jsonschema.validate(event, load_schema("omnihub.event.v1"))
        assert event["type"] == "customer_erased" and event["customer"]["name"] is None

    # Nothing personal is left anywhere: every item of the table, every object of the bucket (key and bytes).
    items = json.dumps(hub.table_items(), default=str, ensure_ascii=False).lower()
    objects = _objects(hub)
    blobs = [key.lower() + body.decode("utf-8", "replace").lower() for key, body in objects.items()]
    for personal in PERSONAL:
        assert personal.lower() not in items, personal
        assert not [b for b in blobs if personal.lower() in b], personal
    for kept in CONTROL:
        assert kept.lower() in items  # Paolo is untouched
    assert not [key for key in objects if key.startswith(("attachments/", "inbound-mail/"))]
    audits = [i for i in hub.table_items() if i["sk"] == "ERASURE"]
    assert len(audits) == len(erased) and {a["requested_by"] for a in audits} == {"ops"}
    assert all(a["counts"]["messages"] >= 1 for a in audits)
    mario_counts = answers[-1]["counts"]
    assert (mario_counts["attachments"], mario_counts["raw_objects"]) == (1, 1)

    # Twilio redelivers Giulia's SMS: answered as a duplicate, nothing stored, nobody recreated.
    before = hub.table_items()
    _post(hub, traffic["sms"])
    hub.pump.drain()
    assert hub.table_items() == before and _customer_of(hub, "sms", PHONE) is None

    # A second DELETE answers the same and does nothing new (no event, no write).
    again = hub.client.http.delete(f"/customers/{erased[0]}", headers=ADMIN)
    assert again.status_code == 200 and json.loads(again.body) == answers[0]
    hub.pump.drain()
    assert hub.table_items() == before and hub.receive_all("conversation-events") == []
    assert hub.client.http.get(f"/customers/{erased[0]}/export", headers=ADMIN).status_code == 404
    # The erasure's log lines (its audit among them) and the redelivery's name nobody.
    logged = "\n".join(log_lines).lower()
    assert logged.count('"message": "customer erased"') == len(erased)
    assert [p for p in PERSONAL if p.lower() in logged] == []


@pytest.mark.parametrize(("method", "suffix"), [("get", "/export"), ("delete", "")])
@pytest.mark.parametrize(("headers", "status"), [({}, 401), ({"x-api-key": "nope"}, 401),
                                                  ({"x-api-key": "support-key"}, 403),
                                                  ({"x-api-key": "crisis-key"}, 403)])
def test_only_an_admin_key_reaches_the_privacy_routes(hub: Hub, traffic: dict[str, Any], method: str, suffix: str,
                                                      headers: dict[str, str], status: int) -> None:
    before = hub.table_items()
    response = getattr(hub.client.http, method)(f"/customers/{traffic['mario']}{suffix}", headers=headers)
    assert response.status_code == status
    assert set(json.loads(response.body)) == {"error", "reason"} and "Mario" not in response.body.decode()
    assert hub.table_items() == before


def test_an_unknown_or_absurd_customer_id_is_refused_without_a_write(hub: Hub) -> None:
    assert hub.client.http.delete("/customers/cus_nobody", headers=ADMIN).status_code == 404
    assert hub.client.http.get("/customers/cus_nobody/export", headers=ADMIN).status_code == 404
    assert hub.client.http.delete(f"/customers/{'x' * 3000}", headers=ADMIN).status_code == 400
    assert hub.table_items() == []
