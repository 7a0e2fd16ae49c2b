"""Twilio's webhook signature (``X-Twilio-Signature``), for every Twilio endpoint of the hub.

Exactly as the official SDK's ``RequestValidator`` checks it: base64(HMAC-SHA1(auth token, URL + every
form parameter as name + value, names sorted, the values of a repeated name sorted too)). The URL is
the one Twilio called: ``PUBLIC_BASE_URL`` + path + the query string as typed into the Console, which
the hub can only reconstruct (:func:`signed_url_candidates`). JSON bodies are signed over the URL alone,
and the URL then carries ``bodySHA256=<hex sha256 of the raw body>``, which must match. Twilio is
inconsistent about the port in the URL it signs, so, like the SDK, the URL is tried without any port and
with its port (the scheme's default port when none is given). A ``X-Twilio-Webhooks-Signature-Settings``
header may name ``HMAC_SHA256`` (Twilio's shared-key signing); the hub then uses SHA-256 with the same
configured secret and rejects algorithms it does not know.

Forged requests get 403: Twilio's own security guide and SDK middlewares answer a bad signature with
403 Forbidden, and Twilio does not retry a webhook that got a 4xx, so nothing loops.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
from collections.abc import Iterable, Mapping, Sequence
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from chalicelib.providers.base import (
    Secrets,
    SignatureError,
    WebhookRequest,
    constant_time_equal,
    require_secret,
)

SECRET_NAME = "TWILIO_AUTH_TOKEN"
SIGNATURE_HEADER = "x-twilio-signature"
SIGNATURE_SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
BODY_HASH_PARAMETER = "bodySHA256"
HMAC_SHA1 = "HMAC_SHA1"
HMAC_SHA256 = "HMAC_SHA256"
_HASHES = {HMAC_SHA1: hashlib.sha1, HMAC_SHA256: hashlib.sha256}
FORGED_STATUS = 403


def _signed_payload(url: str, params: Iterable[tuple[str, str]] | Mapping[str, str]) -> str:
    pairs = params.items() if isinstance(params, Mapping) else params
    grouped: dict[str, set[str]] = {}
    for name, value in pairs:
        grouped.setdefault(name, set()).add(value)
    # Python sorts str by code point, which is the "Unix-style case-sensitive" order Twilio uses;
    # equal values of a repeated name count once, as in the SDK.
    return url + "".join(name + value for name in sorted(grouped) for value in sorted(grouped[name]))


def twilio_signature(
    auth_token: str,
    url: str,
    params: Iterable[tuple[str, str]] | Mapping[str, str] = (),
    algorithm: str = HMAC_SHA1,
) -> str:
    """The ``X-Twilio-Signature`` value for ``url`` and form ``params``."""
    hash_function = _HASHES.get(algorithm.upper())
    if hash_function is None:
        raise ValueError(f"unsupported Twilio signature algorithm: {algorithm}")
    mac = hmac.new(auth_token.encode(), _signed_payload(url, params).encode(), hash_function)
    return base64.b64encode(mac.digest()).decode()


def sign_twilio_request(auth_token: str, url: str, params: Iterable[tuple[str, str]] | Mapping[str, str]) -> str:
    """Sign a form-encoded webhook as Twilio does (``url`` is the full public URL, query included)."""
    return twilio_signature(auth_token, url, params)


def body_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def sign_twilio_json_request(auth_token: str, url: str, body: bytes) -> tuple[str, str]:
    """Sign a JSON webhook: returns ``(url with bodySHA256 appended, signature)``."""
    separator = "&" if urlsplit(url).query else "?"
    signed_url = f"{url}{separator}{BODY_HASH_PARAMETER}={body_sha256(body)}"
    return signed_url, twilio_signature(auth_token, signed_url)


def _url_variants(url: str) -> list[str]:
    """The URL without any port and with its port (default port added), as the SDK tries them."""
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    userinfo = parts.netloc[: len(parts.netloc) - len(host)]
    hostname = host.rsplit(":", 1)[0] if not host.endswith("]") and ":" in host else host
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    without_port = urlunsplit(parts._replace(netloc=userinfo + hostname))
    with_port = urlunsplit(parts._replace(netloc=f"{userinfo}{hostname}:{port}"))
    return [without_port, with_port]


# RFC 3986 lets these stand unencoded in a query; a URL typed into the Console often has them raw,
# one built by a library has them percent-encoded. "=" only inside a value ("token=abc==").
_QUERY_RAW_ALLOWED = "/?:@!$'()*,;"


def _encode_query_part(text: str, *, raw_reserved: bool, tilde_encoded: bool, plus_for_space: bool,
                       is_value: bool) -> str:
    safe = (_QUERY_RAW_ALLOWED + ("=" if is_value else "")) if raw_reserved else ""
    # surrogatepass: a gateway that decoded %ED%A0%BD to a lone surrogate gets the same bytes back.
    encoded = quote(text, safe=safe, errors="surrogatepass")
    if tilde_encoded:
        encoded = encoded.replace("~", "%7E")
    if plus_for_space:
        encoded = encoded.replace("%20", "+")
    return encoded


def query_encodings(pairs: Sequence[tuple[str, str]]) -> list[str]:
    """The query strings Twilio may have signed for these decoded ``pairs``: at most 16, no duplicates.

    One choice per way of writing, applied to the whole query: a space as ``%20`` or ``+``; the
    characters RFC 3986 allows in a query (``/ ? : @ ! $ ' ( ) * , ;`` and ``=`` in a value) raw or
    percent-encoded; ``~`` raw or ``%7E``; an empty value as ``name=`` or a bare ``name``. Only the
    choices that change something for these pairs are tried. Every candidate decodes to the same pairs,
    so accepting any of them accepts nothing Twilio did not sign.
    """
    texts = [part for pair in pairs for part in pair]
    relevant = (
        any(" " in text for text in texts),
        any(ch in _QUERY_RAW_ALLOWED for text in texts for ch in text) or any("=" in value for _, value in pairs),
        any("~" in text for text in texts),
        any(value == "" for _, value in pairs),
    )
    choices = [(False, True) if matters else (False,) for matters in relevant]
    encodings: list[str] = []
    for plus_for_space, raw_reserved, tilde_encoded, bare_empty in itertools.product(*choices):
        style = {"raw_reserved": raw_reserved, "tilde_encoded": tilde_encoded, "plus_for_space": plus_for_space}
        query = "&".join(
            _encode_query_part(name, is_value=False, **style)
            + ("" if bare_empty and value == "" else "=" + _encode_query_part(value, is_value=True, **style))
            for name, value in pairs
        )
        if query not in encodings:
            encodings.append(query)
    return encodings


def _query_pairs(request: WebhookRequest) -> list[tuple[str, str]]:
    if request.query_pairs:
        return list(request.query_pairs)
    # A request built without the gateway's pairs (tests, tools): the query of the public URL.
    return parse_qsl(urlsplit(request.public_url).query, keep_blank_values=True)


def signed_url_candidates(request: WebhookRequest) -> list[str]:
    """Every URL Twilio may have signed for this request, each without and with its port.

    API Gateway (REST) hands the Lambda the query decoded, so the URL typed into the Console cannot be
    rebuilt byte for byte: the raw query when the gateway passes one, the hub's own encoding, then the
    few other encodings of the same parameters (:func:`query_encodings`).
    """
    base, _, rebuilt_query = request.public_url.partition("?")
    queries = [request.raw_query] if request.raw_query is not None else []
    queries += [rebuilt_query, *query_encodings(_query_pairs(request))]
    candidates: list[str] = []
    for query in dict.fromkeys(queries):
        for url in _url_variants(base + ("?" + query if query else "")):
            if url not in candidates:
                candidates.append(url)
    return candidates


def _signature_algorithm(settings_header: str | None) -> str:
    for part in (settings_header or "").split(","):
        name, separator, value = part.partition("=")
        if separator and name.strip() == "algorithm" and value.strip():
            algorithm = value.strip().upper()
            if algorithm not in _HASHES:
                raise SignatureError(f"unsupported signature algorithm {value.strip()!r}")
            return algorithm
    return HMAC_SHA1


def _signed_form_params(body: bytes) -> list[tuple[str, str]]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as err:
        # Twilio signs UTF-8 text: a body that is not UTF-8 cannot carry its signature.
        raise SignatureError("the form body is not UTF-8") from err
    return parse_qsl(text, keep_blank_values=True)


def verify_twilio_signature(request: WebhookRequest, secrets: Secrets, now: float) -> None:
    """Raise :class:`SignatureError` unless Twilio signed this request (``now`` is unused: no timestamp)."""
    auth_token = require_secret(secrets, SECRET_NAME)
    signature = (request.header(SIGNATURE_HEADER) or "").strip()
    if not signature:
        raise SignatureError("missing X-Twilio-Signature")
    if not request.public_url:
        raise SignatureError("the public URL Twilio signed is unknown (set PUBLIC_BASE_URL)")
    algorithm = _signature_algorithm(request.header(SIGNATURE_SETTINGS_HEADER))
    pairs = _query_pairs(request)
    params: list[tuple[str, str]] = []
    body_hash = next((value for name, value in pairs if name == BODY_HASH_PARAMETER), None)
    if body_hash is not None:
        if not constant_time_equal(body_sha256(request.body), body_hash.strip().lower()):
            raise SignatureError("bodySHA256 does not match the body")
    else:
        params = _signed_form_params(request.body)
    for candidate in signed_url_candidates(request):
        if constant_time_equal(twilio_signature(auth_token, candidate, params, algorithm), signature):
            return
    raise SignatureError("X-Twilio-Signature mismatch")
