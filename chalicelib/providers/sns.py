"""Amazon SNS deliveries to an HTTPS endpoint: signature, certificate origin, topic.

Follows "Verifying the signatures of Amazon SNS messages" (SNS developer guide) and the behaviour of
AWS's own validators (aws-php-sns-message-validator, aws-js-sns-message-validator):

- the string to sign is ``Name\\nValue\\n`` for each signed field in byte order — ``Message``,
  ``MessageId``, ``Subject`` (only if present), ``Timestamp``, ``TopicArn``, ``Type`` for a
  ``Notification``; ``Message``, ``MessageId``, ``SubscribeURL``, ``Timestamp``, ``Token``,
  ``TopicArn``, ``Type`` for ``SubscriptionConfirmation`` and ``UnsubscribeConfirmation``;
- ``SignatureVersion`` 1 is RSA PKCS#1 v1.5 with SHA-1, version 2 the same with SHA-256;
- the certificate is taken only from ``https://sns.<region>.amazonaws.com[.cn]/<name>.pem``
  (:data:`CERTIFICATE_URL`: the whole URL is matched, so no user info, port, query or other host gets
  through), fetched through an injected :data:`CertificateSource` (this module makes no network call)
  and cached by URL (:class:`CertificateCache`); it must be valid at the time of the check;
- the ``TopicArn`` must be one the deployment configured, checked before any certificate is fetched.

RSA is verified with the ``cryptography`` package, imported only when an SNS message is checked, so
no other endpoint pays for it. The local stack signs with its own self-signed certificate, which a
:class:`SnsTrust` accepts only when the local stage configured it (see ``ses.sns_trust_from_environ``).
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.core.errors import ConfigError, RetryableError
from chalicelib.providers.base import SignatureError

SIGNED_FIELDS: Mapping[str, tuple[str, ...]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}
OPTIONAL_FIELDS = frozenset({"Subject"})
CERTIFICATE_URL = re.compile(r"^https://sns\.[a-z0-9-]{3,}\.amazonaws\.com(?:\.cn)?/[A-Za-z0-9._-]{1,200}\.pem$")
SNS_API_URL = re.compile(r"^https://sns\.[a-z0-9-]{3,}\.amazonaws\.com(?:\.cn)?/\?")
MAX_SIGNATURE_BYTES = 1024
MAX_CACHED_CERTIFICATES = 16

CertificateSource = Callable[[str], bytes]  # URL → PEM bytes; raises on any failure to fetch


class CertificateUnavailable(RetryableError):
    """The signing certificate could not be fetched or read: SNS retries the delivery (5xx)."""


@dataclass(frozen=True, slots=True)
class SnsTrust:
    """What a deployment trusts: its topics, and (local stage only) its own signing certificate."""

    topic_arns: frozenset[str]
    local_certificate_url: str | None = None
    local_certificate_pem: bytes | None = None
    local_subscribe_url: str | None = None  # a loopback fake's confirm endpoint (prefix)


LOOPBACK_PREFIXES = ("http://127.0.0.1:", "http://localhost:")


def local_subscribe_url_allowed(url: str, local_prefix: str | None) -> bool:
    """The local stage's own subscribe endpoint: a loopback ``http://`` prefix the deployment named."""
    if not local_prefix or not local_prefix.startswith(LOOPBACK_PREFIXES):
        return False
    return url.startswith(local_prefix) and len(url) <= 2_000 and url.isascii() and url.isprintable()


class CertificateCache:
    """Certificates by URL (a few, least recently used out): SNS signs with one certificate per region
    for months, so a warm Lambda fetches it once."""

    def __init__(self, source: CertificateSource, *, max_entries: int = MAX_CACHED_CERTIFICATES) -> None:
        self._source = source
        self._max_entries = max_entries
        self._entries: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, url: str) -> Any:
        with self._lock:
            if url in self._entries:
                self._entries.move_to_end(url)
                return self._entries[url]
        try:
            pem = self._source(url)
        except Exception as err:  # the fetcher's own error text never reaches a response
            raise CertificateUnavailable("the SNS signing certificate could not be fetched") from err
        certificate = load_certificate(pem)
        with self._lock:
            self._entries[url] = certificate
            while len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        return certificate


def load_certificate(pem: bytes) -> Any:
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(pem)
    except (ValueError, TypeError) as err:
        raise CertificateUnavailable("the SNS signing certificate is not a PEM certificate") from err


def string_to_sign(message: Mapping[str, Any]) -> bytes:
    fields = SIGNED_FIELDS.get(str(message.get("Type")))
    if fields is None:
        raise SignatureError("not an SNS message type")
    parts = []
    for name in fields:
        value = message.get(name)
        if value is None and name in OPTIONAL_FIELDS:
            continue
        if not isinstance(value, str):
            raise SignatureError(f"SNS field {name} missing or not a string")
        parts.append(f"{name}\n{value}\n")
    try:
        return "".join(parts).encode("utf-8")
    except UnicodeEncodeError as err:  # a lone surrogate: SNS never signs one
        raise SignatureError("SNS message is not valid UTF-8 text") from err


def _hash_for(version: Any) -> Any:
    from cryptography.hazmat.primitives import hashes

    if version == "1":
        return hashes.SHA1()  # noqa: S303 - SNS SignatureVersion 1 is SHA1withRSA by definition
    if version == "2":
        return hashes.SHA256()
    raise SignatureError("unsupported SignatureVersion")


def verify_sns_message(message: Mapping[str, Any], *, trust: SnsTrust, certificates: Callable[[str], Any],
                       now: float) -> None:
    """Raise :class:`SignatureError` unless SNS signed ``message`` for a configured topic.

    ``certificates`` is a :class:`CertificateCache` or a bare :data:`CertificateSource`; a certificate
    that cannot be had raises :class:`CertificateUnavailable` (retryable: answer 503).
    """
    if not trust.topic_arns:
        raise ConfigError("no SNS topic is configured for this endpoint")
    if message.get("TopicArn") not in trust.topic_arns:
        raise SignatureError("SNS topic not configured for this endpoint")
    signed = string_to_sign(message)
    algorithm = _hash_for(message.get("SignatureVersion"))
    try:
        signature = base64.b64decode(str(message.get("Signature") or ""), validate=True)
    except (binascii.Error, ValueError) as err:
        raise SignatureError("SNS signature is not base64") from err
    if not signature or len(signature) > MAX_SIGNATURE_BYTES:
        raise SignatureError("SNS signature missing or oversized")
    certificate = _certificate(str(message.get("SigningCertURL") or ""), trust, certificates)
    _check_validity(certificate, now)
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SignatureError("SNS signing certificate is not RSA")
    try:
        public_key.verify(signature, signed, padding.PKCS1v15(), algorithm)
    except InvalidSignature as err:
        raise SignatureError("SNS signature mismatch") from err


def _certificate(url: str, trust: SnsTrust, certificates: Callable[[str], Any]) -> Any:
    if trust.local_certificate_pem and trust.local_certificate_url and url == trust.local_certificate_url:
        return load_certificate(trust.local_certificate_pem)
    if not CERTIFICATE_URL.match(url):
        raise SignatureError("SigningCertURL is not an Amazon SNS certificate URL")
    try:
        found = certificates(url)
    except (SignatureError, CertificateUnavailable):
        raise
    except Exception as err:  # a bare fetcher's own error text never reaches a response
        raise CertificateUnavailable("the SNS signing certificate could not be fetched") from err
    # A CertificateCache returns the loaded certificate; a bare CertificateSource, its PEM.
    return load_certificate(found) if isinstance(found, bytes) else found


def _check_validity(certificate: Any, now: float) -> None:
    moment = datetime.fromtimestamp(now, UTC)
    if not certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc:
        raise SignatureError("SNS signing certificate is not valid now")


def sign_sns_message(message: dict[str, Any], private_key: Any, *, certificate_url: str,
                     version: str = "2") -> dict[str, Any]:
    """``message`` signed as SNS signs it (for the local stack's simulator and the tests)."""
    from cryptography.hazmat.primitives.asymmetric import padding

    signed = dict(message, SignatureVersion=version, SigningCertURL=certificate_url)
    signature = private_key.sign(string_to_sign(signed), padding.PKCS1v15(), _hash_for(version))
    signed["Signature"] = base64.b64encode(signature).decode("ascii")
    return signed
