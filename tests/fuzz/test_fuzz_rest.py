"""The in-process fuzz of every REST route: random paths, queries, headers and bodies.

Every answer is below 500 (no dependency fails here), every error body is ``{"error": <code of the
table>, "reason": <str>}`` with nothing leaked, a refused request stores nothing, and no route but
``/health`` answers 2xx without a key of its scope.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from tests.conftest import ROOT
from tests.fuzz.conftest import FuzzHub, assert_error_body, assert_no_leak, examples
from tests.fuzz.strategies import hostile_text, random_json, render
from tests.helpers import api_event, post_api

KEYS = {"support": "support-key", "crisis": "crisis-key", "admin": "admin-key"}  # tests/conftest.py's keys
PUBLIC_ROUTES = {"/health", "/console", "/console/{asset}", "/openapi.json"}  # static, no data
# Bodies no JSON encoder writes: nesting past the recursion limit, invalid UTF-8, lone surrogates
# (escaped and raw), a byte-order mark, NaN, a number past int()'s digit limit.
HOSTILE_BODIES = {
    "deep_array": b"[" * 100_000 + b"]" * 100_000,
    "deep_object": b'{"text":' * 50_000 + b"1" + b"}" * 50_000,
    "deep_field": b'{"text":"hi","route":' + b"[" * 20_000 + b"]" * 20_000 + b"}",
    "invalid_utf8": b'{"text":"caf\xe9 \xff\xc3(","title":"\xed\xa0\x80","tier":"\xff"}',
    "escaped_surrogates": b'{"text":"\\ud83d","title":"\\udfff","name":"a\\ud800b","message":{"en":"\\ud83d"}}',
    "nan": b'{"text":NaN,"priority":Infinity,"active_within_days":-Infinity}',
    "huge_number": b'{"tier":' + b"9" * 10_000 + b',"audience":{"active_within_days":' + b"9" * 5_000 + b"}}",
    "nul": b'{"text":"a\x00b","name":"\\u0000"}',
}


def route_scopes() -> dict[str, str]:
    """view function → the scope its ``_rest("scope", ...)`` (or ``rest(request, "scope", ...)``) call
    demands, read from app.py and the blueprints it registers (chalicelib/api/*_routes.py)."""
    blueprints = sorted((ROOT / "chalicelib" / "api").glob("*_routes.py"))  # care_routes.py, docs_routes.py, ...
    source = "".join(path.read_text() for path in [ROOT / "app.py", *blueprints])
    scopes: dict[str, str] = {}
    for match in re.finditer(r"^ *def (\w+)\(.*?(?=^ *def |^ *@|\Z)", source, re.S | re.M):
        rest = re.search(r'(?:\b_rest|\brest)\(\s*(?:_current_request\(\),\s*)?"(\w+)"', match.group(0))
        if rest:
            scopes[match.group(1)] = rest.group(1)
        elif re.search(r"\b_crisis\(", match.group(0)):  # care_routes' _crisis authorizes the crisis scope
            scopes[match.group(1)] = "crisis"
        elif re.search(r"\b_admin\(", match.group(0)):  # privacy_routes' _admin authorizes the admin scope
            scopes[match.group(1)] = "admin"
    return scopes


def rest_routes() -> list[tuple[str, str, str | None]]:
    """(method, path, scope) of every route that is not a webhook; scope None for a public route."""
    from app import app

    scopes = route_scopes()
    found = []
    for path, methods in app.routes.items():
        if path.startswith("/webhooks/"):
            continue
        for method, entry in methods.items():
            found.append((method, path, scopes.get(entry.view_name)))
    return sorted(found)


def test_every_rest_route_but_health_has_a_scope() -> None:
    routes = rest_routes()
    assert len(routes) >= 6
    for _method, path, scope in routes:
        assert (scope is None) == (path in PUBLIC_ROUTES), (path, scope)


@pytest.fixture(scope="module")
def seeded(fuzz_hub: FuzzHub) -> str:
    """One conversation the fuzz can find, so a right key and a real id reach the use cases' 2xx paths."""
    from devstack.pump import LocalPump, app_handlers
    from tests.conftest import TEST_STAGE

    stream_arn = fuzz_hub.session.client("dynamodb").describe_table(TableName=fuzz_hub.table_name)["Table"][
        "LatestStreamArn"]
    pump = LocalPump(fuzz_hub.session, TEST_STAGE, stream_arn, app_handlers(fuzz_hub.app_module))
    assert post_api(fuzz_hub.client, api_event(sender="fuzz-seed", text="hello")).status_code == 200
    pump.drain()
    found = fuzz_hub.client.http.get("/customers/lookup?channel=webchat&address=fuzz-seed",
                                     headers={"x-api-key": KEYS["support"]})
    return str(json.loads(found.body)["conversation_ids"][0])


QUERY_NAMES = ["channel", "address", "status", "limit", "reference", "route", "customer_id", "cursor", "x", ""]
query_values = st.one_of(
    hostile_text,
    st.sampled_from(["webchat", "sms", "open", "resolved", "50", "0", "-1", "1e3", "99999999999999999999",
                     "9" * 5000, "fuzz-seed", "OH-4QR1Y", "null", "[]"]),
)


@pytest.fixture(scope="module")
def seeded_customer(fuzz_hub: FuzzHub, seeded: str) -> str:
    """The seeded conversation's customer: PATCH /customers/{customer_id} reaches its 2xx path too."""
    found = fuzz_hub.client.http.get("/customers/lookup?channel=webchat&address=fuzz-seed",
                                     headers={"x-api-key": KEYS["support"]})
    return str(json.loads(found.body)["id"])


@st.composite
def rest_request(draw: st.DrawFn, method: str, path: str, conversation_id: str, customer_id: str = "cus_0"
                 ) -> dict[str, Any]:
    concrete = path
    for placeholder, real, prefix in (("{conversation_id}", conversation_id, "cnv_"),
                                      ("{customer_id}", customer_id, "cus_")):
        if placeholder not in path:
            continue
        value = draw(st.one_of(st.just(real),
                               st.text(alphabet=st.characters(blacklist_characters="/?#%"), min_size=1, max_size=80),
                               st.sampled_from([prefix + "0" * 16, "x" * 3000, "..", "%2F", prefix + "0" * 70])))
        concrete = concrete.replace(placeholder, quote(value.encode("utf-8", "surrogatepass"), safe=""))
    pairs = draw(st.lists(st.tuples(st.sampled_from(QUERY_NAMES), query_values), max_size=4))
    query = urlencode([(n, v.encode("utf-8", "surrogatepass")) for n, v in pairs])
    key_choice = draw(st.sampled_from(["none", "empty", "wrong", "support", "crisis", "admin", "random"]))
    headers: dict[str, str] = {}
    if key_choice in KEYS:
        headers["x-api-key"] = KEYS[key_choice]
    elif key_choice == "empty":
        headers["x-api-key"] = ""
    elif key_choice == "wrong":
        headers["x-api-key"] = "support-key "
    elif key_choice == "random":
        headers["x-api-key"] = draw(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF),
                                            max_size=60))
    if draw(st.booleans()):
        headers["Idempotency-Key"] = draw(st.one_of(st.uuids().map(str), st.text(
            alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=40), st.just("k" * 5000)))
    body = b""
    if method in ("POST", "PATCH"):
        body = draw(st.one_of(
            st.builds(render, random_json),
            st.builds(render, st.fixed_dictionaries({}, optional={
                # assign
                "route": st.sampled_from(["default", "billing", "vip", "nowhere"]) | hostile_text | random_json,
                "priority": st.sampled_from(["low", "normal", "high", "urgent", "URGENT"]) | random_json,
                # PATCH /customers/{id}
                "tier": st.sampled_from(["vip", "gold", " VIP ", "x" * 40]) | hostile_text | random_json,
                "tags": st.lists(st.sampled_from(["press", "loyal"]) | hostile_text, max_size=25) | random_json,
                "name": hostile_text | random_json,
                "language": st.sampled_from(["it", "pt_BR", "en-GB", "xx-yyyyyyyyy"]) | hostile_text | random_json,
                # replies
                "text": hostile_text | random_json, "channel": st.sampled_from(["webchat", "sms", "x"]) | random_json,
                "attachments": st.lists(st.fixed_dictionaries({}, optional={
                    "url": st.sampled_from(["https://cdn.example.com/a.png", "https://169.254.169.254/x",
                                            "http://a", "https://u:p@example.com/", "https://[::1]/"]) | hostile_text,
                    "content_type": st.sampled_from(["image/png"]) | random_json,
                    "name": hostile_text}), max_size=3) | random_json,
                # crisis incidents and updates
                "title": st.sampled_from(["Outage", "", " ", "t" * 201]) | hostile_text | random_json,
                "status": st.sampled_from(["investigating", "identified", "monitoring", "resolved", "open"])
                | random_json,
                "message": st.dictionaries(st.sampled_from(["en", "it", "pt-BR", "xx-yyyyyyyyyyyy", ""]) | hostile_text,
                                           hostile_text, max_size=4) | random_json,
                "keywords": st.lists(hostile_text, max_size=5) | random_json,
                "dry_run": st.booleans() | random_json,
                "audience": st.fixed_dictionaries({}, optional={
                    "customer_ids": st.lists(hostile_text, max_size=3), "open_conversations": random_json,
                    "active_within_days": st.integers() | random_json, "tiers": random_json,
                    "channels": st.lists(st.sampled_from(["sms", "email", "fax"]), max_size=3)}) | random_json,
                "private": random_json})),
            st.binary(max_size=100),
            st.sampled_from([*sorted(HOSTILE_BODIES.values()), BOM_BODY]),
        ))
        headers["Content-Type"] = draw(st.sampled_from(["application/json", "application/json; charset=utf-8"]))
    return {"method": method, "path": concrete + ("?" + query if query else ""), "headers": headers,
            "body": body, "key": key_choice}


def _send(client: Any, request: dict[str, Any]) -> Any:
    """Any method (a DELETE route is sent as a DELETE, not as a POST the route does not serve)."""
    return client.http.request(request["method"], request["path"], headers=request["headers"], body=request["body"])


@pytest.fixture(scope="module")
def erasable_customer(fuzz_hub: FuzzHub, seeded: str) -> str:
    """A second customer for DELETE /customers/{customer_id}: its 2xx path erases them, not the seeded one."""
    from devstack.pump import LocalPump, app_handlers
    from tests.conftest import TEST_STAGE

    stream_arn = fuzz_hub.session.client("dynamodb").describe_table(TableName=fuzz_hub.table_name)["Table"][
        "LatestStreamArn"]
    pump = LocalPump(fuzz_hub.session, TEST_STAGE, stream_arn, app_handlers(fuzz_hub.app_module))
    assert post_api(fuzz_hub.client, api_event(sender="fuzz-erasable", text="erase me")).status_code == 200
    pump.drain()
    found = fuzz_hub.client.http.get("/customers/lookup?channel=webchat&address=fuzz-erasable",
                                     headers={"x-api-key": KEYS["support"]})
    return str(json.loads(found.body)["id"])


@pytest.mark.parametrize(("method", "path", "scope"), rest_routes())
def test_rest_routes_never_5xx_and_need_their_scope(
    fuzz_hub: FuzzHub, seeded: str, seeded_customer: str, method: str, path: str, scope: str | None,
    request: pytest.FixtureRequest,
) -> None:
    customer = request.getfixturevalue("erasable_customer") if method == "DELETE" else seeded_customer

    @examples(45)
    @given(request=rest_request(method, path, seeded, customer))
    def run(request: dict[str, Any]) -> None:
        before = len(fuzz_hub.table_items())
        response = _send(fuzz_hub.client, request)
        status = response.status_code
        body = response.body if isinstance(response.body, bytes) else str(response.body).encode()
        event(f"{status}")
        assert status < 500, (status, body[:300])
        assert_no_leak(body.decode("utf-8", "replace"))
        if status >= 400:
            assert_error_body(status, body)
            assert len(fuzz_hub.table_items()) == before, f"{path} answered {status} but stored something"
        key = request["key"]
        has_scope = key in KEYS and (key == scope or key == "admin")
        if scope is not None and not has_scope:
            assert status in (401, 403), (request["key"], status, body[:200])

    run()


# JSON after a byte-order mark: RFC 8259 lets a parser accept it (Python's does); valid, not hostile.
BOM_BODY = b'\xef\xbb\xbf{"text":"hi"}'


def body_routes() -> list[tuple[str, str, str | None]]:
    """The routes whose operation in the OpenAPI document takes a body."""
    from chalicelib.api.openapi import operations

    documented = operations()
    return [route for route in rest_routes() if "requestBody" in documented.get((route[0], route[1]), {})]


@pytest.mark.parametrize("body", sorted(HOSTILE_BODIES))
@pytest.mark.parametrize(("method", "path", "scope"), body_routes())
def test_hostile_bodies_are_a_declared_4xx_and_store_nothing(
    fuzz_hub: FuzzHub, seeded: str, seeded_customer: str, method: str, path: str, scope: str | None, body: str
) -> None:
    """Every REST route that reads a body, given the right key and a real resource (so the body is what is
    judged): 400 or 413 with a table error body, nothing written."""
    concrete = path.replace("{conversation_id}", seeded).replace("{customer_id}", seeded_customer)
    headers = {"Content-Type": "application/json", "x-api-key": KEYS[scope or "admin"]}
    before = fuzz_hub.table_items()
    response = _send(fuzz_hub.client, {"method": method, "path": concrete, "headers": headers,
                                       "body": HOSTILE_BODIES[body]})
    assert response.status_code in (400, 404, 413), (response.status_code, response.body[:300])
    assert_error_body(response.status_code, response.body)
    assert fuzz_hub.table_items() == before


# ------------------------------------------------------------------ cursors (issue 9 #9)
cursor_states = st.one_of(
    st.sampled_from([{"s": "x"}, {"s": None}, {"s": [1]}, {"offset": "x"}, {"s": 0, "k": "str"}, {"s": 0},
                     {"s": -1}, {"s": 10**30}, {"k": {"pk": {"S": "x"}}}, {}, [], "x", 1]),
    st.dictionaries(st.sampled_from(["s", "k", "offset", "pk", "sk", "v"]), random_json, max_size=3),
    random_json,
)


def encode(state: Any, padded: bool) -> str:
    raw = base64.urlsafe_b64encode(json.dumps(state).encode()).decode()
    return raw if padded else raw.rstrip("=")


def test_forged_cursors_are_invalid_cursor(fuzz_hub: FuzzHub) -> None:
    @examples(60)
    # An empty cursor is no cursor (the first page), not a forged one.
    @given(cursor=st.one_of(st.builds(encode, cursor_states, st.booleans()), hostile_text).filter(bool))
    def run(cursor: str) -> None:
        query = urlencode({"cursor": cursor.encode("utf-8", "surrogatepass")})
        response = fuzz_hub.client.http.get(f"/conversations?{query}", headers={"x-api-key": KEYS["support"]})
        body = response.body.decode("utf-8", "replace") if isinstance(response.body, bytes) else str(response.body)
        assert response.status_code == 400, (cursor, response.status_code, body[:300])
        assert_error_body(400, body)
        assert json.loads(body)["error"] == "invalid_cursor", body

    run()
