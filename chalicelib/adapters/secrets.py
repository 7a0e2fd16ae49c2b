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

# contract secret name → the provider secret that holds it
SECRET_GROUPS: dict[str, str] = {
    "OMNIHUB_API_SIGNING_SECRET": "api",
    "OMNIHUB_API_KEYS": "api",
    "TWILIO_AUTH_TOKEN": "twilio",
    "TWILIO_ACCOUNT_SID": "twilio",
    "META_APP_SECRET": "meta",
    "META_VERIFY_TOKEN": "meta",
    "META_ACCESS_TOKEN": "meta",
    "TELEGRAM_SECRET_TOKEN": "telegram",
    "TELEGRAM_BOT_TOKEN": "telegram",
    "LINE_CHANNEL_SECRET": "line",
    "LINE_CHANNEL_ACCESS_TOKEN": "line",
    "VIBER_AUTH_TOKEN": "viber",
    "X_CONSUMER_SECRET": "x",
    "X_BEARER_TOKEN": "x",
    "VONAGE_SIGNATURE_SECRET": "vonage",
    "VONAGE_API_KEY": "vonage",
    "VONAGE_API_SECRET": "vonage",
    "VONAGE_APPLICATION_ID": "vonage",
    "VONAGE_PRIVATE_KEY": "vonage",
    "SENDGRID_INBOUND_TOKEN": "sendgrid",
    "MAILGUN_SIGNING_KEY": "mailgun",
    "POSTMARK_INBOUND_USER": "postmark",
    "POSTMARK_INBOUND_PASSWORD": "postmark",
    "OMNIHUB_ID_KEY": "ids",  # generated at deploy, not a provider's (chalicelib/adapters/id_keys.py)
}

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
