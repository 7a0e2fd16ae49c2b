"""Powertools Logger (JSON) and Metrics (EMF). No Tracer: it costs hundreds of ms at import.

Logs carry correlation ids (``event_ref``: the inbox key hashed, see core/ids.py; conversation id)
and never a phone number, an email address or message text.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import MetricUnit, single_metric

SERVICE = "omnihub"
NAMESPACE = "Omnihub"

logger = Logger(service=SERVICE)


def count(name: str, *, channel: str | None = None, value: float = 1) -> None:
    """One EMF metric, flushed right away with its own dimensions (channel when given)."""
    if _metrics_disabled():
        return
    with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE) as metric:
        metric.add_dimension(name="service", value=SERVICE)
        if channel:
            metric.add_dimension(name="channel", value=channel)


def _metrics_disabled() -> bool:
    # Powertools' single_metric ignores POWERTOOLS_METRICS_DISABLED; honour it here (make run sets it).
    return os.environ.get("POWERTOOLS_METRICS_DISABLED", "").lower() in ("1", "true")
