"""The provider registry: each entry is consistent with the code it names, and everything else is its view."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest

from chalicelib.adapters.secrets import ID_KEY_GROUP, ID_KEY_SECRET, SECRET_GROUP_NAMES, SECRET_GROUPS
from chalicelib.adapters.settings import Settings
from chalicelib.core.model import Channel
from chalicelib.outbound import DEFAULT_API_BASES, PROVIDERS, build_senders, provider_for
from chalicelib.outbound.dispatch import RETRY_SAFE_PROVIDERS
from chalicelib.outbound.http import HttpClient
from chalicelib.outbound.senders.base import Sender, SenderContext
from chalicelib.providers import ENDPOINTS, ChannelSpec, WebhookRequest, channel_spec
from chalicelib.providers.registry import (
    REGISTRY,
    ProviderEntry,
    Simulator,
    WebhookEndpoint,
    check_registry,
    load,
    provider,
    secret_groups,
    senders_by_channel,
    sending_providers,
    simulators,
    webhook_endpoints,
)
from chalicelib.providers.ses import TRUSTED_SUBSCRIBE_URL_ENV
from devstack.cli import SIMULATORS
from devstack.run import DEV_SECRETS
from devstack.sandbox import ROUTES, sandbox_environment

ROOT = Path(__file__).resolve().parents[3]
PUBLIC_BASE_URL = "https://hub.example.com"
WEBHOOKS = [(entry, endpoint) for entry in REGISTRY for endpoint in entry.webhooks]
SIMULATED = [(entry, simulator) for entry in REGISTRY for simulator in entry.simulators]


# ---------------------------------------------------------------- cold start
def _modules_after(statement: str) -> set[str]:
    code = f"import sys; {statement}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


def test_importing_the_registry_loads_no_provider_sender_or_aws_library() -> None:
    loaded = _modules_after("import chalicelib.providers.registry")
    provider_modules = {target.partition(":")[0] for entry in REGISTRY for target in
                        [*(w.spec for w in entry.webhooks), *([entry.sender] if entry.sender else [])]}
    assert not loaded & provider_modules
    assert not {m for m in loaded if m.split(".")[0] in {"boto3", "botocore", "chalice", "devstack"}}
    assert not {m for m in loaded if m.startswith("chalicelib.outbound")}


def test_a_webhook_loads_only_its_own_provider_module() -> None:
    loaded = _modules_after("from chalicelib.providers import channel_spec; channel_spec('line')")
    assert "chalicelib.providers.line" in loaded
    others = {w.spec.partition(":")[0] for _, w in WEBHOOKS} - {"chalicelib.providers.line"}
    assert not loaded & others


# ---------------------------------------------------------------- each entry against the code it names
@pytest.mark.parametrize(("entry", "endpoint"), WEBHOOKS, ids=[w.name for _, w in WEBHOOKS])
def test_each_webhook_names_a_channel_spec_of_its_provider(entry: ProviderEntry, endpoint: WebhookEndpoint) -> None:
    spec = load(endpoint.spec)
    assert isinstance(spec, ChannelSpec)
    assert channel_spec(endpoint.name) is spec
    assert spec.provider == entry.name
    assert set(spec.secret_names) <= set(entry.verify_secrets), "a webhook reads only verify secrets"
    assert endpoint.instant_ack == (spec.instant_reply is not None)
    assert endpoint.path.startswith("/webhooks/")
    assert endpoint.methods and set(endpoint.methods) <= {"GET", "POST"}


@pytest.mark.parametrize("entry", [e for e in REGISTRY if e.sender], ids=lambda e: e.name)
def test_each_sender_factory_builds_that_providers_sender(entry: ProviderEntry) -> None:
    secrets = {name: f"{name.lower()}-value" for name in entry.send_secrets}
    if "VONAGE_PRIVATE_KEY" in secrets:  # the key pair is one alternative; API key and secret the other
        del secrets["VONAGE_PRIVATE_KEY"], secrets["VONAGE_APPLICATION_ID"]
    context = SenderContext(provider=entry.name, settings=Settings.from_environ({}), secrets=_Secrets(secrets),
                            http=HttpClient(), api_base=entry.api_base or "", aws_client_factory=lambda: None)
    assert entry.sender is not None
    sender = load(entry.sender)(context)
    assert isinstance(sender, Sender)
    assert sender.provider == entry.name


@pytest.mark.parametrize(("entry", "simulator"), SIMULATED, ids=[s.command for _, s in SIMULATED])
def test_each_simulator_signs_a_request_its_providers_webhook_accepts(
    entry: ProviderEntry, simulator: Simulator
) -> None:
    simulate = load(simulator.target)
    sender = {"line": "U" + "a" * 32}.get(entry.name, "ada@example.com" if Channel.EMAIL in entry.channels
                                          else "+393331234567")
    simulated = simulate(dict(DEV_SECRETS), sender, "hello",
                         name="Ada", language="en", public_base_url=PUBLIC_BASE_URL, **dict(simulator.options))
    if isinstance(simulated, dict):  # a Lambda invocation (Amazon Connect's flow): read by its parser
        assert not entry.webhooks and entry.invocations
        assert load(entry.invocations[0])(simulated).caller.address == sender
        return
    # A whole phone call is a sequence of webhooks; every one must be accepted.
    for one in simulated if isinstance(simulated, list) else [simulated]:
        _check_simulated_request(entry, one)


def _check_simulated_request(entry: ProviderEntry, simulated: Any) -> None:
    path, _, query = simulated.path.partition("?")
    matching = [(w, params) for w in entry.webhooks if simulated.method in w.methods
                and (params := _path_params(w.path, path)) is not None]
    assert len(matching) == 1, f"{simulated.method} {path} is none of {entry.name}'s webhooks"
    endpoint, path_params = matching[0]
    spec = _local_spec(endpoint.name)
    request = WebhookRequest(
        method=simulated.method, path=path, headers={k.lower(): v for k, v in simulated.headers.items()},
        body=simulated.body, query=dict(parse_qsl(query)), path_params=path_params,
        public_url=PUBLIC_BASE_URL + simulated.path, received_at="2026-01-01T00:00:00.000Z",
    )
    spec.verify(request, {name: DEV_SECRETS[name] for name in spec.secret_names}, time.time())
    events = spec.parse(request)
    assert events and {event.provider for event in events} == {entry.name}
    assert {event.channel for event in events} <= entry.channels


def _local_spec(endpoint: str) -> ChannelSpec:
    """The spec as ``make run`` serves it: the registry's, except SES, which the app binds to the
    deployment's topics and certificates (locally: the simulator's own certificate)."""
    if endpoint != "ses":
        return channel_spec(endpoint)
    from chalicelib.providers.ses import ses_channel, sns_trust_from_environ
    from devstack.simulators.email import local_sns_environment

    def no_fetch(url: str) -> bytes:
        raise AssertionError(f"the local stack fetched {url}")

    return ses_channel(no_fetch, sns_trust_from_environ(local_sns_environment(), "local"))


def _path_params(template: str, path: str) -> dict[str, str] | None:
    """``/webhooks/telegram/{bot}`` against a concrete path: its parameters, or None if it does not match."""
    pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(template))
    match = re.fullmatch(pattern, path)
    return match.groupdict() if match else None


class _Secrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def get_many(self, names: Any) -> dict[str, str]:
        return {name: self.values[name] for name in names if name in self.values}


# ---------------------------------------------------------------- app.py routes (read, not imported)
def _app_webhook_routes() -> dict[tuple[str, frozenset[str]], list[str]]:
    """(path, methods) → the endpoint names its route functions pass to ``_webhook``."""
    tree = ast.parse((ROOT / "app.py").read_text())
    routes: dict[tuple[str, frozenset[str]], list[str]] = {}
    for function in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        for decorator in function.decorator_list:
            if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
                    and decorator.func.attr == "route"):
                continue
            path = ast.literal_eval(decorator.args[0])
            if not path.startswith("/webhooks/"):
                continue
            methods = next((ast.literal_eval(k.value) for k in decorator.keywords if k.arg == "methods"), ["GET"])
            called = [ast.literal_eval(call.args[0]) for call in ast.walk(function)
                      if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "_webhook"]
            routes.setdefault((path, frozenset(methods)), []).extend(called)
    return routes


def test_every_registered_webhook_has_exactly_one_app_route_and_every_app_webhook_is_registered() -> None:
    routes = _app_webhook_routes()
    registered = {(w.path, frozenset(w.methods)): w.name for _, w in WEBHOOKS}
    assert set(routes) == set(registered)
    for key, endpoint in registered.items():
        assert routes[key] == [endpoint], f"the route of {key[0]} must call _webhook({endpoint!r}) once"
    paths = [path for path, _ in routes]
    assert len(paths) == len(set(paths)), "one route function per webhook path"


# ---------------------------------------------------------------- the views
def test_module_level_names_are_views_of_the_registry() -> None:
    assert {w.name: w.spec for _, w in WEBHOOKS} == ENDPOINTS
    # every provider's names, each in its group or the group's "-send" half, plus the deployment's id key
    assert set(SECRET_GROUPS) == set(secret_groups()) | {ID_KEY_SECRET}
    for name, group in secret_groups().items():
        assert SECRET_GROUPS[name] in (group, f"{group}-send", f"{group}-shared")
    assert SECRET_GROUPS[ID_KEY_SECRET] == ID_KEY_GROUP
    assert tuple(sorted(set(SECRET_GROUPS.values()))) == SECRET_GROUP_NAMES
    assert PROVIDERS == sending_providers() == tuple(e.name for e in REGISTRY if e.sender)
    assert {e.name: e.api_base for e in REGISTRY if e.api_base} == DEFAULT_API_BASES
    assert {e.name for e in REGISTRY if e.retry_safe} == RETRY_SAFE_PROVIDERS
    assert set(SIMULATORS) == set(simulators())
    assert {help_line for _, help_line in SIMULATORS.values()} == {s.summary for _, s in SIMULATED}
    assert set(sandbox_environment("http://sandbox")) == {f"OMNIHUB_{name.upper()}_API_BASE"
                                                         for name in DEFAULT_API_BASES} | {TRUSTED_SUBSCRIBE_URL_ENV}
    assert set(build_senders(Settings.from_environ({}), _Secrets({}))) == set(PROVIDERS)


def test_the_contract_secret_groups_are_unchanged() -> None:
    # Secret names and groups are part of the external contract (DESIGN.md): the registry must not move one.
    # (Where each is stored, split by the function that reads it: tests/infra/test_access_covers_usage.py.)
    assert secret_groups() == {
        "OMNIHUB_API_SIGNING_SECRET": "api", "OMNIHUB_API_KEYS": "api",
        "TWILIO_AUTH_TOKEN": "twilio", "TWILIO_ACCOUNT_SID": "twilio",
        "META_APP_SECRET": "meta", "META_VERIFY_TOKEN": "meta", "META_ACCESS_TOKEN": "meta",
        "TELEGRAM_SECRET_TOKEN": "telegram", "TELEGRAM_BOT_TOKEN": "telegram",
        "LINE_CHANNEL_SECRET": "line", "LINE_CHANNEL_ACCESS_TOKEN": "line", "VIBER_AUTH_TOKEN": "viber",
        "X_CONSUMER_SECRET": "x", "X_BEARER_TOKEN": "x", "VONAGE_SIGNATURE_SECRET": "vonage",
        "VONAGE_API_KEY": "vonage", "VONAGE_API_SECRET": "vonage", "VONAGE_APPLICATION_ID": "vonage",
        "VONAGE_PRIVATE_KEY": "vonage", "SENDGRID_INBOUND_TOKEN": "sendgrid", "MAILGUN_SIGNING_KEY": "mailgun",
        "SENDGRID_EVENT_PUBLIC_KEY": "sendgrid",
        "POSTMARK_INBOUND_USER": "postmark", "POSTMARK_INBOUND_PASSWORD": "postmark",
        # The email send APIs' keys (not in the contract, added with their senders).
        "SENDGRID_API_KEY": "sendgrid", "MAILGUN_API_KEY": "mailgun", "POSTMARK_SERVER_TOKEN": "postmark",
    }


def test_each_provider_secret_is_stored_in_the_half_of_the_function_that_reads_it() -> None:
    assert {name: group for name, group in SECRET_GROUPS.items() if group != ID_KEY_GROUP} == {
        "OMNIHUB_API_SIGNING_SECRET": "api", "OMNIHUB_API_KEYS": "api",
        "TWILIO_AUTH_TOKEN": "twilio", "TWILIO_ACCOUNT_SID": "twilio-send",  # the auth token: both read it
        "META_APP_SECRET": "meta", "META_VERIFY_TOKEN": "meta", "META_ACCESS_TOKEN": "meta-send",
        "TELEGRAM_SECRET_TOKEN": "telegram", "TELEGRAM_BOT_TOKEN": "telegram-send",
        "LINE_CHANNEL_SECRET": "line", "LINE_CHANNEL_ACCESS_TOKEN": "line-send",
        "VIBER_AUTH_TOKEN": "viber",  # signs callbacks and sends: both read it
        "X_CONSUMER_SECRET": "x", "X_BEARER_TOKEN": "x-send", "VONAGE_SIGNATURE_SECRET": "vonage",
        "VONAGE_API_KEY": "vonage-send", "VONAGE_API_SECRET": "vonage-send", "VONAGE_APPLICATION_ID": "vonage-send",
        "VONAGE_PRIVATE_KEY": "vonage-send", "SENDGRID_INBOUND_TOKEN": "sendgrid", "MAILGUN_SIGNING_KEY": "mailgun",
        "SENDGRID_EVENT_PUBLIC_KEY": "sendgrid",
        "POSTMARK_INBOUND_USER": "postmark", "POSTMARK_INBOUND_PASSWORD": "postmark",
        "SENDGRID_API_KEY": "sendgrid-send", "MAILGUN_API_KEY": "mailgun-send",
        "POSTMARK_SERVER_TOKEN": "postmark-send",
    }


def test_a_provider_with_verify_only_names_and_a_shared_one_gets_a_third_secret() -> None:
    from chalicelib.adapters.secrets import SEND, VERIFY, stored_secrets

    both = replace(PIGEON, verify_secrets=("PIGEON_SIGNING_KEY", "PIGEON_TOKEN"),
                   send_secrets=("PIGEON_API_TOKEN", "PIGEON_TOKEN"))
    assert {(s.group, s.names, s.readers) for s in stored_secrets(both)} == {
        ("pigeon", ("PIGEON_SIGNING_KEY",), frozenset({VERIFY})),
        ("pigeon-shared", ("PIGEON_TOKEN",), frozenset({VERIFY, SEND})),
        ("pigeon-send", ("PIGEON_API_TOKEN",), frozenset({SEND})),
    }
    assert [s.group for s in stored_secrets(replace(PIGEON, verify_secrets=("PIGEON_API_TOKEN",)))] == ["pigeon"]


def test_every_webhook_secret_has_a_development_value_so_make_run_accepts_every_simulator() -> None:
    verify = {name for entry in REGISTRY for name in entry.verify_secrets}
    assert verify <= set(DEV_SECRETS)
    assert {name for name in DEV_SECRETS if not name.startswith("OMNIHUB_")} <= set(SECRET_GROUPS)


def test_the_sandbox_serves_every_http_sender() -> None:
    assert {name for name, _ in ROUTES} == set(DEFAULT_API_BASES) | {"sns"}  # + SNS's subscribe endpoint


def test_send_and_verify_secrets_are_the_halves_each_lambda_needs() -> None:
    # The webhook path never reads a sending credential unless the provider uses one key for both.
    assert "META_ACCESS_TOKEN" not in provider("meta").verify_secrets
    assert "VONAGE_PRIVATE_KEY" in provider("vonage").send_secrets
    assert set(provider("twilio").verify_secrets) & set(provider("twilio").send_secrets) == {"TWILIO_AUTH_TOKEN"}
    for entry in REGISTRY:
        assert entry.secrets == tuple(dict.fromkeys(entry.verify_secrets + entry.send_secrets))


def test_the_channel_choice_comes_from_the_registry() -> None:
    choices = senders_by_channel()
    assert set(choices) == set(Channel) - {Channel.VOICE, Channel.WEBCHAT}
    assert choices[Channel.WHATSAPP].allowed == {"twilio", "meta", "vonage"}
    assert choices[Channel.WHATSAPP].variable == "OMNIHUB_WHATSAPP_PROVIDER"
    assert choices[Channel.INSTAGRAM].variable is None
    for channel, choice in choices.items():
        assert provider_for(channel, {}) == choice.default


def test_provider_lookup() -> None:
    assert provider("vonage").webhooks[0].name == "vonage_messages"
    with pytest.raises(KeyError):
        provider("pigeon")


# ---------------------------------------------------------------- adding a provider is one entry
PIGEON = ProviderEntry(
    name="pigeon",
    channels=frozenset({Channel.SMS}),
    secret_group="pigeon",
    verify_secrets=("PIGEON_SIGNING_KEY",),
    send_secrets=("PIGEON_API_TOKEN",),
    webhooks=(WebhookEndpoint("pigeon", "/webhooks/pigeon", ("POST",), "chalicelib.providers.pigeon:CHANNEL"),),
    sender="chalicelib.outbound.senders.pigeon:build_sender",
    sends_on=frozenset({Channel.SMS}),
    api_base="https://api.pigeon.example",
    simulators=(Simulator("pigeon", "devstack.simulators.pigeon:simulate_pigeon_message", "Pigeon SMS"),),
)


def test_one_new_entry_reaches_every_view() -> None:
    entries = (*REGISTRY, PIGEON)
    check_registry(entries)
    assert webhook_endpoints(entries)["pigeon"].path == "/webhooks/pigeon"
    assert secret_groups(entries)["PIGEON_API_TOKEN"] == "pigeon"
    assert sending_providers(entries)[-1] == "pigeon"
    assert "pigeon" in senders_by_channel(entries)[Channel.SMS].allowed
    assert simulators(entries)["pigeon"].target.startswith("devstack.simulators.pigeon:")
    assert PIGEON.modules == {"chalicelib.providers.pigeon", "chalicelib.outbound.senders.pigeon",
                              "devstack.simulators.pigeon"}


@pytest.mark.parametrize(("broken", "complaint"), [
    (replace(PIGEON, name="twilio"), "provider registered twice: twilio"),
    (replace(PIGEON, webhooks=(replace(PIGEON.webhooks[0], name="line"),)), "endpoint registered twice: line"),
    (replace(PIGEON, webhooks=(replace(PIGEON.webhooks[0], path="/webhooks/line"),)), "route registered twice"),
    (replace(PIGEON, simulators=(replace(PIGEON.simulators[0], command="telegram"),)), "simulate command"),
    (replace(PIGEON, default_sender_for=frozenset({Channel.SMS})), "exactly one default sender"),
    (replace(PIGEON, verify_secrets=("TWILIO_AUTH_TOKEN",)), "TWILIO_AUTH_TOKEN is in two groups"),
])
def test_a_clash_with_an_existing_entry_is_refused(broken: ProviderEntry, complaint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        check_registry((*REGISTRY, broken))


@pytest.mark.parametrize(("changes", "complaint"), [
    ({"secret_group": None}, "secrets need a group"),
    ({"sender": None}, "sending needs a sender"),
    ({"sends_on": frozenset({Channel.EMAIL})}, "sends on a channel it does not carry"),
    ({"default_sender_for": frozenset({Channel.WHATSAPP})}, "default sender of a channel it does not send on"),
    ({"sender": None, "sends_on": frozenset()}, "an API base or retry safety without a sender"),
])
def test_an_inconsistent_entry_is_refused(changes: dict[str, Any], complaint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        replace(PIGEON, **changes)
