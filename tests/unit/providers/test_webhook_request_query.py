"""What api/web.py hands a provider about the query string: the decoded pairs and, when any, the raw one."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from chalice.app import MultiDict

from chalicelib.api.web import query_pairs, raw_query_string, webhook_request


def chalice_request(query: dict[str, list[str]] | None, event: dict[str, Any] | None = None) -> Any:
    return SimpleNamespace(
        method="POST", path="/webhooks/twilio/messaging", uri_params=None, headers={"X-A": "1"}, raw_body=b"x=1",
        query_params=None if query is None else MultiDict(query), to_original_event=lambda: event or {},
    )


def test_every_value_of_every_name_is_kept_in_the_order_given() -> None:
    assert query_pairs(MultiDict({"b": ["2"], "a": ["1", ""], "c": ["a b"]})) == (
        ("b", "2"), ("a", "1"), ("a", ""), ("c", "a b"))
    assert query_pairs(None) == ()


def test_the_raw_query_comes_only_from_a_gateway_that_passes_it() -> None:
    assert raw_query_string(chalice_request({"a": ["1"]})) is None  # REST API (payload 1.0)
    assert raw_query_string(chalice_request({"a": ["1"]}, {"rawQueryString": "a=1"})) == "a=1"  # HTTP API
    assert raw_query_string(SimpleNamespace()) is None


def test_the_webhook_request_carries_both() -> None:
    request = webhook_request(chalice_request({"tenant": ["a/b"], "flag": [""]}), "https://hub.example.com")
    assert request.query_pairs == (("tenant", "a/b"), ("flag", ""))
    assert request.public_url == "https://hub.example.com/webhooks/twilio/messaging?tenant=a%2Fb&flag="
    assert request.raw_query is None
    assert request.headers == {"x-a": "1"}


def test_headers_query_and_path_values_are_valid_unicode() -> None:
    current = chalice_request({"x": ["a\ud83d"]})
    current.headers = {"Content-Type": "text/plain; \udc00"}
    current.uri_params = {"bot": "b\ud800"}
    current.path = "/webhooks/telegram/{bot}"
    request = webhook_request(current, "https://hub.example.com")
    assert request.headers == {"content-type": "text/plain; \ufffd"}
    assert request.query_pairs == (("x", "a\ufffd"),) and request.query == {"x": "a\ufffd"}
    assert request.path_params == {"bot": "b\ufffd"} and request.path == "/webhooks/telegram/b\ufffd"
    request.public_url.encode()  # no UnicodeEncodeError
