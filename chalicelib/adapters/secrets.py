"""Provider secrets: an environment variable of the contract's name wins over the secret store.

On AWS a provider's secrets live in Secrets Manager secrets ``omnihub/{stage}/{group}``, JSON objects
whose keys are the contract's names (``{"TWILIO_AUTH_TOKEN": "..."}``), cached for
``secrets_max_age_seconds``. A provider's names are split by who reads them (:data:`STORED_SECRETS`),
so each function's role can be granted only its half: what checks inbound traffic (the API function)
and what sends (the outbound function). The client is built only when a secret is missing from the
environment, so the webhook path pays nothing for it locally.

A secret store that fails is not a secret that is empty: throttling, an outage, a denied read or a
secret that is not a JSON object raise :class:`SecretsUnavailable` (the webhook answers 503 and the
provider retries); only a secret that is missing or empty reads as "not configured" (refused).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.adapters.observability import count, logger
from chalicelib.adapters.settings import Settings
from chalicelib.core.errors import RetryableError
from chalicelib.providers.registry import REGISTRY, ProviderEntry

# The deployment's id key (chalicelib/adapters/id_keys.py): generated at deploy, not a provider's.
ID_KEY_SECRET = "OMNIHUB_ID_KEY"
ID_KEY_GROUP = "ids"  # omnihub/{stage}/ids, apart from the provider secrets

# Who reads a stored secret: the function that checks inbound traffic, the one that sends, or both.
VERIFY = "verify"  # the API function (webhooks and the REST keys)
SEND = "send"  # the outbound function (the senders)
SEND_SUFFIX = "-send"  # omnihub/{stage}/{group}-send: a provider's sending credentials
SHARED_SUFFIX = "-shared"  # only for a provider with verify-only names and a name both halves use


@dataclass(frozen=True, slots=True)
class StoredSecret:
    """One Secrets Manager secret ``omnihub/{stage}/{group}``: the names it holds and who may read it."""

    group: str
    names: tuple[str, ...]  # sorted
    readers: frozenset[str]  # VERIFY, SEND or both


def stored_secrets(entry: ProviderEntry) -> tuple[StoredSecret, ...]:
    """A provider's names split so that every secret holds only what each of its readers uses.

    ``{group}`` keeps the names that check inbound traffic and ``{group}-send`` the sending
    credentials. A name both halves use (Twilio's auth token signs webhooks and authenticates the
    REST API; Viber's token does both too) is stored once and read by both functions: in
    ``{group}`` when the provider has no verify-only name (then the outbound function reads nothing
    there it does not use), else in a third secret ``{group}-shared``.
    """
    if not entry.secret_group:
        return ()
    group = entry.secret_group
    shared = sorted(set(entry.verify_secrets) & set(entry.send_secrets))
    verify_only = sorted(set(entry.verify_secrets) - set(shared))
    send_only = sorted(set(entry.send_secrets) - set(shared))
    found = []
    if verify_only:
        found.append(StoredSecret(group, tuple(verify_only), frozenset({VERIFY})))
    if shared:
        found.append(StoredSecret(group + SHARED_SUFFIX if verify_only else group, tuple(shared),
                                  frozenset({VERIFY, SEND})))
    if send_only:
        found.append(StoredSecret(group + SEND_SUFFIX, tuple(send_only), frozenset({SEND})))
    return tuple(found)


# Every provider secret the deployment holds: a view of the registry's verify_secrets / send_secrets.
STORED_SECRETS: tuple[StoredSecret, ...] = tuple(secret for entry in REGISTRY for secret in stored_secrets(entry))

# contract secret name → the secret that holds it (the stored provider secrets, plus the id key)
SECRET_GROUPS: dict[str, str] = {
    **{name: secret.group for secret in STORED_SECRETS for name in secret.names},
    ID_KEY_SECRET: ID_KEY_GROUP,
}

SECRET_GROUP_NAMES: tuple[str, ...] = tuple(sorted(set(SECRET_GROUPS.values())))


def groups_read_by(reader: str) -> tuple[str, ...]:
    """The provider secrets (groups, sorted) that ``reader`` (VERIFY or SEND) needs: exactly its half."""
    return tuple(sorted(secret.group for secret in STORED_SECRETS if reader in secret.readers))


def stored_secret(group: str) -> StoredSecret:
    """The stored provider secret of one group; KeyError for the id key or an unknown group."""
    return _BY_GROUP[group]


_BY_GROUP = {secret.group: secret for secret in STORED_SECRETS}
if len(_BY_GROUP) != len(STORED_SECRETS) or ID_KEY_GROUP in _BY_GROUP:
    raise ValueError("two stored secrets share a group: rename a provider's secret_group")


def secret_id(stage: str, group: str) -> str:
    return f"omnihub/{stage}/{group}"


class SecretsUnavailable(RetryableError):
    """The secret store could not be read (or holds something unreadable): retry later."""


class SecretSource:
    """Reads named secrets: environment first, then the provider's Secrets Manager secret."""

    def __init__(self, settings: Settings, client_factory: Callable[[], Any] | None = None) -> None:
        self._settings = settings
        self._client_factory = client_factory
        self._client: Any = None
        self._cache: dict[str, tuple[float, Mapping[str, Any]]] = {}

    def get(self, name: str) -> str | None:
        value = self._settings.environ.get(name)
        if value:
            return value
        group = SECRET_GROUPS.get(name)
        if group is None:
            return None
        found = self._group(group).get(name)
        return str(found) if found else None

    def get_many(self, names: Iterable[str]) -> Mapping[str, str]:
        found: dict[str, str] = {}
        for name in names:
            value = self.get(name)
            if value:
                found[name] = value
        return found

    def clear_cache(self) -> None:
        """Forget every secret read (tests: each handler is its own Lambda function on AWS)."""
        self._cache.clear()

    def _group(self, group: str) -> Mapping[str, Any]:
        cached = self._cache.get(group)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        value = self._read(secret_id(self._settings.stage, group))
        self._cache[group] = (time.monotonic() + self._settings.secrets_max_age_seconds, value)
        return value

    def _read(self, name: str) -> Mapping[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = self._secrets_manager().get_secret_value(SecretId=name)
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                logger.error("secret does not exist: every request that needs it is refused", extra={"secret": name})
                return {}
            raise self._unavailable(name, code) from err
        except BotoCoreError as err:
            raise self._unavailable(name, type(err).__name__) from err
        text = response.get("SecretString") or ""
        if not text.strip():
            return {}  # created empty by infra/: not configured yet
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if not isinstance(value, dict):
            # Never the value: it is a secret.
            raise self._unavailable(name, "not a JSON object")
        return value

    def _unavailable(self, name: str, why: str) -> SecretsUnavailable:
        logger.error("secret store unavailable", extra={"secret": name, "error": why})
        count("SecretsUnavailable")
        return SecretsUnavailable("the secret store is unavailable, retry later")

    def _secrets_manager(self) -> Any:
        if self._client is None:
            if self._client_factory is not None:
                self._client = self._client_factory()
            else:
                import boto3

                self._client = boto3.session.Session().client(
                    "secretsmanager",
                    region_name=self._settings.region,
                    endpoint_url=self._settings.aws_endpoint_url,
                )
        return self._client
