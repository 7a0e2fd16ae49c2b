"""Hypothesis strategies: provider fixtures mutated the ways the audit found hostile, and raw junk.

A mutated JSON document is a Python value with placeholders for what ``json.dumps`` cannot write
(a 4,300+ digit integer, nesting deeper than the recursion limit, raw bytes that are not UTF-8);
:func:`render` serializes it and splices those bytes in.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from hypothesis import strategies as st

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"

# Placeholders spliced into the serialized body by render().
_RAW = {
    "\x00BIGINT\x00": b"9" * 4400,  # above Python's 4,300-digit int() limit
    "\x00NEGBIGINT\x00": b"-" + b"1" * 5000,
    "\x00BIGFLOAT\x00": b"1e400",  # inf in Python
    "\x00DEEP\x00": b"[" * 5000 + b"]" * 5000,  # deeper than the recursion limit
    "\x00DEEPOBJ\x00": b'{"a":' * 3000 + b"1" + b"}" * 3000,
    "\x00RAWSURROGATE\x00": b'"\xed\xa0\x80"',  # a lone surrogate as raw (invalid) UTF-8
    "\x00INVALIDUTF8\x00": b'"\xff\xfe\xc3("',
    "\x00NAN\x00": b"NaN",
}


def fixture_documents(provider: str) -> list[Any]:
    """The JSON fixtures of a folder, or of a pattern in it (``email/postmark_*.json``)."""
    pattern = provider if provider.endswith(".json") else f"{provider}/*.json"
    return [json.loads(p.read_text()) for p in sorted(FIXTURES.glob(pattern))]


def fixture_forms(provider: str) -> list[list[tuple[str, str]]]:
    paths = sorted((FIXTURES / provider).glob("*.txt"))
    return [parse_qsl(p.read_text().strip(), keep_blank_values=True) for p in paths]


json_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(min_value=2**53, max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=30),
)
random_json = st.recursive(
    json_leaves,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)

# Values the audit found troublesome, for a field of any type.
hostile_values = st.one_of(
    st.sampled_from([
        None, "", 0, -1, True, [], {}, 10**18, -(10**18), 2**64, 1.5, "\ud83d", "a\udc00b", "\x00", "\u202e",
        "\ufeff", " " * 10, "../../etc/passwd", "%s%n", "<xml/>", "0" * 2100, "x" * 3000, "🙂" * 600,
        *_RAW,
    ]),
    st.text(max_size=40),
    st.integers(),
    st.sampled_from(["ab" * 35_000, "é" * 40_000]),  # larger than an item's inline limit
    random_json,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, (*prefix, index))
    return found


def _replace(value: Any, path: tuple[Any, ...], new: Callable[[Any], Any]) -> Any:
    if not path:
        return new(value)
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        copy = dict(value)
        copy[head] = _replace(value[head], rest, new)
        return copy
    copy_list = list(value)
    copy_list[head] = _replace(value[head], rest, new)
    return copy_list


_DROP = object()


def _without(value: Any, path: tuple[Any, ...]) -> Any:
    parent, last = path[:-1], path[-1]

    def drop(container: Any) -> Any:
        if isinstance(container, dict):
            return {k: v for k, v in container.items() if k != last}
        return [v for i, v in enumerate(container) if i != last]

    return _replace(value, parent, drop)


@st.composite
def mutated(draw: st.DrawFn, documents: list[Any], max_mutations: int = 3) -> Any:
    """One fixture with up to ``max_mutations`` fields removed, retyped or replaced by hostile values."""
    document = draw(st.sampled_from(documents))
    for _ in range(draw(st.integers(min_value=1, max_value=max_mutations))):
        paths = _paths(document)
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "drop", "wrap", "stringify"]))
        if action == "drop" and path:
            document = _without(document, path)
        elif action == "wrap":
            document = _replace(document, path, lambda v: [v])
        elif action == "stringify":
            document = _replace(document, path, lambda v: json.dumps(v) if not isinstance(v, str) else v * 50)
        else:
            replacement = draw(hostile_values)
            document = _replace(document, path, lambda _v, r=replacement: r)
    return document


def render(document: Any, *, ensure_ascii: bool = True) -> bytes:
    """The JSON bytes, placeholders spliced in; lone surrogates escaped (``\\ud83d``) or kept raw."""
    text = json.dumps(document, ensure_ascii=ensure_ascii, separators=(",", ":"))
    body = text.encode("utf-8", "surrogatepass")  # ensure_ascii=False: a lone surrogate as ED A0 80
    for marker, raw in _RAW.items():
        quoted = json.dumps(marker, ensure_ascii=ensure_ascii).encode()
        body = body.replace(quoted, raw)
    return body


@st.composite
def mutated_json_body(draw: st.DrawFn, provider: str) -> bytes:
    documents = fixture_documents(provider)
    choice = draw(st.sampled_from(["mutated", "mutated", "mutated", "fixture", "random", "empty", "bytes"]))
    if choice == "fixture":
        return render(draw(st.sampled_from(documents)), ensure_ascii=draw(st.booleans()))
    if choice == "random":
        return render(draw(random_json))
    if choice == "empty":
        return draw(st.sampled_from([b"", b"{}", b"[]", b"null", b"0", b'""', b"{", b" "]))
    if choice == "bytes":
        return draw(st.binary(max_size=300))
    return render(draw(mutated(documents)), ensure_ascii=draw(st.booleans()))


hostile_text = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "\ud83d", "x" * 3000, "0" * 5000, "+" + "9" * 40, "whatsapp:", "🙂" * 800, "\x00",
                     "%ED%A0%80", "a&b=c"]),
)


@st.composite
def mutated_form(draw: st.DrawFn, provider: str) -> list[tuple[str, str]]:
    """A provider's form fixture with fields dropped, replaced, repeated or added."""
    pairs = list(draw(st.sampled_from(fixture_forms(provider))))
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        action = draw(st.sampled_from(["drop", "replace", "replace", "repeat", "add"]))
        if not pairs:
            break
        index = draw(st.integers(min_value=0, max_value=len(pairs) - 1))
        name = pairs[index][0]
        if action == "drop":
            del pairs[index]
        elif action == "replace":
            pairs[index] = (name, draw(hostile_text))
        elif action == "repeat":
            pairs.append((name, draw(hostile_text)))
        else:
            pairs.append((draw(st.sampled_from(["MediaUrl0", "NumMedia", "MediaContentType0", "ErrorCode",
                                                "Latitude", "ButtonPayload", "ProfileName", "WaId"])),
                          draw(hostile_text)))
    return pairs


# ------------------------------------------------------------------ email forms (SendGrid, Mailgun)
Fields = list[tuple[str, str | bytes]]
_RAW_MAILS = ("multipart_pdf.eml", "reply_gmail.eml", "non_ascii_names.eml", "header_injection.eml",
              "bounce_dsn.eml", "no_message_id.eml")


def email_forms(endpoint: str) -> list[Fields]:
    """The provider's parsed-mode fixture (its files as fields) and raw-mode forms of real-shaped mails."""
    from tests.unit.email.payloads import eml, provider_form

    fields, files = provider_form(f"{endpoint}_parsed.json")
    parsed: Fields = [*fields, *((name, data) for name, _, _, data in files)]
    envelope: Fields = ([("envelope", '{"to":["support@omnihub.example"],"from":"a@example.com"}'),
                         ("charsets", '{"to":"UTF-8","from":"UTF-8","subject":"UTF-8"}'), ("SPF", "pass")]
                        if endpoint == "sendgrid" else
                        [("recipient", "support@omnihub.example"), ("sender", "a@example.com")])
    raw_field = "email" if endpoint == "sendgrid" else "body-mime"
    return [parsed, *([*envelope, (raw_field, eml(name))] for name in _RAW_MAILS)]


_EMAIL_FIELDS = ("email", "headers", "envelope", "charsets", "attachment-info", "attachments", "attachment1",
                 "text", "html", "from", "to", "subject", "message-headers", "body-mime", "body-plain",
                 "content-id-map", "attachment-count", "attachment-1", "recipient", "sender", "Message-Id")
hostile_bytes = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([b"\xff\xfe", b"\xed\xa0\x80", b"\r\n\r\n", b"--xYzZY0f1e2d3c4b5a6--", b"=?utf-8?b?////?=",
                     b"Content-Type: multipart/mixed; boundary=\r\n\r\n", b"\x00" * 50, b"a" * 5000]),
)
hostile_json_text = st.one_of(
    st.builds(lambda v: render(v).decode("utf-8", "replace"), random_json),
    st.sampled_from(["{", "[]", "null", '{"attachment1":{"filename":null}}', '[["From"]]', '[[1,2]]',
                     '{"to":"x"}', '{"to":[null]}', '{"attachment1":{"type":"../../x"}}', '{"a":' * 3000]),
)


def _mutated_mail(raw: bytes, draw: st.DrawFn) -> bytes:
    action = draw(st.sampled_from(["truncate", "header", "splice", "charset"]))
    if action == "truncate":
        return raw[: draw(st.integers(0, len(raw)))]
    if action == "header":
        return draw(hostile_bytes) + b"\r\n" + raw
    if action == "charset":
        return raw.replace(b"utf-8", b"x-unknown", 1).replace(b"UTF-8", b"utf-7", 1)
    at = draw(st.integers(0, len(raw)))
    return raw[:at] + draw(hostile_bytes) + raw[at:]


@st.composite
def mutated_email_form(draw: st.DrawFn, endpoint: str) -> Fields:
    """An email form fixture with fields dropped, replaced (text, bytes, JSON), repeated or added, or
    its raw mail damaged."""
    fields = list(draw(st.sampled_from(email_forms(endpoint))))
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        if not fields:
            break
        action = draw(st.sampled_from(["drop", "replace", "replace", "repeat", "add", "mail"]))
        index = draw(st.integers(min_value=0, max_value=len(fields) - 1))
        name, value = fields[index]
        new_value: str | bytes = draw(st.one_of(hostile_text, hostile_bytes, hostile_json_text))
        if action == "drop":
            del fields[index]
        elif action == "replace":
            fields[index] = (name, new_value)
        elif action == "repeat":
            fields.append((name, new_value))
        elif action == "add":
            fields.append((draw(st.sampled_from(_EMAIL_FIELDS)), new_value))
        elif isinstance(value, bytes):
            fields[index] = (name, _mutated_mail(value, draw))
    return fields
