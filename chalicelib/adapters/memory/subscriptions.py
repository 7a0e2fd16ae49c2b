"""The in-memory twin of :class:`~chalicelib.core.ports.SubscriptionConfirmer`: the same URL rule as
the HTTP adapter, and a list of the URLs it confirmed (``fail`` makes the next confirmations fail)."""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.adapters.sns_subscriptions import ConfirmationFailed, ConfirmationRefused
from chalicelib.providers.sns import SNS_API_URL, local_subscribe_url_allowed


@dataclass
class MemorySubscriptionConfirmer:
    local_subscribe_url: str | None = None
    confirmed: list[str] = field(default_factory=list)
    fail: bool = False

    def confirm(self, url: str) -> None:
        if not ((SNS_API_URL.match(url) and url.isascii() and url.isprintable())
                or local_subscribe_url_allowed(url, self.local_subscribe_url)):
            raise ConfirmationRefused("not an Amazon SNS subscribe URL")
        if self.fail:
            raise ConfirmationFailed("subscribe answer 503")
        self.confirmed.append(url)
