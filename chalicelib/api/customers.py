"""PATCH /customers/{id}: what a CRM sets on a customer (tier, tags, name, language).

The body is checked whole before anything is written; only fields whose value differs are written,
with the profile's version as the condition (a concurrent PATCH makes us read again), and a change
is reported once as ``customer_updated``. A PATCH that changes nothing writes and publishes nothing.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from chalicelib.adapters.sqs import SqsBus
from chalicelib.api.queries import customer_answer
from chalicelib.conversations.lifecycle import customer_updated_event, publish_lifecycle
from chalicelib.core.errors import BadRequest, Conflict, NotFound
from chalicelib.core.language import normalize_language_tag
from chalicelib.core.ports import Repositories
from chalicelib.core.timestamps import utc_now

PROFILE_FIELDS = ("tier", "tags", "name", "language")
MAX_NAME_CHARS = 200
MAX_TAGS = 20
MAX_LANGUAGE_CHARS = 35  # BCP 47's practical limit
# A tier or a tag: a short lower-case token, as routing rules compare them ("vip", "gold", "press").
TOKEN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")
_CUSTOMER_ID = re.compile(r"^cus_[0-9a-z]{1,60}$")
_ATTEMPTS = 3


def update_customer(repos: Repositories, customer_id: str, body: Any, *, bus: SqsBus) -> dict[str, Any]:
    """Apply the PATCH; answers the customer as ``GET /customers/lookup`` shows them."""
    wanted = validated_profile(body)
    if not _CUSTOMER_ID.match(customer_id):  # never a store key from a path we did not issue
        raise NotFound("no such customer")
    for _ in range(_ATTEMPTS):
        customer = repos.customers.get(customer_id, consistent=True)
        if customer is None:
            raise NotFound("no such customer")
        current = {"tier": customer.tier, "tags": customer.tags, "name": customer.name, "language": customer.language}
        changes = {field: value for field, value in wanted.items() if current[field] != value}
        if not changes:
            return customer_answer(repos, customer)
        updated = repos.customers.update_profile(customer_id, changes, expected_version=customer.profile_version)
        if updated is not None:
            publish_lifecycle(bus, [customer_updated_event(updated, [f for f in PROFILE_FIELDS if f in changes],
                                                           utc_now())])
            return customer_answer(repos, updated)
    raise Conflict("the customer was being changed by another request; retry")


def validated_profile(body: Any) -> dict[str, Any]:
    """The fields to set, normalized: tier and tags lower-case tokens, name trimmed, language a
    normalized BCP 47 tag; ``null`` clears name and language, ``[]`` clears tags."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object with tier, tags, name or language")
    if set(body) - set(PROFILE_FIELDS):
        raise BadRequest("only tier, tags, name and language can be set")
    if not body:
        raise BadRequest("nothing to change: give tier, tags, name or language")
    wanted: dict[str, Any] = {}
    if "tier" in body:
        wanted["tier"] = _token(body["tier"], "tier")
    if "tags" in body:
        tags = body["tags"]
        if not isinstance(tags, list) or len(tags) > MAX_TAGS:
            raise BadRequest(f"tags must be a list of at most {MAX_TAGS} tags")
        wanted["tags"] = tuple(dict.fromkeys(_token(tag, "each tag") for tag in tags))
    if "name" in body:
        wanted["name"] = _name(body["name"])
    if "language" in body:
        wanted["language"] = _language(body["language"])
    return wanted


def _token(value: Any, what: str) -> str:
    token = value.strip().lower() if isinstance(value, str) else None
    if token is None or not TOKEN.match(token):
        raise BadRequest(f"{what} must be a short token: letters, digits, '-', '_' or '.', at most 32 characters")
    return token


def _name(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_CHARS:
        raise BadRequest(f"name must be a non-empty text of at most {MAX_NAME_CHARS} characters, or null")
    name = value.strip()
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in name):  # control characters, lone surrogates
        raise BadRequest("name must be printable text")
    return name


def _language(value: Any) -> str | None:
    if value is None:
        return None
    tag = normalize_language_tag(value) if isinstance(value, str) and len(value) <= MAX_LANGUAGE_CHARS else None
    if tag is None:
        raise BadRequest("language must be a language tag such as it, en or pt-BR, or null")
    return tag
