"""The service-levels file: what ships, which file is in force, and errors that name file and key."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.model import Priority
from chalicelib.sla import (
    DEFAULT_SERVICE_LEVELS_PATH,
    SERVICE_LEVELS_PATH_ENV,
    ServiceLevelsError,
    SlaKind,
    SlaTargets,
    clear_service_levels_cache,
    load_service_levels,
    parse_service_levels,
    service_levels_path,
)

SHIPPED: dict[str, Any] = json.loads(DEFAULT_SERVICE_LEVELS_PATH.read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SERVICE_LEVELS_PATH_ENV, raising=False)
    clear_service_levels_cache()


def edited(edit: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    data = copy.deepcopy(SHIPPED)
    edit(data)
    return data


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_the_shipped_file() -> None:
    levels = load_service_levels()
    assert levels.source == str(DEFAULT_SERVICE_LEVELS_PATH.resolve())
    assert levels.calendar.time_zone == "Europe/Rome"
    assert levels.sla.calendar_mode == "business"
    first = {p: levels.sla.targets(p).first_response_minutes for p in Priority}
    assert first == {Priority.URGENT: 30, Priority.HIGH: 120, Priority.NORMAL: 240, Priority.LOW: 960}
    for priority in Priority:
        targets = levels.sla.targets(priority)
        assert targets.next_response_minutes == 2 * targets.first_response_minutes
        assert targets.resolution_minutes > targets.next_response_minutes
    assert levels.sla.targets("normal") == SlaTargets(240, 480, 2880)


def test_due_uses_the_files_calendar() -> None:
    levels = load_service_levels()
    friday_evening = datetime(2026, 11, 20, 18, tzinfo=UTC)  # 19:00 in Rome, closed until Monday 09:00
    assert levels.due(friday_evening, "urgent", SlaKind.FIRST_RESPONSE).astimezone(UTC) == datetime(
        2026, 11, 23, 8, 30, tzinfo=UTC
    )


def test_explicit_path_beats_the_environment_which_beats_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from_env = write(tmp_path / "env.json", edited(lambda d: d["sla"].update(calendar="always")))
    explicit = write(tmp_path / "explicit.json", edited(lambda d: d["business_hours"].update(time_zone="UTC")))
    assert service_levels_path() == str(DEFAULT_SERVICE_LEVELS_PATH.resolve())
    monkeypatch.setenv(SERVICE_LEVELS_PATH_ENV, str(from_env))
    assert load_service_levels().sla.calendar_mode == "always"
    assert load_service_levels().source == str(from_env.resolve())
    chosen = load_service_levels(explicit)
    assert (chosen.source, chosen.calendar.time_zone, chosen.sla.calendar_mode) == (
        str(explicit.resolve()), "UTC", "business"
    )
    monkeypatch.setenv(SERVICE_LEVELS_PATH_ENV, "")  # empty counts as unset
    assert load_service_levels().source == str(DEFAULT_SERVICE_LEVELS_PATH.resolve())


def test_each_file_is_read_once_until_the_cache_is_cleared(tmp_path: Path) -> None:
    path = write(tmp_path / "levels.json", SHIPPED)
    first = load_service_levels(path)
    assert load_service_levels(str(path)) is first  # the same file however it is named
    write(path, edited(lambda d: d["sla"].update(calendar="always")))
    assert load_service_levels(path).sla.calendar_mode == "business"
    clear_service_levels_cache()
    assert load_service_levels(path).sla.calendar_mode == "always"


def test_unreadable_or_malformed_file(tmp_path: Path) -> None:
    with pytest.raises(ServiceLevelsError, match=r"missing\.json: cannot read the service-levels configuration"):
        load_service_levels(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"version": 1,', encoding="utf-8")
    with pytest.raises(ServiceLevelsError, match=r"broken\.json: not valid JSON \(line 1"):
        load_service_levels(broken)


def test_an_invalid_file_names_itself_and_the_key(tmp_path: Path) -> None:
    bad = write(tmp_path / "levels.json", edited(lambda d: d["sla"]["policies"]["low"].update(resolution_minutes=0)))
    with pytest.raises(ServiceLevelsError, match=r"levels\.json: sla\.policies\.low\.resolution_minutes: must be an"):
        load_service_levels(bad)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.pop("version"), r"version: required; this code reads version 1"),
        (lambda d: d.update(version=2), r"version: unsupported version 2"),
        (lambda d: d.update(version="1"), r"version: unsupported version '1'"),
        (lambda d: d.update(sla_minutes={}), r"\(top level\): unknown key\(s\) sla_minutes"),
        (lambda d: d.pop("business_hours"), r"business_hours: must be an object"),
        # the calendar errors that acknowledgments.v1.json reported before business hours moved here
        (lambda d: d["business_hours"].update(time_zone="Mars/Olympus"), r"business_hours: unknown time zone"),
        (lambda d: d["business_hours"]["weekly"].update(monday=["18:00-09:00"]),
         r"business_hours: weekly\.monday\[0\]"),
        (lambda d: d["business_hours"]["holidays"].append("31-12"), r"business_hours: holidays\[13\]"),
        (lambda d: d.pop("sla"), r"sla: must be an object"),
        (lambda d: d["sla"].update(calendar="weekdays"), r"sla\.calendar: must be 'business'"),
        (lambda d: d["sla"]["policies"]["urgent"].pop("next_response_minutes"),
         r"sla\.policies\.urgent\.next_response_minutes: required"),
        (lambda d: d["sla"]["policies"].update(critical={}), r"sla\.policies: unknown key\(s\) critical"),
    ],
)
def test_configuration_errors_are_clear(edit: Callable[[dict[str, Any]], Any], message: str) -> None:
    with pytest.raises(ServiceLevelsError, match=rf"^service_levels\.v1\.json: {message}"):
        parse_service_levels(edited(edit), source="service_levels.v1.json")


def test_not_an_object() -> None:
    with pytest.raises(ServiceLevelsError, match=r"^x\.json: \(top level\): must be a JSON object"):
        parse_service_levels([], source="x.json")
