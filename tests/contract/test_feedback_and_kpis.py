"""The survey and KPI repositories' contract, on the twins and on DynamoDB (moto): one survey, one answer,
one comment, the per-customer limit, the due list, and KPI events counted once and read back by day."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.core.feedback_record import FeedbackRecord
from chalicelib.core.kpi_record import ALL, KpiDimension
from chalicelib.core.ports import Repositories


def survey(conversation_id: str = "cnv_1", *, asked_at: str = "2026-12-01T10:00:00.000Z",
           delayed: bool = False) -> FeedbackRecord:
    return FeedbackRecord(conversation_id=conversation_id, customer_id="cus_1", kind="csat", channel="telegram",
                          route="billing", asked_at=asked_at, language="it", delayed=delayed)


def test_a_survey_is_created_once_answered_once_and_commented_once(repos: Repositories) -> None:
    feedback = repos.feedback
    assert feedback is not None
    assert feedback.get("cnv_1") is None
    assert feedback.create(survey(), due=False) is True
    assert feedback.create(survey(asked_at="2026-12-02T10:00:00.000Z"), due=False) is False
    assert feedback.record_comment("cnv_1", comment="before any answer", message_id="msg_0") is False
    assert feedback.record_answer("cnv_1", score=4, comment=None, at="2026-12-01T10:05:00.000Z",
                                  message_id="msg_1") is True
    assert feedback.record_answer("cnv_1", score=1, comment="no", at="2026-12-01T10:06:00.000Z",
                                  message_id="msg_2") is False
    assert feedback.record_comment("cnv_1", comment="Gentilissimi", message_id="msg_3") is True
    assert feedback.record_comment("cnv_1", comment="again", message_id="msg_4") is False
    assert feedback.record_answer("cnv_missing", score=4, comment=None, at="2026-12-01T10:05:00.000Z",
                                  message_id="msg_1") is False
    stored = feedback.get("cnv_1")
    assert stored is not None
    assert stored.to_api() == {"kind": "csat", "score": 4, "comment": "Gentilissimi",
                               "asked_at": "2026-12-01T10:00:00.000Z", "answered_at": "2026-12-01T10:05:00.000Z"}
    assert (stored.answer_message_id, stored.comment_message_id, stored.route) == ("msg_1", "msg_3", "billing")


def test_an_answer_with_its_comment_in_one_message(repos: Repositories) -> None:
    assert repos.feedback is not None
    repos.feedback.create(survey(), due=False)
    assert repos.feedback.record_answer("cnv_1", score=5, comment="great", at="2026-12-01T10:05:00.000Z",
                                        message_id="msg_1")
    stored = repos.feedback.get("cnv_1")
    assert stored is not None and (stored.comment, stored.comment_message_id) == ("great", "msg_1")


def test_the_customer_slot_limits_surveys_per_period(repos: Repositories) -> None:
    feedback = repos.feedback
    assert feedback is not None
    assert feedback.claim_customer_survey("cus_1", "cnv_1", "2026-12-01T10:00:00.000Z", "2026-11-01T10:00:00.000Z")
    assert feedback.claim_customer_survey("cus_1", "cnv_1", "2026-12-01T10:00:00.000Z", "2026-11-01T10:00:00.000Z")
    assert not feedback.claim_customer_survey("cus_1", "cnv_2", "2026-12-05T10:00:00.000Z",
                                              "2026-11-05T10:00:00.000Z")
    assert feedback.customer_survey("cus_1") == "cnv_1"
    assert feedback.claim_customer_survey("cus_1", "cnv_3", "2027-01-05T10:00:00.000Z", "2026-12-06T10:00:00.000Z")
    assert feedback.claim_customer_survey("cus_1", "cnv_4", "2027-01-06T10:00:00.000Z", None)  # no limit
    assert feedback.customer_survey("cus_1") == "cnv_4"
    assert feedback.customer_survey("cus_2") is None


def test_delayed_surveys_are_listed_when_due_until_sent(repos: Repositories) -> None:
    feedback = repos.feedback
    assert feedback is not None
    feedback.create(survey("cnv_b", asked_at="2026-12-01T10:10:00.000Z", delayed=True), due=True)
    feedback.create(survey("cnv_a", asked_at="2026-12-01T10:05:00.000Z", delayed=True), due=True)
    feedback.create(survey("cnv_now"), due=False)
    assert feedback.due("2026-12-01T10:00:00.000Z", 10) == []
    assert feedback.due("2026-12-01T10:05:00.000Z", 10) == ["cnv_a"]
    assert feedback.due("2026-12-01T11:00:00.000Z", 10) == ["cnv_a", "cnv_b"]
    assert feedback.due("2026-12-01T11:00:00.000Z", 1) == ["cnv_a"]
    first = feedback.get("cnv_a")
    assert first is not None and not first.sent
    feedback.mark_sent(first)
    sent = feedback.get("cnv_a")
    assert sent is not None and sent.sent
    assert feedback.due("2026-12-01T11:00:00.000Z", 10) == ["cnv_b"]
    feedback.create(survey("cnv_c", asked_at="2026-12-01T10:20:00.000Z", delayed=True), due=True)
    later = feedback.get("cnv_b")
    assert later is not None
    feedback.mark_sent(later)
    feedback.mark_sent(first)  # a repeated mark never moves the cursor back
    assert feedback.due("2026-12-01T11:00:00.000Z", 10) == ["cnv_c"]


def test_kpi_events_count_once_per_day_and_dimension(repos: Repositories) -> None:
    kpis = repos.kpis
    assert kpis is not None
    dimensions = KpiDimension.of("telegram", "billing")
    assert kpis.record("inbound#1", "2026-12-01", dimensions, {"inbound": 1, "opened": 1}) is True
    assert kpis.record("inbound#1", "2026-12-01", dimensions, {"inbound": 1, "opened": 1}) is False
    assert kpis.record("inbound#2", "2026-12-01", KpiDimension.of("sms", None), {"inbound": 1, "frt_b-3": 2})
    assert kpis.record("inbound#3", "2026-12-03", dimensions, {"inbound": 1, "csat_sum": 5})
    assert kpis.record("nothing#4", "2026-12-03", dimensions, {}) is True
    assert kpis.record("outside#5", "2026-12-04", dimensions, {"inbound": 1})
    assert sorted(kpis.read(ALL, "2026-12-01", "2026-12-03")) == [
        ("2026-12-01", ALL, {"inbound": 2, "opened": 1, "frt_b-3": 2}),
        ("2026-12-03", ALL, {"inbound": 1, "csat_sum": 5}),
    ]
    assert sorted(kpis.read("channel", "2026-12-01", "2026-12-01")) == [
        ("2026-12-01", "sms", {"inbound": 1, "frt_b-3": 2}),
        ("2026-12-01", "telegram", {"inbound": 1, "opened": 1}),
    ]
    assert kpis.read("route", "2026-12-02", "2026-12-02") == []
    assert kpis.read("route", "2026-12-01", "2026-12-04")[-1] == ("2026-12-04", "billing", {"inbound": 1})


def test_a_kpi_item_written_with_copies_of_its_key_reads_as_its_counters(backend: Any) -> None:
    """Items counted before 2026-12-07 also carry the key's kind, day and value as attributes: not counters."""
    if backend.name != "dynamo":
        pytest.skip("the twins never wrote those attributes")
    from chalicelib.adapters.dynamo import keys
    from chalicelib.adapters.dynamo.table import to_item

    kpis = backend.repositories().kpis
    assert kpis.record("inbound#1", "2026-12-01", KpiDimension.of("sms", None), {"inbound": 1})
    kpis._table.call("update_item", Key=to_item(keys.kpi("channel", "2026-12-01", "sms")),
                     UpdateExpression="SET #day = :day, #dim = :dim, #val = :val",
                     ExpressionAttributeNames={"#day": "day", "#dim": "dimension", "#val": "value"},
                     ExpressionAttributeValues=to_item({":day": "2026-12-01", ":dim": "channel", ":val": "sms"}))
    assert kpis.read("channel", "2026-12-01", "2026-12-01") == [("2026-12-01", "sms", {"inbound": 1})]
