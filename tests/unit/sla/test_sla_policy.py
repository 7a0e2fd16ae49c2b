"""parse_sla: the public ``sla`` block (routing issue), every error naming its field."""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from typing import Any

import pytest

from chalicelib.core.model import Priority
from chalicelib.sla import MAX_TARGET_MINUTES, SlaConfigError, SlaKind, SlaTargets, parse_sla

FIELDS = ("first_response_minutes", "next_response_minutes", "resolution_minutes")


def full_block() -> dict[str, Any]:
    return {
        "calendar": "business",
        "policies": {
            "urgent": {"first_response_minutes": 30, "next_response_minutes": 60, "resolution_minutes": 480},
            "high": {"first_response_minutes": 120, "next_response_minutes": 240, "resolution_minutes": 1440},
            "normal": {"first_response_minutes": 240, "next_response_minutes": 480, "resolution_minutes": 2880},
            "low": {"first_response_minutes": 960, "next_response_minutes": 1920, "resolution_minutes": 4800},
        },
    }


def edited(edit: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
    block = copy.deepcopy(full_block())
    edit(block)
    return block


def test_a_full_block() -> None:
    sla = parse_sla(full_block())
    assert sla.calendar_mode == "business"
    assert set(sla.policies) == set(Priority)
    assert sla.targets("urgent") == SlaTargets(30, 60, 480)
    assert sla.targets(Priority.LOW).minutes(SlaKind.RESOLUTION) == 4800
    assert [sla.targets("high").minutes(kind) for kind in SlaKind] == [120, 240, 1440]
    assert sla.targets("normal").minutes("next_response") == 480


def test_the_routing_issue_example_with_normal_alone_loads() -> None:
    example = {"calendar": "always", "policies": {"normal": {"first_response_minutes": 240,
                                                             "next_response_minutes": 480,
                                                             "resolution_minutes": 2880}}}
    sla = parse_sla(example)
    assert sla.calendar_mode == "always"
    assert {sla.targets(p) for p in Priority} == {SlaTargets(240, 480, 2880)}


def test_a_priority_left_out_takes_normals_targets() -> None:
    block = edited(lambda b: b["policies"].pop("high"))
    assert parse_sla(block).targets("high") == parse_sla(block).targets("normal") == SlaTargets(240, 480, 2880)
    assert parse_sla(block).targets("urgent") == SlaTargets(30, 60, 480)


def test_calendar_defaults_to_business_and_comments_are_ignored() -> None:
    block = edited(lambda b: b.pop("calendar"))
    block["_comment"] = "minutes of the calendar"
    block["policies"]["_note"] = "reviewed in March"
    block["policies"]["low"]["_why"] = "email-like"
    assert parse_sla(block).calendar_mode == "business"


def test_the_policies_mapping_is_read_only() -> None:
    sla = parse_sla(full_block())
    with pytest.raises(TypeError):
        sla.policies[Priority.LOW] = SlaTargets(1, 1, 1)  # type: ignore[index]


@pytest.mark.parametrize(("priority", "field"), list(itertools.product([p.value for p in Priority], FIELDS)))
@pytest.mark.parametrize("bad", [0, -5, 2.5, True, "30", None])
def test_every_minute_value_must_be_an_integer_of_at_least_one(priority: str, field: str, bad: Any) -> None:
    block = edited(lambda b: b["policies"][priority].update({field: bad}))
    with pytest.raises(SlaConfigError, match=rf"^sla\.policies\.{priority}\.{field}: must be an integer >= 1, got "):
        parse_sla(block)


@pytest.mark.parametrize(("priority", "field"), list(itertools.product([p.value for p in Priority], FIELDS)))
def test_every_minute_value_is_required(priority: str, field: str) -> None:
    block = edited(lambda b: b["policies"][priority].pop(field))
    with pytest.raises(SlaConfigError, match=rf"^sla\.policies\.{priority}\.{field}: required"):
        parse_sla(block)


def test_minute_values_are_bounded() -> None:
    assert parse_sla(edited(lambda b: b["policies"]["low"].update(resolution_minutes=MAX_TARGET_MINUTES)))
    with pytest.raises(SlaConfigError, match=r"^sla\.policies\.low\.resolution_minutes: must be at most 100000"):
        parse_sla(edited(lambda b: b["policies"]["low"].update(resolution_minutes=MAX_TARGET_MINUTES + 1)))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, r"^sla: must be an object"),
        ([], r"^sla: must be an object"),
        (edited(lambda b: b.update(calender="always")), r"^sla: unknown key\(s\) calender"),
        (edited(lambda b: b.update(calendar="weekdays")), r"^sla\.calendar: must be 'business' .* or 'always'"),
        (edited(lambda b: b.update(calendar=None)), r"^sla\.calendar: must be 'business'"),
        (edited(lambda b: b.pop("policies")), r"^sla\.policies: required"),
        (edited(lambda b: b.update(policies=[])), r"^sla\.policies: required"),
        (edited(lambda b: b["policies"].update(critical={})), r"^sla\.policies: unknown key\(s\) critical"),
        (edited(lambda b: b["policies"].pop("normal")), r"^sla\.policies\.normal: required"),
        (edited(lambda b: b["policies"].update(low=30)), r"^sla\.policies\.low: must be an object"),
        (edited(lambda b: b["policies"]["high"].update(first_reply_minutes=5)),
         r"^sla\.policies\.high: unknown key\(s\) first_reply_minutes"),
    ],
)
def test_structural_errors_name_their_field(data: Any, message: str) -> None:
    with pytest.raises(SlaConfigError, match=message):
        parse_sla(data)


def test_the_path_is_the_callers() -> None:
    block = edited(lambda b: b["policies"]["normal"].update(first_response_minutes=0))
    with pytest.raises(SlaConfigError, match=r"^routing\.sla\.policies\.normal\.first_response_minutes: "):
        parse_sla(block, "routing.sla")


def test_a_long_bad_value_is_cut_short_in_the_message() -> None:
    block = edited(lambda b: b["policies"]["normal"].update(first_response_minutes="9" * 10_000))
    with pytest.raises(SlaConfigError) as caught:
        parse_sla(block)
    assert len(str(caught.value)) < 200


def test_a_config_error_is_a_value_error() -> None:
    assert issubclass(SlaConfigError, ValueError)
