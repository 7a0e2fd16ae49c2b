"""Issue 9's ingest and REST defects, each pinned by a test that failed before its fix."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Hub
from tests.helpers import api_event, post_api

SUPPORT = {"x-api-key": "support-key", "Content-Type": "application/json"}


def inbox_items(hub: Hub) -> list[dict[str, Any]]:
    return [item for item in hub.table_items() if item["sk"] == "INBOX"]


def bucket_keys(hub: Hub) -> list[str]:
    from chalicelib.adapters.settings import get_settings

    listed = hub.session.client("s3").list_objects_v2(Bucket=get_settings().bucket_name)
    return [o["Key"] for o in listed.get("Contents", [])]


def open_conversation(hub: Hub, sender: str = "ivy") -> str:
    assert post_api(hub.client, api_event(sender=sender, text="hello")).status_code == 200
    hub.pump.drain()
    found = hub.client.http.get(f"/customers/lookup?channel=webchat&address={sender}", headers=SUPPORT)
    return str(json.loads(found.body)["conversation_ids"][0])


# ------------------------------------------------------------------ 2: a failing secret store is 503
class BrokenSecrets:
    def get(self, name: str) -> str | None:
        raise self.error()

    def get_many(self, names: Any) -> dict[str, str]:
        raise self.error()

    @staticmethod
    def error() -> Exception:
        from chalicelib.adapters.secrets import SecretsUnavailable

        return SecretsUnavailable("the secret store is unavailable, retry later")


def test_a_secret_store_outage_is_503_not_a_forgery(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    from chalicelib.adapters import runtime

    broken = BrokenSecrets()
    monkeypatch.setattr(runtime.secrets(), "get", broken.get)
    monkeypatch.setattr(runtime.secrets(), "get_many", broken.get_many)
    response = post_api(hub.client, api_event())
    assert response.status_code == 503
    assert json.loads(response.body)["error"] == "unavailable"
    assert inbox_items(hub) == []
    rest = hub.client.http.get("/conversations", headers=SUPPORT)
    assert rest.status_code == 503 and json.loads(rest.body)["error"] == "unavailable"


@pytest.mark.parametrize(("stored", "answer"), [("{not json", 503), ('["a list"]', 503), ("", 401)])
def test_secrets_manager_failures_and_empty_secrets(aws_env: None, stored: str, answer: int) -> None:
    """A throttled or unreadable secret is retryable; only a really empty secret refuses."""
    import boto3
    from moto import mock_aws

    from chalicelib.adapters.secrets import SecretSource, SecretsUnavailable, secret_id
    from chalicelib.adapters.settings import Settings

    with mock_aws():
        client = boto3.client("secretsmanager", region_name="us-east-1")
        client.create_secret(Name=secret_id("prod", "twilio"), SecretString=stored or " ")
        source = SecretSource(Settings.from_environ({"AWS_DEFAULT_REGION": "us-east-1"}, stage="prod"))
        if answer == 503:
            with pytest.raises(SecretsUnavailable):
                source.get("TWILIO_AUTH_TOKEN")
        else:
            assert source.get("TWILIO_AUTH_TOKEN") is None


def test_a_throttled_secrets_manager_is_retryable(aws_env: None) -> None:
    from botocore.exceptions import ClientError

    from chalicelib.adapters.secrets import SecretSource, SecretsUnavailable
    from chalicelib.adapters.settings import Settings

    class Throttled:
        def get_secret_value(self, **kwargs: Any) -> Any:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}}, "GetSecretValue")

    source = SecretSource(Settings.from_environ({}, stage="prod"), client_factory=Throttled)
    with pytest.raises(SecretsUnavailable) as raised:
        source.get_many(("TWILIO_AUTH_TOKEN",))
    assert "Rate exceeded" not in raised.value.reason


# ------------------------------------------------------------------ 3: nothing after the write gives 500
def test_a_reply_that_cannot_be_built_still_answers_2xx_and_the_worker_acknowledges(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from chalicelib.ingest import webhook
    from devstack.simulators.telegram import simulate_telegram_message

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("Exceeds the limit (4300 digits) for integer string conversion")

    real = webhook.channel_spec
    monkeypatch.setattr(webhook, "channel_spec", lambda name: dataclasses.replace(real(name), instant_reply=broken))
    secrets = {"TELEGRAM_SECRET_TOKEN": "test-telegram-secret"}
    simulated = simulate_telegram_message(secrets, "123456789", "hello", name="Ada")
    response = hub.client.http.post(simulated.path, body=simulated.body, headers=simulated.headers)
    assert response.status_code == 200
    [item] = inbox_items(hub)
    assert "acknowledgment" not in item  # nothing was said in the response: the worker will say it


# ------------------------------------------------------------------ 5: no S3 object for a refused request
def test_a_large_body_refused_after_archiving_leaves_nothing_in_the_bucket(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.adapters import runtime
    from chalicelib.core.errors import PayloadTooLarge

    inbox = runtime.repositories().inbox

    def too_large(*args: Any, **kwargs: Any) -> bool:
        raise PayloadTooLarge("the event is too large to store")

    monkeypatch.setattr(inbox, "put", too_large)
    response = post_api(hub.client, api_event(text="y" * 300_000))
    assert response.status_code == 413
    assert bucket_keys(hub) == []


def test_a_large_duplicate_leaves_no_second_object(hub: Hub) -> None:
    event = api_event(text="z" * 300_000)
    assert post_api(hub.client, event).status_code == 200
    assert post_api(hub.client, event).status_code == 200
    assert len(bucket_keys(hub)) == 1


# ------------------------------------------------------------------ 6: ids bounded at the door
@pytest.mark.parametrize(
    "event",
    [
        api_event(sender="x" * 3000),
        api_event(sender="\u00e9" * 200),  # 200 characters, 400 bytes
        {**api_event(), "event_id": "e" * 600},
    ],
)
def test_an_unbounded_identity_or_event_id_is_400_and_stores_nothing(hub: Hub, event: dict[str, Any]) -> None:
    response = post_api(hub.client, event)
    assert response.status_code == 400, response.body
    assert inbox_items(hub) == []


# ------------------------------------------------------------------ 8: API keys follow the secret cache
def test_a_revoked_key_stops_working_without_a_cold_start(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    assert hub.client.http.get("/conversations", headers=SUPPORT).status_code == 200
    monkeypatch.setenv("OMNIHUB_API_KEYS", "ops:admin-key:admin")
    from chalicelib.adapters import runtime

    runtime.reset()
    assert hub.client.http.get("/conversations", headers=SUPPORT).status_code == 401


def test_a_malformed_api_keys_setting_is_503_on_every_route(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIHUB_API_KEYS", "support-key-without-name-or-scope")
    from chalicelib.adapters import runtime

    runtime.reset()
    response = hub.client.http.get("/conversations", headers=SUPPORT)
    assert response.status_code == 503
    assert json.loads(response.body)["error"] == "misconfigured"
    assert "support-key" not in response.body.decode()


def test_make_run_refuses_a_malformed_api_keys_setting() -> None:
    from devstack.run import configuration_problems

    assert configuration_problems({"OMNIHUB_API_KEYS": "ops:k:admin"}) == []
    [problem] = configuration_problems({"OMNIHUB_API_KEYS": "ops:k:root"})
    assert "OMNIHUB_API_KEYS" in problem


# ------------------------------------------------------------------ 10: Idempotency-Key
def test_a_refused_reply_does_not_consume_its_idempotency_key(hub: Hub) -> None:
    conversation_id = open_conversation(hub)
    headers = {**SUPPORT, "Idempotency-Key": "reply-1"}
    too_many = [{"url": "https://cdn.example.com/a.png"}] * 1000
    refused = hub.client.http.post(
        f"/conversations/{conversation_id}/messages", body=json.dumps({"attachments": too_many}), headers=headers
    )
    assert refused.status_code == 413
    accepted = hub.client.http.post(
        f"/conversations/{conversation_id}/messages", body=json.dumps({"text": "hi"}), headers=headers
    )
    assert accepted.status_code == 202


def test_the_same_key_with_another_body_is_422(hub: Hub) -> None:
    conversation_id = open_conversation(hub)
    headers = {**SUPPORT, "Idempotency-Key": "reply-2"}
    path = f"/conversations/{conversation_id}/messages"
    first = hub.client.http.post(path, body=json.dumps({"text": "one"}), headers=headers)
    again = hub.client.http.post(path, body=json.dumps({"text": "one"}), headers=headers)
    other = hub.client.http.post(path, body=json.dumps({"text": "two"}), headers=headers)
    assert first.status_code == again.status_code == 202
    assert json.loads(first.body)["id"] == json.loads(again.body)["id"]
    assert other.status_code == 422 and json.loads(other.body)["error"] == "idempotency_key_reused"


def test_an_unbounded_idempotency_key_is_400(hub: Hub) -> None:
    conversation_id = open_conversation(hub)
    response = hub.client.http.post(
        f"/conversations/{conversation_id}/messages",
        body=json.dumps({"text": "hi"}),
        headers={**SUPPORT, "Idempotency-Key": "k" * 300},
    )
    assert response.status_code == 400


# ------------------------------------------------------------------ 11: attachment URLs
@pytest.mark.parametrize(
    "attachment",
    [
        {"url": "https://169.254.169.254/latest/meta-data/"},
        {"url": "https://127.0.0.1/x.png"},
        {"url": "https://10.0.0.8/x.png"},
        {"url": "https://[::1]/x.png"},
        {"url": "https://0x7f.1/x.png"},
        {"url": "https://2130706433/x.png"},
        {"url": "https://localhost/x.png"},
        {"url": "https://user:pass@cdn.example.com/x.png"},
        {"url": "http://cdn.example.com/x.png"},
        {"url": "https://cdn.example.com/x.png", "content_type": {"evil": True}},
        {"url": "https://cdn.example.com/x.png", "name": "n" * 300},
        {"url": "https://cdn.example.com/" + "a" * 3000},
    ],
)
def test_unsafe_attachments_are_refused(hub: Hub, attachment: dict[str, Any]) -> None:
    conversation_id = open_conversation(hub)
    response = hub.client.http.post(
        f"/conversations/{conversation_id}/messages",
        body=json.dumps({"attachments": [attachment]}),
        headers=SUPPORT,
    )
    assert response.status_code == 400, response.body


def test_a_safe_attachment_is_accepted(hub: Hub) -> None:
    conversation_id = open_conversation(hub)
    response = hub.client.http.post(
        f"/conversations/{conversation_id}/messages",
        body=json.dumps({"attachments": [{"url": "https://cdn.example.com/x.png", "content_type": "image/png"}]}),
        headers=SUPPORT,
    )
    assert response.status_code == 202, response.body


# ------------------------------------------------------------------ 9: cursors
def _encoded(state: Any) -> str:
    import base64

    return base64.urlsafe_b64encode(json.dumps(state).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        _encoded({"s": "x"}),
        _encoded({"s": None}),
        _encoded({"s": [1]}),
        _encoded({"offset": "x"}),
        _encoded({"s": 0, "k": "str"}),
        _encoded({"s": 0}) + ".AAAAAAAAAAAAAAAAAAAAAA",
        "not a cursor",
        "x" * 5000,
    ],
)
def test_a_cursor_the_hub_did_not_issue_is_400_invalid_cursor(hub: Hub, cursor: str) -> None:
    from urllib.parse import quote

    for query in (f"cursor={quote(cursor)}", f"customer_id=cus_x&cursor={quote(cursor)}"):
        response = hub.client.http.get(f"/conversations?{query}", headers=SUPPORT)
        assert response.status_code == 400, response.body
        body = json.loads(response.body)
        assert body["error"] == "invalid_cursor"
        assert "Parameter validation" not in body["reason"]


def test_issued_cursors_page_and_cannot_be_moved_to_another_listing(hub: Hub) -> None:
    from urllib.parse import quote

    for index in range(3):
        assert post_api(hub.client, api_event(sender=f"pager-{index}", text="hi")).status_code == 200
    hub.pump.drain()
    seen: list[str] = []
    cursor = None
    while True:
        path = "/conversations?limit=1" + (f"&cursor={quote(cursor)}" if cursor else "")
        page = json.loads(hub.client.http.get(path, headers=SUPPORT).body)
        seen += [c["id"] for c in page["conversations"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        moved = hub.client.http.get(f"/conversations?status=resolved&cursor={quote(cursor)}", headers=SUPPORT)
        assert moved.status_code == 400 and json.loads(moved.body)["error"] == "invalid_cursor"
    assert len(seen) == len(set(seen)) == 3


# ------------------------------------------------------------------ a batch refused part-way stores nothing
def test_a_batch_with_one_unstorable_event_is_refused_whole_before_its_first_put(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the fuzz: a Meta batch answered 413 after its first event had been stored (the table
    refused a later one). A batch is now checked against the item limits before anything is written."""
    import dataclasses

    from chalicelib.ingest import webhook

    real = webhook.channel_spec

    def with_a_huge_second_event(name: str) -> Any:
        spec = real(name)

        def parse(request: Any) -> Any:
            [event] = spec.parse(request)
            return [event, dataclasses.replace(event, event_id=event.event_id + "-2", text="y" * 500_000)]

        return dataclasses.replace(spec, parse=parse)

    monkeypatch.setattr(webhook, "channel_spec", with_a_huge_second_event)
    response = post_api(hub.client, api_event(text="hello"))
    assert response.status_code == 413, response.body
    assert json.loads(response.body)["error"] == "payload_too_large"
    assert inbox_items(hub) == []
    assert bucket_keys(hub) == []

