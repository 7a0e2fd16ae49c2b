"""Nothing that leaves the table names a customer: routed envelopes, the inbound queue's FIFO
attributes and log lines carry keyed ids, and the id key fails closed when it is missing."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import TEST_SECRETS, TEST_STAGE, Hub

SMS_PHONE = "+393331234567"
WA_PHONE = "+393339876543"
# A realistic WhatsApp Cloud message id: the sender's phone in base64 (WA_PHONE's digits).
WAMID = "wamid.HBgMMzkzMzM5ODc2NTQzFQIAEhgUM0VCMEM3NjdEMEQxRTVBN0Y2QzIA"
SUPPORT = {"x-api-key": "support-key"}


def _revealing(text: str) -> list[str]:
    """What in ``text`` names one of the two customers (their numbers in any form, the wamid)."""
    needles = [SMS_PHONE[1:], WA_PHONE[1:], SMS_PHONE[-10:], WA_PHONE[-10:], WAMID, WAMID[6:30]]
    return [needle for needle in needles if needle in text]


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """Every log line the hub writes, formatted as on Lambda (Powertools JSON with its appended keys)."""
    from chalicelib.adapters.observability import logger

    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(logger.registered_formatter.format(record))

    handler = Keep(level=logging.DEBUG)
    logger.addHandler(handler)
    yield lines
    logger.removeHandler(handler)


def _post(hub: Hub, request: Any) -> None:
    response = hub.client.http.post(request.path, body=request.body, headers=request.headers)
    assert response.status_code == 200, response.body


def _send_both(hub: Hub) -> None:
    from devstack.simulators.meta import simulate_meta_message
    from devstack.simulators.twilio import simulate_twilio_messaging_message

    base = "https://hub.example.com"
    _post(hub, simulate_twilio_messaging_message(TEST_SECRETS, SMS_PHONE, "Il mio pacco?", public_base_url=base))
    _post(hub, simulate_meta_message(TEST_SECRETS, WA_PHONE, "Buongiorno", name="Maria", event_id=WAMID))


def _relay_only(hub: Hub) -> None:
    from chalicelib.adapters import resources
    from devstack.pump import LocalPump

    relay = {resources.STREAM_CONSUMER: hub.pump._handlers[resources.STREAM_CONSUMER]}
    LocalPump(hub.session, TEST_STAGE, hub.provisioned.stream_arn, relay).pump_once()


def _peek(hub: Hub, logical: str) -> list[dict[str, Any]]:
    """The queue's messages with their attributes, left on the queue (visible again at once)."""
    response = hub.sqs.receive_message(QueueUrl=hub.queue_url(logical), MaxNumberOfMessages=10,
                                       AttributeNames=["All"], VisibilityTimeout=0)
    return list(response.get("Messages", []))


def _unsalted_customer_id(channel: str, address: str) -> str:
    number = int.from_bytes(hashlib.sha256(f"customer\x1f{channel}#{address}".encode()).digest(), "big")
    chars = []
    for _ in range(16):
        number, index = divmod(number, 32)
        chars.append("0123456789ABCDEFGHJKMNPQRSTVWXYZ"[index])
    return "cus_" + "".join(chars).lower()


# ------------------------------------------------------------------ end to end
def test_routed_envelopes_queue_attributes_and_logs_reveal_no_phone(hub: Hub, log_lines: list[str]) -> None:
    hub.pump._handlers.pop("handle_outbound", None)  # acknowledgments are not what this is about
    _send_both(hub)
    _relay_only(hub)
    inbound = _peek(hub, "inbound")
    assert len(inbound) == 2
    for message in inbound:
        attributes = {k: message["Attributes"][k] for k in ("MessageGroupId", "MessageDeduplicationId")}
        assert _revealing(json.dumps(attributes)) == [], attributes
    assert len({m["Attributes"]["MessageGroupId"] for m in inbound}) == 2  # one group per sender

    hub.pump.drain()
    routed = hub.receive_all("route-default") + hub.receive_all("route-logistics")  # a parcel: logistics
    assert {envelope["message"]["text"] for envelope in routed} == {"Il mio pacco?", "Buongiorno"}
    for envelope in routed:
        shown = {k: v for k, v in envelope.items() if k != "message"}
        shown["message"] = {k: v for k, v in envelope["message"].items() if k != "provider_message_id"}
        assert _revealing(json.dumps(shown)) == [], shown
    customer_ids = {envelope["customer"]["id"] for envelope in routed}
    assert customer_ids.isdisjoint({_unsalted_customer_id("sms", SMS_PHONE), _unsalted_customer_id("whatsapp",
                                                                                                  WA_PHONE)})
    assert log_lines, "the hub logged something"
    assert [line for line in log_lines if _revealing(line)] == []


def test_a_customer_created_before_ids_were_keyed_keeps_its_id(hub: Hub) -> None:
    from chalicelib.adapters import runtime
    from chalicelib.core.model import Channel, Customer, Identity
    from devstack.simulators.twilio import simulate_twilio_messaging_message

    old_id = _unsalted_customer_id("sms", SMS_PHONE)
    customers = runtime.repositories().customers
    identity = Identity(Channel.SMS, SMS_PHONE)
    customers.create(Customer(id=old_id, name="Giulia", language="it", tier="standard", identities=(identity,),
                              created_at="2026-01-01T00:00:00.000Z"))
    assert customers.claim_identity(identity, old_id) == old_id
    hub.pump._handlers.pop("handle_outbound", None)
    _post(hub, simulate_twilio_messaging_message(TEST_SECRETS, SMS_PHONE, "ancora io",
                                                 public_base_url="https://hub.example.com"))
    hub.pump.drain()
    [envelope] = hub.receive_all("route-default")
    assert envelope["customer"]["id"] == old_id


def test_messages_queued_with_a_raw_group_before_the_change_are_still_handled_once(hub: Hub) -> None:
    """A deploy in the middle: the old relay queued the event under the raw identity, the new relay
    queues it again under the keyed group; the worker handles the inbox item once."""
    from chalicelib.api.envelopes import inbound_envelope
    from devstack.simulators.twilio import simulate_twilio_messaging_message

    hub.pump._handlers.pop("handle_outbound", None)
    _post(hub, simulate_twilio_messaging_message(TEST_SECRETS, SMS_PHONE, "prima del deploy",
                                                 public_base_url="https://hub.example.com", event_id="SM" + "1" * 32))
    [item] = [i for i in hub.table_items() if i["sk"] == "INBOX"]
    inbox_key = item["pk"].removeprefix("INBOX#")
    hub.sqs.send_message(QueueUrl=hub.queue_url("inbound"), MessageBody=json.dumps(inbound_envelope(inbox_key,
                         "message")), MessageGroupId=item["ordering_key"], MessageDeduplicationId=inbox_key)
    hub.pump.drain()
    [envelope] = hub.receive_all("route-default")
    assert envelope["message"]["text"] == "prima del deploy"
    lookup = hub.client.http.get(f"/customers/lookup?channel=sms&address=%2B{SMS_PHONE[1:]}", headers=SUPPORT)
    conversation = json.loads(hub.client.http.get(
        f"/conversations/{json.loads(lookup.body)['conversation_ids'][0]}", headers=SUPPORT).body)
    assert [m["text"] for m in conversation["messages"] if m["direction"] == "inbound"] == ["prima del deploy"]


# ------------------------------------------------------------------ the id key
def test_without_the_id_key_the_relay_fails_closed_and_loses_nothing(hub: Hub,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.adapters import runtime
    from devstack.simulators.twilio import simulate_twilio_messaging_message

    monkeypatch.delenv("OMNIHUB_ID_KEY")
    runtime.reset()
    hub.pump._handlers.pop("handle_outbound", None)
    _post(hub, simulate_twilio_messaging_message(TEST_SECRETS, SMS_PHONE, "senza chiave",
                                                 public_base_url="https://hub.example.com"))
    _relay_only(hub)
    assert _peek(hub, "inbound") == []  # nothing queued under an unkeyed group

    monkeypatch.setenv("OMNIHUB_ID_KEY", TEST_SECRETS["OMNIHUB_ID_KEY"])
    runtime.reset()
    hub.pump.drain()  # the stream is replayed from the failed record
    [envelope] = hub.receive_all("route-default")
    assert envelope["message"]["text"] == "senza chiave"


def test_the_id_key_comes_from_the_environment_first(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.adapters import runtime
    from chalicelib.adapters.id_keys import id_key

    monkeypatch.setenv("OMNIHUB_ID_KEY", "e" * 40)
    runtime.reset()
    assert id_key() == b"e" * 40


@pytest.fixture
def key_in_secrets_manager(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """No OMNIHUB_ID_KEY in the environment, as on AWS: the key is read from ``omnihub/{stage}/ids``."""
    from aws_lambda_powertools.utilities import parameters

    from chalicelib.adapters import runtime

    monkeypatch.delenv("OMNIHUB_ID_KEY")
    parameters.clear_caches()
    runtime.reset()
    yield hub.session.client("secretsmanager")
    parameters.clear_caches()


def test_on_aws_the_id_key_is_read_from_its_secret(key_in_secrets_manager: Any) -> None:
    from chalicelib.adapters.id_keys import id_key
    from chalicelib.adapters.secrets import ID_KEY_GROUP, secret_id

    key_in_secrets_manager.create_secret(Name=secret_id(TEST_STAGE, ID_KEY_GROUP),
                                         SecretString=json.dumps({"OMNIHUB_ID_KEY": "g" * 64}))
    assert id_key() == b"g" * 64


@pytest.mark.parametrize("stored", [None, "", "too-short-to-be-a-key"])
def test_a_missing_or_weak_id_key_fails_closed_without_naming_its_value(
    key_in_secrets_manager: Any, stored: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    from chalicelib.adapters.id_keys import IdKeyUnavailable, id_key
    from chalicelib.adapters.secrets import ID_KEY_GROUP, secret_id
    from chalicelib.core.errors import RetryableError

    if stored is not None:
        key_in_secrets_manager.create_secret(Name=secret_id(TEST_STAGE, ID_KEY_GROUP),
                                             SecretString=json.dumps({"OMNIHUB_ID_KEY": stored}))
    with pytest.raises(IdKeyUnavailable) as raised:
        id_key()
    assert isinstance(raised.value, RetryableError)  # 503 / batch item failure, never an unkeyed hash
    [logged] = [r for r in caplog.records if r.levelname == "ERROR" and r.getMessage() == "id key unavailable"]
    assert getattr(logged, "secret", None) == "OMNIHUB_ID_KEY"
    if stored:
        assert stored not in str(logged.__dict__) and stored not in str(raised.value)
