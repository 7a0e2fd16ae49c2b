"""Feedback and KPIs through the hub on moto (the DynamoDB repositories, SQS, S3): a web chat case resolved
through the REST API is surveyed once, answered "4 molto bene" through the signed webhook and the
worker, shown by GET /conversations/{id} and /reports/kpis(.csv); the scheduled handler, at Monday
08:00 business time, writes the week's CSV and HTML to the payload bucket and publishes
omnihub.report.v1 on reports.fifo once."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import jsonschema

from chalicelib.core.timestamps import format_timestamp, parse_timestamp, utc_now
from chalicelib.reports.recorder import business_day, business_zone
from tests.conftest import Hub, load_schema
from tests.helpers import api_event, post_api

SUPPORT = {"x-api-key": "support-key", "Content-Type": "application/json"}


def scheduled(hub: Hub, moment: str) -> Any:
    event = {"version": "0", "id": "test", "detail-type": "Scheduled Event", "source": "aws.events",
             "account": "123456789012", "time": moment, "region": "us-east-1",
             "resources": ["arn:aws:events:us-east-1:123456789012:rule/sweep_sla"], "detail": {}}
    return hub.app_module.sweep_sla(event, None)


def get(hub: Hub, path: str) -> Any:
    response = hub.client.http.get(path, headers=SUPPORT)
    assert response.status_code == 200, response.body
    return json.loads(response.body) if response.headers["Content-Type"].startswith("application/json") \
        else response.body.decode()


def test_a_case_is_surveyed_answered_and_reported(hub: Hub) -> None:
    first = api_event(sender="fiona", text="Il mio ordine?", **{"from": {"id": "fiona", "language": "it"}})
    assert post_api(hub.client, first).status_code == 200
    hub.pump.drain()
    [conversation_id] = [c["id"] for c in get(hub, "/conversations?status=open")["conversations"]]
    reply = hub.client.http.post(f"/conversations/{conversation_id}/messages", body=json.dumps({"text": "Ecco"}),
                                 headers=SUPPORT)
    assert reply.status_code == 202
    for _ in range(2):  # a retried resolve asks once
        resolved = hub.client.http.post(f"/conversations/{conversation_id}/resolve", headers=SUPPORT)
        assert resolved.status_code == 200
    assert json.loads(resolved.body)["survey"] == "already_asked"
    hub.pump.drain()
    surveys = [m for m in get(hub, f"/conversations/{conversation_id}")["messages"] if m["direction"] == "outbound"
               and "Quanto sei soddisfatto" in (m["text"] or "")]
    assert len(surveys) == 1  # web chat: the widget reads it from the conversation

    answer = api_event(sender="fiona", text="4 molto bene")
    for _ in range(2):  # the same event delivered twice
        assert post_api(hub.client, answer).status_code == 200
    hub.pump.drain()
    detail = get(hub, f"/conversations/{conversation_id}")
    assert detail["status"] == "resolved"
    assert (detail["feedback"]["kind"], detail["feedback"]["score"], detail["feedback"]["comment"]) == (
        "csat", 4, "molto bene")
    assert get(hub, "/conversations?status=open")["conversations"] == []  # the answer opened nothing

    day = business_day(utc_now())
    report = get(hub, f"/reports/kpis?from={day}&to={day}&group_by=route")
    assert report["conversations"] == {"opened": 1, "resolved": 1, "reopened": 0}
    assert report["messages"] == {"inbound": 1, "outbound": 4}  # acknowledgment, reply, survey, thanks
    assert report["csat"] == {"responses": 1, "average": 4.0, "distribution": {"1": 0, "2": 0, "3": 0, "4": 1,
                                                                                "5": 0}}
    assert report["first_response_minutes"]["median"] is not None and set(report["groups"]) == {"default"}
    csv_text = get(hub, f"/reports/kpis.csv?from={day}&to={day}")
    assert csv_text.splitlines()[1].startswith(f"total,{day},{day},1,1,0,1,4,")
    bad = hub.client.http.get("/reports/kpis?from=2026-02-30&to=2026-03-01", headers=SUPPORT)
    assert bad.status_code == 400 and json.loads(bad.body)["error"] == "bad_request"
    assert hub.client.http.get(f"/reports/kpis?from={day}&to={day}").status_code == 401


def test_the_weekly_report_goes_once_at_its_hour(hub: Hub) -> None:
    zone = business_zone()
    now = parse_timestamp(utc_now()).astimezone(zone)
    monday = (now - timedelta(days=now.weekday() - 7)).replace(hour=8, minute=0, second=0, microsecond=0)
    before, at = format_timestamp(monday - timedelta(minutes=1)), format_timestamp(monday)
    scheduled(hub, before)
    assert hub.receive_all("reports") == []
    scheduled(hub, at)
    scheduled(hub, format_timestamp(monday + timedelta(minutes=1)))
    [report] = hub.receive_all("reports")
    jsonschema.validate(report, load_schema("omnihub.report.v1"))
    week = (monday - timedelta(days=7)).date().isoformat()
    assert report["report_id"] == f"kpis-week-{week}" and report["period"]["from"] == week
    s3 = hub.session.client("s3")
    bucket, _, key = report["html"].removeprefix("s3://").partition("/")
    page = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("ascii")
    assert page.startswith("<!doctype html>") and "<svg" in page
    csv_key = report["csv"].removeprefix("s3://").partition("/")[2]
    assert s3.get_object(Bucket=bucket, Key=csv_key)["Body"].read().decode().startswith("group,from,to,")
