"""A survey's answers as buttons where the channel has them, carried by the job (and its schema)."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from chalicelib.core.errors import ModelError
from chalicelib.core.model import Channel
from chalicelib.feedback.asking import survey_choices
from chalicelib.feedback.config import SurveyKind
from chalicelib.outbound import OutboundJob, OutboundKind
from chalicelib.outbound.job import Choice
from chalicelib.outbound.senders.meta import messenger_body, whatsapp_body
from chalicelib.outbound.senders.telegram import TelegramSender
from tests.conftest import load_schema

CSAT, NPS = survey_choices(SurveyKind.CSAT), survey_choices(SurveyKind.NPS)


def survey_job(make_job: Any, channel: Channel, provider: str, to: str, choices: tuple[Choice, ...]) -> OutboundJob:
    job: OutboundJob = make_job(kind=OutboundKind.SURVEY, channel=channel, provider=provider, to=to,
                                text="How satisfied are you? 1-5", choices=choices)
    return job


def test_the_job_carries_its_choices_through_the_queue(make_job: Any) -> None:
    job = survey_job(make_job, Channel.TELEGRAM, "telegram", "7012345678", CSAT)
    data = job.to_dict()
    jsonschema.validate(data, load_schema("omnihub.outbound.v1"))
    assert data["choices"][4] == {"payload": "omnihub-feedback:csat:5", "title": "5 ⭐⭐⭐⭐⭐"}
    assert OutboundJob.from_dict(data) == job
    assert "choices" not in make_job().to_dict()  # every other job serializes as before
    with pytest.raises(ModelError):
        Choice(payload="x" * 65, title="too long a payload")


def test_telegram_inline_keyboard(make_job: Any) -> None:
    sender = TelegramSender(bot_token="t", base_url="http://127.0.0.1:1")
    body = sender.build_body(survey_job(make_job, Channel.TELEGRAM, "telegram", "7012345678", CSAT))
    [row] = body["reply_markup"]["inline_keyboard"]
    assert [b["callback_data"] for b in row] == [f"omnihub-feedback:csat:{s}" for s in range(1, 6)]
    nps = sender.build_body(survey_job(make_job, Channel.TELEGRAM, "telegram", "7012345678", NPS))
    assert [len(row) for row in nps["reply_markup"]["inline_keyboard"]] == [6, 5]
    assert "reply_markup" not in sender.build_body(make_job(channel=Channel.TELEGRAM, provider="telegram",
                                                             to="7012345678"))


def test_whatsapp_list_for_csat_and_text_for_an_nps_scale_of_eleven(make_job: Any) -> None:
    body = whatsapp_body(survey_job(make_job, Channel.WHATSAPP, "meta", "+393331234567", CSAT))
    assert body["type"] == "interactive" and body["interactive"]["type"] == "list"
    rows = body["interactive"]["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows] == [f"omnihub-feedback:csat:{s}" for s in range(1, 6)]
    assert all(len(r["title"]) <= 24 for r in rows)
    nps = whatsapp_body(survey_job(make_job, Channel.WHATSAPP, "meta", "+393331234567", NPS))
    assert nps["type"] == "text"  # a list holds 10 rows at most; the text states the scale


def test_messenger_quick_replies(make_job: Any) -> None:
    body = messenger_body(survey_job(make_job, Channel.MESSENGER, "meta", "24680", NPS))
    replies = body["message"]["quick_replies"]
    assert len(replies) == 11 and replies[0] == {"content_type": "text", "title": "0",
                                                 "payload": "omnihub-feedback:nps:0"}
