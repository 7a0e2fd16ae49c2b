"""The KPI answer names the SLA targets its figures are measured against (the console draws them), read
from the service-levels configuration in force."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.adapters.memory import MemoryStore, memory_repositories
from chalicelib.reports.kpis import kpi_report
from chalicelib.sla.service_levels import (
    DEFAULT_SERVICE_LEVELS_PATH,
    SERVICE_LEVELS_PATH_ENV,
    clear_service_levels_cache,
)


def test_the_answer_carries_the_targets_of_the_configuration_in_force(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = json.loads(DEFAULT_SERVICE_LEVELS_PATH.read_text())
    config["sla"]["calendar"] = "always"
    config["sla"]["policies"]["normal"] = {"first_response_minutes": 17, "next_response_minutes": 34,
                                           "resolution_minutes": 99}
    path = tmp_path / "levels.json"
    path.write_text(json.dumps(config))
    monkeypatch.setenv(SERVICE_LEVELS_PATH_ENV, str(path))
    clear_service_levels_cache()
    try:
        report = kpi_report(memory_repositories(MemoryStore()), {"from": "2026-11-02", "to": "2026-11-08"})
    finally:
        monkeypatch.delenv(SERVICE_LEVELS_PATH_ENV)
        clear_service_levels_cache()
    targets = report["sla_targets"]
    assert targets["calendar"] == "always"
    assert targets["policies"]["normal"] == {"first_response_minutes": 17, "next_response_minutes": 34,
                                             "resolution_minutes": 99}
    assert set(targets["policies"]) == {"low", "normal", "high", "urgent"}
    assert targets["policies"]["urgent"]["first_response_minutes"] == 30
