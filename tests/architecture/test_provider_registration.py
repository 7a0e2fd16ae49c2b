"""Adding a provider is one registry entry plus its own modules: no other module names a provider.

Reads the source (string literals, docstrings excluded) of chalicelib/, devstack/ and infra/; a
provider is named by its name (``"vonage"``, ``"/webhooks/vonage/messages"``, ``"vonage_messages"``)
or by its configuration and secret prefix (``"VONAGE_API_KEY"``, ``"OMNIHUB_VONAGE_SMS_FROM"``).
Its own modules are those its registry entry names (webhook specs, sender, simulators).
app.py is not scanned: Chalice needs one explicit function per route, and
tests/unit/providers/test_registry.py pins those routes to the registry instead.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from chalicelib.core.model import Channel
from chalicelib.providers.registry import REGISTRY, ProviderEntry

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("chalicelib", "devstack", "infra")
REGISTRY_MODULE = "chalicelib/providers/registry.py"
CHANNEL_MODULE = "chalicelib/core/vocabulary.py"  # defines the Channel enum, whose values some providers share

# The hub's own API (generic signed channel, REST keys) is not a third-party provider: "api" is also
# the word for the API stage, the API Lambda and the REST package, so it is not scanned for.
THIRD_PARTY = [entry for entry in REGISTRY if entry.name != "api"]

# Files that may still name providers, and why. Keep it short; it only shrinks.
ALLOWED: dict[str, set[str] | None] = {  # file → the providers it may name (None: any)
    # The sandbox emulates each provider's send API: its URL patterns (readers.py), its answers
    # (emulator.py) and its error presets (presets.py); provider code that could still move into one
    # module per provider.
    "devstack/sandbox/readers.py": None,
    "devstack/sandbox/emulator.py": None,
    "devstack/sandbox/presets.py": None,
    "devstack/sandbox/email_apis.py": None,  # the email send APIs' answers, split from emulator.py
    # DEV_SECRETS: the development value of every secret, which `make run` prints (local contract);
    # test_registry checks they cover every webhook secret of the registry.
    "devstack/run.py": None,
    # SES is also an AWS service: IAM actions and ARNs name it (ses:SendEmail), as every grant names its service.
    "infra/stacks/access.py": {"ses"},
    "infra/stacks/nag.py": {"ses"},
    # SES receiving (receipt rule, the service principal that writes to the bucket and publishes) is infra.
    "infra/stacks/mail_receiving.py": {"ses"},
    # The HTML element <meta>, which the HTML-to-text renderer skips, not the provider.
    "chalicelib/email/html_text.py": {"meta"},
}


def module_files(module: str) -> set[str]:
    """A module's file, or every file of a package (a provider split into a package owns all of it)."""
    package = ROOT / module.replace(".", "/")
    if package.is_dir():
        return {str(p.relative_to(ROOT)) for p in package.rglob("*.py")}
    return {module.replace(".", "/") + ".py"}


def own_files(entry: ProviderEntry) -> set[str]:
    return {path for module in entry.modules for path in module_files(module)}


def patterns(entry: ProviderEntry) -> list[re.Pattern[str]]:
    found = [re.compile(rf"(?<![A-Z0-9_]){name}(?![A-Z0-9_])") for name in entry.secrets]  # TWILIO_AUTH_TOKEN
    if entry.name in set(Channel):
        # Also a channel name ("line", "x"), which channel rules and prose use: only the bare literal
        # and the provider's secret names can be told apart from the channel.
        found.append(re.compile(rf"^{re.escape(entry.name)}$"))
    else:
        found.append(re.compile(rf"(?<![A-Za-z0-9]){re.escape(entry.name)}(?![A-Za-z0-9])"))
        found.append(re.compile(rf"(?:^|OMNIHUB_){entry.name.upper()}_"))  # OMNIHUB_TWILIO_FROM
    return found


def allowed_files(entry: ProviderEntry) -> set[str]:
    files = {REGISTRY_MODULE} | own_files(entry)
    if entry.name in set(Channel):
        # The channel itself may be named where channels are defined and by every provider carrying it
        # (Vonage sends on Viber), since there "viber" is the channel, not the provider.
        files.add(CHANNEL_MODULE)
        files |= {f for other in REGISTRY if Channel(entry.name) in other.channels for f in own_files(other)}
    files |= {path for path, names in ALLOWED.items() if names is None or entry.name in names}
    return files


def string_literals(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def python_files() -> list[Path]:
    return sorted(p for top in SCANNED for p in (ROOT / top).rglob("*.py") if "cdk.out" not in p.parts)


LITERALS = {str(p.relative_to(ROOT)): list(string_literals(p)) for p in python_files()}


@pytest.mark.parametrize("entry", THIRD_PARTY, ids=lambda e: e.name)
def test_only_the_registry_and_the_providers_own_modules_name_it(entry: ProviderEntry) -> None:
    allowed = allowed_files(entry)
    found = [
        f"{path}:{line}: {text!r}"
        for path, literals in LITERALS.items() if path not in allowed
        for line, text in literals
        if any(pattern.search(text) for pattern in patterns(entry))
    ]
    assert not found, (f"{entry.name} is named outside its registry entry and its own modules "
                       f"({', '.join(sorted(own_files(entry)))}):\n" + "\n".join(found))


def test_the_scan_sees_what_it_must_refuse() -> None:
    # The patterns find the forms a provider list takes, and the scan reads the files it guards.
    vonage = next(e for e in REGISTRY if e.name == "vonage")
    line = next(e for e in REGISTRY if e.name == "line")
    for text in ("vonage", "/webhooks/vonage/messages", "vonage_messages", "VONAGE_API_KEY", "OMNIHUB_VONAGE_SMS_FROM"):
        assert any(p.search(text) for p in patterns(vonage)), text
    for text in ("line", "LINE_CHANNEL_SECRET"):
        assert any(p.search(text) for p in patterns(line)), text
    for text in ("metadata", "status line", "META", "x-api-key"):
        assert not any(p.search(text) for e in THIRD_PARTY for p in patterns(e)), text
    assert ("chalicelib/outbound/job.py" in LITERALS and "devstack/cli.py" in LITERALS
            and "infra/stacks/provider_secrets.py" in LITERALS)
    assert any(text == "twilio" for _, text in LITERALS["devstack/sandbox/presets.py"])


def test_every_allowed_file_still_exists_and_still_needs_its_exception() -> None:
    for path, names in ALLOWED.items():
        assert path in LITERALS, f"{path} is gone: remove it from ALLOWED"
        needed = [e for e in THIRD_PARTY if names is None or e.name in names]
        assert any(p.search(text) for e in needed for p in patterns(e) for _, text in LITERALS[path]), (
            f"{path} names no provider any more: remove it from ALLOWED")
