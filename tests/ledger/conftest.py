"""The ledger's hub: the shared moto-in-process hub, the development secrets, a provider sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import Hub


@dataclass
class LedgerHub:
    hub: Hub
    sandbox_url: str
    secrets: dict[str, str]


@pytest.fixture
def ledger_hub(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> Iterator[LedgerHub]:
    from chalicelib.adapters import runtime
    from chalicelib.handlers import wiring
    from devstack.moto_tuning import tune_moto
    from devstack.run import DEV_SECRETS
    from devstack.sandbox import sandbox_environment, start_sandbox
    from devstack.simulators.email import local_sns_environment

    tune_moto()  # as the dev stack runs moto: a message's cost does not grow with the table and queues
    server, url = start_sandbox(0)
    secrets = {**DEV_SECRETS, **local_sns_environment()}
    for key, value in {**secrets, **sandbox_environment(url)}.items():
        monkeypatch.setenv(key, value)
    # The email acknowledgments leave through SES (moto), which sends only from a verified identity.
    from devstack.simulators.email import LOCAL_MAILBOX

    ses = hub.session.client("sesv2")
    for identity in {secrets["OMNIHUB_EMAIL_FROM"], LOCAL_MAILBOX, LOCAL_MAILBOX.split("@")[1]}:
        ses.create_email_identity(EmailIdentity=identity)
    runtime.reset()
    hub.app_module._outbound_ports.cache_clear()
    wiring.ses_channel_for.cache_clear()
    yield LedgerHub(hub, url, secrets)
    server.shutdown()
    wiring.ses_channel_for.cache_clear()
