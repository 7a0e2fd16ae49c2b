"""``feedback`` on a conversation's REST representation: the survey and its answer, or null."""

from __future__ import annotations

import json
from typing import Any

from chalice import Response

from chalicelib.core.ports import Repositories


def with_feedback(repos: Repositories, data: dict[str, Any], *, survey: str | None = None) -> dict[str, Any]:
    """``data`` (a conversation's ``to_api``) with ``feedback``: ``{"kind", "score", "comment", "asked_at",
    "answered_at"}`` (null fields until answered), null when no survey was asked; a resolve adds
    ``survey``, what it did about the survey (``asked``, ``scheduled``, ``opted_out``, ``rate_limited``, ...)."""
    record = repos.feedback.get(str(data["id"])) if repos.feedback is not None else None
    data["feedback"] = record.to_api() if record is not None else None
    if survey is not None:
        data["survey"] = survey
    return data


def as_csv(response: Response) -> Response:
    """``/reports/kpis.csv``: the JSON report's answer as CSV (an error stays the JSON error it is)."""
    from chalicelib.reports.kpis import kpi_csv

    if response.status_code != 200:
        return response
    return Response(body=kpi_csv(json.loads(response.body)), status_code=200,
                    headers={"Content-Type": "text/csv; charset=utf-8",
                             "Content-Disposition": 'attachment; filename="kpis.csv"'})
