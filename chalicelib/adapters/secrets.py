"""Provider secrets: an environment variable of the contract's name wins over the secret store.

On AWS each provider has one Secrets Manager secret, ``omnihub/{stage}/{group}``, a JSON object
whose keys are the contract's names (``{"TWILIO_AUTH_TOKEN": "..."}``). It is read with
Powertools Parameters, cached for ``secrets_max_age_seconds``, and imported only when a secret
is missing from the environment, so the webhook path pays nothing for it locally.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.adapters.settings import Settings
from chalicelib.providers.registry import secret_groups

# contract secret name → the provider secret that holds it (a view of the provider registry)
SECRET_GROUPS: dict[str, str] = secret_groups()

SECRET_GROUP_NAMES: tuple[str, ...] = tuple(sorted(set(SECRET_GROUPS.values())))


def secret_id(stage: str, group: str) -> str:
    return f"omnihub/{stage}/{group}"


class SecretSource:
    """Reads named secrets: environment first, then the provider's Secrets Manager secret."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def get(self, name: str) -> str | None:
        value = self._settings.environ.get(name)
        if value:
            return value
        group = SECRET_GROUPS.get(name)
        if group is None:
            return None
        stored = self._group(group)
        found = stored.get(name)
        return str(found) if found else None

    def get_many(self, names: Iterable[str]) -> Mapping[str, str]:
        found: dict[str, str] = {}
        for name in names:
            value = self.get(name)
            if value:
                found[name] = value
        return found

    def _group(self, group: str) -> Mapping[str, Any]:
        from aws_lambda_powertools.utilities import parameters

        try:
            value = parameters.get_secret(
                secret_id(self._settings.stage, group),
                transform="json",
                max_age=self._settings.secrets_max_age_seconds,
            )
        except parameters.exceptions.GetParameterError:
            return {}
        return value if isinstance(value, dict) else {}
