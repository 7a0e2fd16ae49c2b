"""The feedback configuration: the shipped defaults, and errors that name the file and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chalicelib.core.model import Channel
from chalicelib.feedback.config import (
    DEFAULT_FEEDBACK_PATH,
    FeedbackConfigError,
    SurveyKind,
    load_feedback_config,
    parse_feedback_config,
)


def shipped() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(Path(DEFAULT_FEEDBACK_PATH).read_text(encoding="utf-8"))
    return data


def test_the_default_is_csat_at_once_on_every_channel_that_can_carry_it() -> None:
    config = load_feedback_config(DEFAULT_FEEDBACK_PATH)
    assert config.delay_minutes == 0 and config.once_per_customer_days == 0
    for channel in Channel:
        survey = config.for_channel(channel)
        assert survey.kind is SurveyKind.CSAT
        assert survey.enabled is (channel is not Channel.VOICE)
    assert {"en", "it", "es", "fr", "de", "pt"} <= set(config.wording)


def test_wording_falls_back_by_base_language_then_the_fallback() -> None:
    config = parse_feedback_config(shipped())
    assert config.wording_for("pt-BR")[0] == "pt"
    assert config.wording_for("IT")[0] == "it"
    assert config.wording_for("ja")[0] == "en"
    assert config.wording_for(None)[0] == "en"


def test_a_channel_override_inherits_the_default() -> None:
    data = shipped()
    data["default"] = {"kind": "nps"}
    data["channels"] = {"sms": {"enabled": False}, "telegram": {"kind": "csat"}}
    config = parse_feedback_config(data)
    assert config.for_channel(Channel.SMS).enabled is False
    assert config.for_channel(Channel.TELEGRAM).kind is SurveyKind.CSAT
    assert config.for_channel(Channel.WHATSAPP).kind is SurveyKind.NPS
    data["channels"] = {"voice": {"enabled": True}}
    assert parse_feedback_config(data).for_channel(Channel.VOICE).enabled is False  # a call cannot carry it


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d.update(version=2), "version"),
    (lambda d: d.update(colour="red"), "(top level)"),
    (lambda d: d["channels"].update(fax={"enabled": True}), "channels.fax"),
    (lambda d: d["channels"].update(sms={"kind": "stars"}), "channels.sms.kind"),
    (lambda d: d["channels"].update(sms={"enabled": "yes"}), "channels.sms.enabled"),
    (lambda d: d.update(delay_minutes=-1), "delay_minutes"),
    (lambda d: d.update(once_per_customer_days=1.5), "once_per_customer_days"),
    (lambda d: d.update(comment_window_minutes="30"), "comment_window_minutes"),
    (lambda d: d.update(answer_window_hours=0), "answer_window_hours"),
    (lambda d: d["wording"]["it"].update(csat="Voto {score}?"), "wording.it.csat"),
    (lambda d: d["wording"]["it"].pop("thanks"), "wording.it.thanks"),
    (lambda d: d["wording"].update(EN={}), "wording.EN"),
    (lambda d: d.update(fallback_language="ja"), "fallback_language"),
])
def test_every_error_names_the_file_and_the_field(change: Any, field: str) -> None:
    data = shipped()
    change(data)
    with pytest.raises(FeedbackConfigError) as caught:
        parse_feedback_config(data, source="feedback.json")
    assert str(caught.value).startswith(f"feedback.json: {field}: ")


def test_the_local_stack_refuses_to_start_on_an_invalid_file(tmp_path: Path) -> None:
    from devstack.run import configuration_problems

    data = shipped()
    data["channels"] = {"sms": {"kind": "stars"}}
    path = tmp_path / "feedback.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    problems = configuration_problems({"OMNIHUB_API_KEYS": "ops:k:admin", "OMNIHUB_FEEDBACK_CONFIG": str(path)})
    assert problems == [f"{path.resolve()}: channels.sms.kind: must be \"csat\" (1-5) or \"nps\" (0-10)"]
