"""Rebuilding the public URL a provider signed, from what API Gateway hands the Lambda."""

from __future__ import annotations

from chalice.app import MultiDict

from chalicelib.api.web import public_query_string


def test_every_value_of_a_repeated_name_is_kept_and_spaces_are_percent_encoded() -> None:
    query = MultiDict({"bodySHA256": ["abc"], "tag": ["a b", "c"]})
    assert public_query_string(query) == "bodySHA256=abc&tag=a%20b&tag=c"


def test_no_query_is_no_query_string() -> None:
    assert public_query_string(None) == "" and public_query_string(MultiDict({})) == ""
