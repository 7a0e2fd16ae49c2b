"""The sandbox's own API: outbox paging, failure rules, reset, unknown paths, secrets never recorded."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from devstack.sandbox import Sandbox, sandbox_environment


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_outbox_since_and_provider_filter(sandbox):
    headers = {"Content-Type": "application/json", "Authorization": "Bearer secret-token"}
    for text in ("one", "two"):
        post(sandbox.base_url + "/2/dm_conversations/with/7/messages", json.dumps({"text": text}).encode(), headers)
    records = sandbox.outbox()
    first, second = (r["seq"] for r in records)
    assert second == first + 1  # seq keeps growing across resets, so pollers never miss a request
    assert [r["body"]["text"] for r in sandbox.outbox(since=first)] == ["two"]
    assert sandbox.outbox(provider="line") == []
    serialized = json.dumps(records)
    assert "secret-token" not in serialized
    assert records[0]["received_at"].endswith("Z")


def test_fail_rule_counts_down(sandbox):
    sandbox.fail(provider="vonage", status=503, count=2)
    headers = {"Content-Type": "application/json", "Authorization": "Basic azpz"}
    body = json.dumps({"channel": "sms", "message_type": "text", "to": "1", "from": "A", "text": "t"}).encode()
    statuses = [post(sandbox.base_url + "/v1/messages", body, headers)[0] for _ in range(3)]
    assert statuses == [503, 503, 202]


def test_fail_by_path_prefix_and_custom_body(sandbox):
    sandbox.fail(path="/pa/", status=200, body={"status": 7, "status_message": "publicAccountBlocked"})
    status, answer = post(sandbox.base_url + "/pa/send_message", b"{}", {"Content-Type": "application/json"})
    assert (status, answer["status"]) == (200, 7)


def test_bad_failure_spec_is_400(sandbox):
    with pytest.raises(urllib.error.HTTPError) as caught:
        sandbox.fail(provider="nope", status=500)
    assert caught.value.code == 400


def test_unknown_path_is_404(sandbox):
    status, _ = post(sandbox.base_url + "/nothing/here", b"{}", {"Content-Type": "application/json"})
    assert status == 404


def test_missing_auth_is_refused_like_the_provider():
    sandbox = Sandbox()
    status, _, body = sandbox.handle("POST", "/v21.0/me/messages", {"content-type": "application/json"},
                                     b'{"recipient": {"id": "1"}, "message": {"text": "x"}}')
    assert status == 401 and body["error"]["code"] == 190
    status, _, body = sandbox.handle("POST", "/pa/send_message", {"content-type": "application/json"}, b"{}")
    assert status == 200 and body["status"] == 2


def test_environment_points_every_provider_at_the_sandbox():
    env = sandbox_environment("http://127.0.0.1:4580")
    assert env == {f"OMNIHUB_{p}_API_BASE": "http://127.0.0.1:4580"
                   for p in ("TWILIO", "META", "TELEGRAM", "LINE", "VIBER", "X", "VONAGE", "SENDGRID", "MAILGUN",
                             "POSTMARK")} | {"OMNIHUB_SNS_TRUSTED_SUBSCRIBE_URL": "http://127.0.0.1:4580/sns/confirm"}


def test_the_sns_subscribe_endpoint_confirms_a_get_with_a_token():
    from chalicelib.adapters.sns_subscriptions import HttpSubscriptionConfirmer
    from devstack.sandbox import start_sandbox

    sandbox, url = start_sandbox(0)
    try:
        confirm = f"{url}/sns/confirm"
        HttpSubscriptionConfirmer(local_subscribe_url=confirm).confirm(f"{confirm}?Action=ConfirmSubscription&Token=t")
        [record] = [r for r in sandbox.sandbox.outbox() if r["provider"] == "sns"]
        assert record["method"] == "GET" and record["query"]["Token"] == "t" and record["response"]["status"] == 200
        status, _, _ = sandbox.sandbox.handle("GET", "/sns/confirm?Action=ConfirmSubscription", {}, b"")
        assert status == 400  # no token: SNS refuses it too
    finally:
        sandbox.shutdown()
        sandbox.server_close()
