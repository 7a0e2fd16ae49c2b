"""Consent has one vocabulary, in chalicelib/core/consent.py: nobody else spells its states or lists its channels."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from chalicelib.core.consent import (
    GRANTING_LIFECYCLE,
    KEYWORD_CHANNELS,
    WITHDRAWING_LIFECYCLE,
    ConsentKeyword,
    ConsentState,
    event_consent_keyword,
    keyword_consent,
    lifecycle_consent,
    opted_out,
)
from chalicelib.core.model import Channel

ROOT = Path(__file__).resolve().parents[2]
CONSENT_MODULE = "chalicelib/core/consent.py"
STATES = {state.value for state in ConsentState}
# A module-level name that defines consent vocabulary (KEYWORD_CHANNELS, CONSENT_WITHDRAWN, _GRANTING_LIFECYCLE).
VOCABULARY_NAME = re.compile(r"CONSENT|KEYWORD_CHANNELS|WITHDRAW|GRANT")

# Modules allowed to spell the consent states as literals (none: they import ConsentState).
STATE_LITERALS_ALLOWED: set[str] = set()


def production_modules() -> dict[str, ast.Module]:
    paths = [ROOT / "app.py", *sorted((ROOT / "chalicelib").rglob("*.py"))]
    return {str(p.relative_to(ROOT)): ast.parse(p.read_text(), filename=str(p)) for p in paths}


MODULES = production_modules()


def test_consent_states_are_spelled_only_in_core_consent() -> None:
    found = sorted(
        f"{path}:{node.lineno}: {node.value!r}"
        for path, tree in MODULES.items() if path not in {CONSENT_MODULE, *STATE_LITERALS_ALLOWED}
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and node.value in STATES
    )
    assert not found, "use chalicelib.core.consent.ConsentState:\n" + "\n".join(found)


def test_consent_channels_and_lifecycles_are_defined_only_in_core_consent() -> None:
    found = sorted(
        f"{path}:{node.lineno}: {target.id}"
        for path, tree in MODULES.items() if path != CONSENT_MODULE
        for node in tree.body if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name) and VOCABULARY_NAME.search(target.id)
    )
    assert not found, "import it from chalicelib.core.consent:\n" + "\n".join(found)
    assert all(path in MODULES for path in STATE_LITERALS_ALLOWED), "remove a module that is gone"


def test_the_vocabulary_decides_consent() -> None:
    assert {Channel.SMS, Channel.WHATSAPP} == KEYWORD_CHANNELS
    assert not WITHDRAWING_LIFECYCLE & GRANTING_LIFECYCLE
    assert keyword_consent(ConsentKeyword.OPT_OUT) is ConsentState.WITHDRAWN
    assert keyword_consent(ConsentKeyword.OPT_IN) is ConsentState.GRANTED
    assert keyword_consent(ConsentKeyword.HELP) is None
    assert lifecycle_consent("unfollow") is ConsentState.WITHDRAWN
    assert lifecycle_consent("conversation_started") is ConsentState.GRANTED
    assert lifecycle_consent("join") is None and lifecycle_consent(None) is None
    # STOP counts on the keyword channels only; elsewhere "stop" is just a word.
    assert event_consent_keyword("sms", "STOP", None) is ConsentKeyword.OPT_OUT
    assert event_consent_keyword("telegram", "STOP", None) is None
    assert opted_out({"sms": "withdrawn"}, Channel.SMS)
    assert not opted_out({"sms": "granted"}, "sms")
    assert not opted_out({"line": "withdrawn"}, Channel.LINE)  # LINE refuses by itself: not checked here
