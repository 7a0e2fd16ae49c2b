"""End to end through the local stack with `make run`'s keys: a web chat customer's export, then their
erasure; the lookup no longer finds them, a second DELETE answers the same, and support keys are refused."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

from tests.e2e.conftest import LocalStack
from tests.e2e.test_local_stack import simulate

pytestmark = pytest.mark.e2e


def call(stack: LocalStack, method: str, path: str, key: str) -> tuple[int, Any]:
    request = urllib.request.Request(stack.api_url + path, method=method, headers={"x-api-key": key})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def test_a_customer_is_exported_then_erased_with_the_dev_admin_key(local_stack: LocalStack) -> None:
    sender = f"e2e-privacy-{uuid.uuid4().hex[:8]}"
    assert 200 <= simulate(local_stack, "api", sender, "please forget me") < 300
    customer_id = local_stack.wait_for_conversation("webchat", sender)["customer_id"]

    assert call(local_stack, "GET", f"/customers/{customer_id}/export", "dev-support-key")[0] == 403
    status, document = call(local_stack, "GET", f"/customers/{customer_id}/export", "dev-admin-key")
    assert status == 200 and document["complete"] is True
    assert document["identities"] == [{"channel": "webchat", "address": sender}]
    assert "please forget me" in json.dumps(document["conversations"]) + json.dumps(document["raw_payloads"])

    assert call(local_stack, "DELETE", f"/customers/{customer_id}", "dev-crisis-key")[0] == 403
    status, erased = call(local_stack, "DELETE", f"/customers/{customer_id}", "dev-admin-key")
    assert status == 200 and erased["status"] == "erased" and erased["requested_by"] == "dev-admin"
    assert erased["counts"]["messages"] >= 1 and erased["counts"]["identities"] == 1
    assert call(local_stack, "DELETE", f"/customers/{customer_id}", "dev-admin-key") == (200, erased)
    assert call(local_stack, "GET", f"/customers/lookup?channel=webchat&address={sender}", "dev-support-key")[0] == 404
    assert call(local_stack, "GET", f"/customers/{customer_id}/export", "dev-admin-key")[0] == 404
