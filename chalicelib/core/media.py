"""Attachment URLs: the hub keeps them as metadata and only ever fetches from provider hosts (no SSRF)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit


def is_provider_media_url(url: str, allowed_hosts: Iterable[str]) -> bool:
    """True for an ``https`` URL on one of the provider's own hosts (exact or a subdomain of it)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    host = (parts.hostname or "").lower().rstrip(".")
    if parts.scheme != "https" or not host or parts.username or parts.password:
        return False
    return any(host == allowed or host.endswith("." + allowed) for allowed in allowed_hosts)
