"""The HTTPS GET of an Amazon SNS signing certificate, for the SNS verification in providers/sns.py.

Only a URL the verifier already accepted (``https://sns.<region>.amazonaws.com/<name>.pem``, the
whole URL matched) is fetched, again checked here so that this adapter can never be pointed
elsewhere; no redirect is followed, the answer is bounded, and the caller caches what it gets
(``CertificateCache``), so a warm Lambda fetches a region's certificate once.
"""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

from chalicelib.providers.sns import CERTIFICATE_URL, CertificateUnavailable

TIMEOUT_SECONDS = 5.0
MAX_CERTIFICATE_BYTES = 64 * 1024  # a PEM certificate is a few kilobytes


def fetch_sns_certificate(url: str, *, timeout: float = TIMEOUT_SECONDS) -> bytes:
    if not CERTIFICATE_URL.match(url):
        raise CertificateUnavailable("not an Amazon SNS certificate URL")
    parts = urlsplit(url)
    connection = http.client.HTTPSConnection(parts.netloc, timeout=timeout)
    try:
        connection.request("GET", parts.path, headers={"Accept": "application/x-pem-file, */*"})
        response = connection.getresponse()
        if response.status != 200:
            raise CertificateUnavailable(f"certificate answer {response.status}")
        body = response.read(MAX_CERTIFICATE_BYTES + 1)
    except (OSError, http.client.HTTPException) as err:
        raise CertificateUnavailable(type(err).__name__) from err
    finally:
        connection.close()
    if len(body) > MAX_CERTIFICATE_BYTES:
        raise CertificateUnavailable("certificate answer too large")
    return body
