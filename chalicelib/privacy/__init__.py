"""Privacy: a customer's export and erasure (``GET /customers/{id}/export``, ``DELETE /customers/{id}``)."""

from __future__ import annotations

from chalicelib.privacy.erasure import erase_customer
from chalicelib.privacy.export import export_customer
from chalicelib.privacy.ports import ErasureNotices, ErasureRecord, InboxCopy, ObjectStore, PrivacyStore

__all__ = ["ErasureNotices", "ErasureRecord", "InboxCopy", "ObjectStore", "PrivacyStore", "erase_customer",
           "export_customer"]
