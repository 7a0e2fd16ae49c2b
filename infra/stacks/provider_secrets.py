"""One Secrets Manager secret per provider group of the provider registry, created with empty values.

Empty, not a placeholder word: ``SecretSource.get`` treats an empty value as missing, so an
unfilled secret can never be used to sign a forged webhook. Values are set once with
``aws secretsmanager put-secret-value`` (docs/deploy.md); CloudFormation never rewrites them,
because ``GenerateSecretString`` only applies when the secret is created.
"""

from __future__ import annotations

import json

from aws_cdk import RemovalPolicy
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from chalicelib.adapters.secrets import SECRET_GROUP_NAMES, secret_id
from chalicelib.providers.registry import group_secrets
from infra.stacks.settings import DeploySettings


def secret_keys(group: str) -> list[str]:
    """The keys of one group's secret: every name the registry's entries of that group read."""
    return list(group_secrets(group))


def build_secrets(scope: Construct, settings: DeploySettings) -> dict[str, secretsmanager.Secret]:
    secrets: dict[str, secretsmanager.Secret] = {}
    for group in SECRET_GROUP_NAMES:
        template = {name: "" for name in secret_keys(group)}
        secret = secretsmanager.Secret(
            scope,
            f"Secret{group.capitalize()}",
            secret_name=secret_id(settings.stage, group),
            description=f"Omnihub {settings.stage}: {group} credentials ({', '.join(template)})",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps(template, sort_keys=True),
                generate_string_key="_created",  # required by the API; ignored by the app
                password_length=8,
                exclude_punctuation=True,
            ),
            removal_policy=RemovalPolicy.RETAIN if settings.retain_data else RemovalPolicy.DESTROY,
        )
        secrets[group] = secret
    return secrets
