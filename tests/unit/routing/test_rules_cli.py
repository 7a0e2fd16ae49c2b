"""``./hub rules test``: the rule that would match, why, and an invalid file refused with its rule and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devstack.cli import main


def test_a_vip_mentioning_a_lawyer_matches_vip_legal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "test", "--channel", "whatsapp", "--tier", "vip", "--language", "it",
                 "--text", "Parlerò con il mio avvocato"]) == 0
    out = capsys.readouterr().out
    assert '1. vip-legal: MATCH: tier=vip and text matched "avvocat\\w*"' in out
    assert "→ route vip, priority urgent, tags legal, escalated at once (reason vip-legal)" in out


def test_a_message_no_rule_claims_explains_each_refusal(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules", "test", "--channel", "sms", "--text", "ciao"]) == 0
    out = capsys.readouterr().out
    assert "vip-legal: no: tier is standard, not one of [vip]" in out
    assert "→ route default, priority normal" in out and "rule: (default)" in out


def test_an_invalid_file_is_refused_naming_rule_and_field(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "routing.json"
    path.write_text(json.dumps({"version": 1, "routes": {"default": {}}, "default": {"route": "default",
                    "priority": "normal"}, "rules": [{"name": "x", "if": {}, "then": {"priority": "asap"}}]}))
    assert main(["rules", "test", "--channel", "sms", "--text", "hi", "--config", str(path)]) == 2
    assert 'rules[0] "x": then.priority' in capsys.readouterr().err
