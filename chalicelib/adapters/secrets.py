"""Provider secrets: an environment variable of the contract's name wins over the secret store.

On AWS each provider has one Secrets Manager secret, ``omnihub/{stage}/{group}``, a JSON object
whose keys are the contract's names (``{"TWILIO_AUTH_TOKEN": "..."}``), cached for
``secrets_max_age_seconds``. The client is built only when a secret is missing from the
environment, so the webhook path pays nothing for it locally.

A secret store that fails is not a secret that is empty: throttling, an outage, a denied read or a
secret that is not a JSON object raise :class:`SecretsUnavailable` (the webhook answers 503 and the
provider retries); only a secret that is missing or empty reads as "not configured" (refused).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from chalicelib.adapters.observability import count, logger
from chalicelib.adapters.settings import Settings
from chalicelib.core.errors import RetryableError
from chalicelib.providers.registry import secret_groups

# The deployment's id key (chalicelib/adapters/id_keys.py): generated at deploy, not a provider's.
ID_KEY_SECRET = "OMNIHUB_ID_KEY"
ID_KEY_GROUP = "ids"  # omnihub/{stage}/ids, apart from the provider secrets: only two functions read it

# contract secret name → the secret that holds it (a view of the provider registry, plus the id key)
SECRET_GROUPS: dict[str, str] = {**secret_groups(), ID_KEY_SECRET: ID_KEY_GROUP}

SECRET_GROUP_NAMES: tuple[str, ...] = tuple(sorted(set(SECRET_GROUPS.values())))


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
