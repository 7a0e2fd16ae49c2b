"""The one rule for which configuration file is in force, and reading each once per process."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.core.config_file import ConfigFile, path_in_force, read_json_config


class DemoError(ValueError):
    pass


def _reader(calls: list[str]):
    def read(path: str) -> dict:
        calls.append(path)
        return read_json_config(path, "demo configuration", DemoError)
    return read


def test_an_explicit_path_wins_over_the_environment_which_wins_over_the_default(tmp_path, monkeypatch):
    default, from_env, explicit = tmp_path / "default.json", tmp_path / "env.json", tmp_path / "explicit.json"
    monkeypatch.delenv("OMNIHUB_DEMO_CONFIG", raising=False)
    assert path_in_force(None, "OMNIHUB_DEMO_CONFIG", default) == str(default.resolve())
    monkeypatch.setenv("OMNIHUB_DEMO_CONFIG", str(from_env))
    assert path_in_force(None, "OMNIHUB_DEMO_CONFIG", default) == str(from_env.resolve())
    assert path_in_force(explicit, "OMNIHUB_DEMO_CONFIG", default) == str(explicit.resolve())
    monkeypatch.setenv("OMNIHUB_DEMO_CONFIG", "")  # an empty setting is no setting
    assert path_in_force(None, "OMNIHUB_DEMO_CONFIG", default) == str(default.resolve())


def test_each_file_is_read_once_until_the_cache_is_cleared(tmp_path: Path):
    target = tmp_path / "demo.json"
    target.write_text(json.dumps({"version": 1}), encoding="utf-8")
    calls: list[str] = []
    config = ConfigFile("OMNIHUB_DEMO_CONFIG", target, _reader(calls))
    assert config.load() == {"version": 1}
    target.write_text(json.dumps({"version": 2}), encoding="utf-8")
    assert config.load() == {"version": 1} and len(calls) == 1
    config.clear()
    assert config.load() == {"version": 2} and len(calls) == 2


def test_an_invalid_file_raises_every_time_and_is_not_remembered(tmp_path: Path):
    target = tmp_path / "demo.json"
    target.write_text("{not json", encoding="utf-8")
    calls: list[str] = []
    config = ConfigFile("OMNIHUB_DEMO_CONFIG", target, _reader(calls))
    for _ in range(2):
        with pytest.raises(DemoError, match="not valid JSON"):
            config.load()
    assert len(calls) == 2
    target.write_text("{}", encoding="utf-8")
    assert config.load() == {}
