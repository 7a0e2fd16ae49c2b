"""The HTTPS GET that confirms an Amazon SNS subscription: the ``SubscribeURL`` of a
``SubscriptionConfirmation`` the SES endpoint verified and stored (the worker calls it, never the webhook).

Only an SNS API URL (``https://sns.<region>.amazonaws.com[.cn]/?...``, the same whole-prefix rule the
parser applied) is fetched, checked again here so this adapter can never be pointed elsewhere; on the
``local`` stage, one more prefix the deployment names (``OMNIHUB_SNS_TRUSTED_SUBSCRIBE_URL``, a loopback
``http://`` fake) is accepted too. No redirect is followed, the timeout is short, the answer is bounded
and must be a 200 (SNS answers ``ConfirmSubscriptionResponse`` XML); confirming twice is harmless.
"""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from urllib.parse import urlsplit

from chalicelib.core.errors import PermanentError, RetryableError
from chalicelib.providers.sns import SNS_API_URL, local_subscribe_url_allowed

TIMEOUT_SECONDS = 5.0
MAX_ANSWER_BYTES = 16 * 1024  # ConfirmSubscriptionResponse is a few hundred bytes


class ConfirmationFailed(RetryableError):
    """SNS did not confirm (network error, non-200): the worker's job is retried."""


class ConfirmationRefused(PermanentError):
    """A URL that is no SNS API URL: never fetched."""


@dataclass(frozen=True, slots=True)
class HttpSubscriptionConfirmer:
    local_subscribe_url: str | None = None  # local stage only (see ses.sns_trust_from_environ)
    timeout: float = TIMEOUT_SECONDS

    def confirm(self, url: str) -> None:
        parts = urlsplit(url)
        if SNS_API_URL.match(url) and url.isascii() and url.isprintable():
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(parts.netloc, timeout=self.timeout)
        elif local_subscribe_url_allowed(url, self.local_subscribe_url):
            connection = http.client.HTTPConnection(parts.netloc, timeout=self.timeout)
        else:
            raise ConfirmationRefused("not an Amazon SNS subscribe URL")
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("GET", target or "/", headers={"Accept": "application/xml, */*"})
            response = connection.getresponse()
            body = response.read(MAX_ANSWER_BYTES + 1)
        except (OSError, http.client.HTTPException) as err:
            raise ConfirmationFailed(type(err).__name__) from err
        finally:
            connection.close()
        if response.status != 200:  # a 3xx is not followed: SNS never redirects a confirmation
            raise ConfirmationFailed(f"subscribe answer {response.status}")
        if len(body) > MAX_ANSWER_BYTES:
            raise ConfirmationFailed("subscribe answer too large")
