"""Every sender against the provider sandbox over real HTTP: the exact request each provider gets."""

from __future__ import annotations

import json
import uuid

from chalicelib.core.model import Attachment, Channel, DeliveryStatus
from chalicelib.outbound import (
    LineSender,
    MetaSender,
    OutboundKind,
    TelegramSender,
    Template,
    TwilioSender,
    ViberSender,
    VonageSender,
    XSender,
)
from chalicelib.outbound.senders.line import line_retry_key
from devstack.sandbox import secret_fingerprint

SID = "AC00000000000000000000000000000000"


def twilio_sender(base_url: str) -> TwilioSender:
    return TwilioSender(account_sid=SID, auth_token="twilio-token", base_url=base_url,
                        public_base_url="https://hub.example.com", default_from="+15005550006",
                        default_whatsapp_from="+14155238886")


def test_twilio_sms_request(sandbox, make_job):
    result = twilio_sender(sandbox.base_url).send(make_job())
    record = sandbox.last()
    assert record["method"] == "POST"
    assert record["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert record["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert "authorization" not in record["headers"]
    assert record["auth"] == {"scheme": "basic", "user": SID, "secret_sha256": secret_fingerprint("twilio-token")}
    assert record["body"] == {
        "To": "+393331234567",
        "From": "+15005550006",
        "Body": "Thanks, we got your message. Reference ABC-123.",
        "StatusCallback": "https://hub.example.com/webhooks/twilio/status",
    }
    assert result.provider == "twilio"
    assert result.provider_message_id.startswith("SM") and len(result.provider_message_id) == 34
    assert result.status is DeliveryStatus.QUEUED


def test_twilio_whatsapp_prefixes_media_and_hinted_sender(sandbox, make_job):
    job = make_job(channel=Channel.WHATSAPP, sender_hints={"from": "+390212345678"},
                   attachments=(Attachment(kind="image", url="https://cdn.example.com/a.png"),))
    twilio_sender(sandbox.base_url).send(job)
    body = sandbox.last()["body"]
    assert body["To"] == "whatsapp:+393331234567"
    assert body["From"] == "whatsapp:+390212345678"
    assert body["MediaUrl"] == "https://cdn.example.com/a.png"
    assert body["Body"] == job.text


def test_twilio_whatsapp_template_goes_by_content_sid(sandbox, make_job):
    job = make_job(channel=Channel.WHATSAPP, template=Template(
        name="agent_reply", language="it", params=("Ciao!", "ABC-123"), content_sid="HX0123456789abcdef"))
    twilio_sender(sandbox.base_url).send(job)
    body = sandbox.last()["body"]
    assert body["ContentSid"] == "HX0123456789abcdef"
    assert json.loads(body["ContentVariables"]) == {"1": "Ciao!", "2": "ABC-123"}
    assert "Body" not in body


def test_twilio_messaging_service_when_no_from(sandbox, make_job):
    sender = TwilioSender(account_sid=SID, auth_token="t", base_url=sandbox.base_url,
                          messaging_service_sid="MG0123")
    sender.send(make_job())
    body = sandbox.last()["body"]
    assert body["MessagingServiceSid"] == "MG0123"
    assert "From" not in body and "StatusCallback" not in body


def test_whatsapp_cloud_text_request(sandbox, make_job):
    sender = MetaSender(access_token="meta-token", base_url=sandbox.base_url)
    job = make_job(channel=Channel.WHATSAPP, provider="meta", sender_hints={"phone_number_id": "106540352242922"})
    result = sender.send(job)
    record = sandbox.last()
    assert record["path"] == "/v21.0/106540352242922/messages"
    assert record["auth"] == {"scheme": "bearer", "secret_sha256": secret_fingerprint("meta-token")}
    assert record["headers"]["content-type"] == "application/json"
    assert record["body"] == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "393331234567",
        "type": "text",
        "text": {"preview_url": False, "body": job.text},
    }
    assert result.provider_message_id.startswith("wamid.")
    assert result.status is DeliveryStatus.QUEUED


def test_whatsapp_cloud_template_request(sandbox, make_job):
    sender = MetaSender(access_token="meta-token", base_url=sandbox.base_url, default_phone_number_id="555")
    job = make_job(channel=Channel.WHATSAPP, provider="meta",
                   template=Template(name="reply_after_24h", language="pt_BR", params=("Olá",)))
    sender.send(job)
    record = sandbox.last()
    assert record["path"] == "/v21.0/555/messages"
    assert record["body"]["type"] == "template"
    assert record["body"]["template"] == {
        "name": "reply_after_24h",
        "language": {"code": "pt_BR"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": "Olá"}]}],
    }


def test_messenger_response_and_human_agent_tag(sandbox, make_job):
    sender = MetaSender(access_token="page-token", base_url=sandbox.base_url)
    job = make_job(channel=Channel.MESSENGER, provider="meta", to="6543210987654321")
    result = sender.send(job)
    record = sandbox.last()
    assert record["path"] == "/v21.0/me/messages"
    assert record["body"] == {"recipient": {"id": "6543210987654321"}, "messaging_type": "RESPONSE",
                              "message": {"text": job.text}}
    assert result.provider_message_id.startswith("m_")
    assert result.status is DeliveryStatus.SENT

    sender.send(job.with_changes(kind=OutboundKind.AGENT_REPLY, messaging_tag="HUMAN_AGENT", channel=Channel.INSTAGRAM))
    body = sandbox.last()["body"]
    assert body["messaging_type"] == "MESSAGE_TAG"
    assert body["tag"] == "HUMAN_AGENT"


def test_telegram_send_message_request(sandbox, make_job):
    sender = TelegramSender(bot_token="123456:ABC-secret", base_url=sandbox.base_url)
    chat_id = "-1001234567890123"  # larger than 2^53: must stay a string
    result = sender.send(make_job(channel=Channel.TELEGRAM, provider="telegram", to=chat_id))
    record = sandbox.last()
    assert record["path"] == "/bot123456:<redacted>/sendMessage"
    assert record["auth"] == {"scheme": "bot-token", "user": "123456",
                              "secret_sha256": secret_fingerprint("123456:ABC-secret")}
    assert record["body"] == {"chat_id": chat_id, "text": make_job().text}
    assert result.provider_message_id == f"{chat_id}:{record['response']['body']['result']['message_id']}"
    assert result.status is DeliveryStatus.SENT


def test_line_reply_when_token_given(sandbox, make_job):
    sender = LineSender(channel_access_token="line-token", base_url=sandbox.base_url)
    job = make_job(channel=Channel.LINE, provider="line", to="U4af4980629" + "0" * 22, reply_token="rt-1")
    result = sender.send(job)
    record = sandbox.last()
    assert record["path"] == "/v2/bot/message/reply"
    assert record["auth"] == {"scheme": "bearer", "secret_sha256": secret_fingerprint("line-token")}
    assert "x-line-retry-key" not in record["headers"]
    assert record["body"] == {"replyToken": "rt-1", "messages": [{"type": "text", "text": job.text}]}
    assert result.provider_message_id == record["response"]["body"]["sentMessages"][0]["id"]
    assert result.details["method"] == "reply"


def test_line_push_with_retry_key_is_idempotent(sandbox, make_job):
    sender = LineSender(channel_access_token="line-token", base_url=sandbox.base_url)
    user = "U" + "a" * 32
    job = make_job(channel=Channel.LINE, provider="line", to=user,
                   attachments=(Attachment(kind="image", url="https://cdn.example.com/p.jpg"),))
    first = sender.send(job)
    record = sandbox.last()
    assert record["path"] == "/v2/bot/message/push"
    assert record["headers"]["x-line-retry-key"] == "0b7f3c1e-5d2a-4c1b-9e8f-123456789abc"
    assert record["body"] == {"to": user, "messages": [
        {"type": "text", "text": job.text},
        {"type": "image", "originalContentUrl": "https://cdn.example.com/p.jpg",
         "previewImageUrl": "https://cdn.example.com/p.jpg"},
    ]}
    again = sender.send(job)  # LINE answers 409: already accepted, nothing sent twice
    assert sandbox.last()["response"]["status"] == 409
    assert again.provider_message_id == first.provider_message_id
    assert "accepted_request_id" in again.details


def test_line_retry_key_is_a_uuid_for_any_outbound_id():
    key = line_retry_key("out-42")
    assert str(uuid.UUID(key)) == key
    assert line_retry_key("out-42") == key


def test_line_expired_reply_token_falls_back_to_push(sandbox, make_job):
    sender = LineSender(channel_access_token="line-token", base_url=sandbox.base_url)
    sandbox.fail(provider="line", preset="invalid_reply_token")
    result = sender.send(make_job(channel=Channel.LINE, provider="line", to="U" + "b" * 32, reply_token="old"))
    paths = [r["path"] for r in sandbox.outbox()]
    assert paths == ["/v2/bot/message/reply", "/v2/bot/message/push"]
    assert result.details["method"] == "push"


def test_viber_send_message_request(sandbox, make_job):
    sender = ViberSender(auth_token="viber-token", base_url=sandbox.base_url, sender_name="Acme care")
    job = make_job(channel=Channel.VIBER, provider="viber", to="01234567890A=")
    result = sender.send(job)
    record = sandbox.last()
    assert record["path"] == "/pa/send_message"
    assert "x-viber-auth-token" not in record["headers"]
    assert record["auth"] == {"scheme": "x-viber-auth-token", "secret_sha256": secret_fingerprint("viber-token")}
    assert record["body"] == {"receiver": "01234567890A=", "min_api_version": 1, "sender": {"name": "Acme care"},
                              "tracking_data": job.outbound_id, "type": "text", "text": job.text}
    token = record["response"]["body"]["message_token"]
    assert token > 2**53
    assert result.provider_message_id == str(token)  # every digit kept


def test_x_dm_request(sandbox, make_job):
    sender = XSender(bearer_token="x-user-token", base_url=sandbox.base_url)
    result = sender.send(make_job(channel=Channel.X, provider="x", to="2244994945"))
    record = sandbox.last()
    assert record["path"] == "/2/dm_conversations/with/2244994945/messages"
    assert record["auth"] == {"scheme": "bearer", "secret_sha256": secret_fingerprint("x-user-token")}
    assert record["body"] == {"text": make_job().text}
    assert result.provider_message_id == record["response"]["body"]["data"]["dm_event_id"]


def test_vonage_sms_with_basic_auth(sandbox, make_job):
    sender = VonageSender(base_url=sandbox.base_url, api_key="key1", api_secret="secret1",
                          default_from={"sms": "AcmeCare"})
    job = make_job(provider="vonage")
    result = sender.send(job)
    record = sandbox.last()
    assert record["path"] == "/v1/messages"
    assert record["auth"] == {"scheme": "basic", "user": "key1", "secret_sha256": secret_fingerprint("secret1")}
    assert record["body"] == {"channel": "sms", "to": "393331234567", "from": "AcmeCare",
                              "client_ref": job.outbound_id, "message_type": "text", "text": job.text}
    assert uuid.UUID(result.provider_message_id)
    assert result.status is DeliveryStatus.QUEUED


def test_vonage_whatsapp_template_messenger_and_viber(sandbox, make_job):
    sender = VonageSender(base_url=sandbox.base_url, api_key="k", api_secret="s")
    sender.send(make_job(provider="vonage", channel=Channel.WHATSAPP, sender_hints={"from": "+447700900000"},
                         template=Template(name="update", language="en", params=("Hi",))))
    body = sandbox.last()["body"]
    assert body["channel"] == "whatsapp" and body["from"] == "447700900000"
    assert body["message_type"] == "custom"
    assert body["custom"]["type"] == "template"
    assert body["custom"]["template"]["name"] == "update"

    sender.send(make_job(provider="vonage", channel=Channel.MESSENGER, to="psid-1", sender_hints={"from": "page-9"},
                         messaging_tag="HUMAN_AGENT", kind=OutboundKind.AGENT_REPLY))
    body = sandbox.last()["body"]
    assert body["channel"] == "messenger" and body["to"] == "psid-1" and body["from"] == "page-9"
    assert body["messenger"] == {"category": "message_tag", "tag": "HUMAN_AGENT"}

    sender.send(make_job(provider="vonage", channel=Channel.VIBER, to="+393331234567",
                         sender_hints={"from": "12345"}))
    body = sandbox.last()["body"]
    assert body["channel"] == "viber_service" and body["to"] == "393331234567"
    assert body["viber_service"] == {"category": "transaction"}


def test_vonage_jwt_auth(sandbox, make_job):
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    sender = VonageSender(base_url=sandbox.base_url, application_id="app-1", private_key=pem,
                          default_from={"sms": "Acme"})
    captured: dict[str, str] = {}
    original = sender._http.request

    def spy(*args, **kwargs):
        captured["authorization"] = kwargs["authorization"]
        return original(*args, **kwargs)

    sender._http.request = spy  # type: ignore[method-assign]
    sender.send(make_job(provider="vonage"))
    scheme, token = captured["authorization"].split(" ", 1)
    assert scheme == "Bearer"
    claims = jwt.decode(token, key.public_key(), algorithms=["RS256"])
    assert claims["application_id"] == "app-1"
    assert claims["exp"] - claims["iat"] == 900
    assert sandbox.last()["auth"]["scheme"] == "bearer"
