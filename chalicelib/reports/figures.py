"""What each event adds to the aggregates, and the report's figures read back from them. Pure.

Counter names (one flat integer attribute each on a day × dimension item):

- ``opened``, ``resolved``, ``reopened``: conversations; ``inbound``, ``outbound``: messages;
- ``sla_met``, ``sla_breached``: first responses within / after the first-response target;
- ``escalations``: ladder levels and repeat-contact escalations published;
- ``csat_responses``, ``csat_sum``, ``csat_1`` … ``csat_5``; ``nps_responses``, ``nps_0`` … ``nps_10``;
- sketches ``frt_b{bucket}`` (first response, minutes), ``res_b{bucket}`` (resolution, minutes) and
  ``ack_b{bucket}`` (acknowledgment, seconds): see :mod:`chalicelib.reports.sketch`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from chalicelib.reports.sketch import bucket_of, merge, quantile

FIRST_RESPONSE = "frt"
RESOLUTION = "res"
ACKNOWLEDGMENT = "ack"
CSAT_SCORES = range(1, 6)
NPS_SCORES = range(0, 11)


def _sketch_counter(metric: str, value: float) -> str:
    return f"{metric}_b{bucket_of(value)}"


def inbound_message(*, opened: bool) -> dict[str, int]:
    return {"inbound": 1, **({"opened": 1} if opened else {})}


def outbound_message() -> dict[str, int]:
    return {"outbound": 1}


def acknowledgment(seconds: float) -> dict[str, int]:
    return {"outbound": 1, _sketch_counter(ACKNOWLEDGMENT, seconds): 1}


def first_response(minutes: float, within_target: bool | None) -> dict[str, int]:
    counts = {_sketch_counter(FIRST_RESPONSE, minutes): 1}
    if within_target is not None:
        counts["sla_met" if within_target else "sla_breached"] = 1
    return counts


def resolution(minutes: float) -> dict[str, int]:
    return {"resolved": 1, _sketch_counter(RESOLUTION, minutes): 1}


def reopened() -> dict[str, int]:
    return {"reopened": 1}


def escalation() -> dict[str, int]:
    return {"escalations": 1}


def survey_answer(kind: str, score: int) -> dict[str, int]:
    if kind == "csat":
        return {"csat_responses": 1, "csat_sum": score, f"csat_{score}": 1}
    return {"nps_responses": 1, f"nps_{score}": 1}


def add_counts(parts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for part in parts:
        for name, value in part.items():
            total[name] = total.get(name, 0) + int(value)
    return total


def _sketch(counts: Mapping[str, int], metric: str) -> dict[str, int]:
    prefix = f"{metric}_b"
    return merge([{name[len(prefix):]: value for name, value in counts.items() if name.startswith(prefix)}])


def _percentiles(counts: Mapping[str, int], metric: str, digits: int) -> dict[str, float | None]:
    sketch = _sketch(counts, metric)
    median, p90 = quantile(sketch, 0.5), quantile(sketch, 0.9)
    return {"median": None if median is None else round(median, digits),
            "p90": None if p90 is None else round(p90, digits)}


def figures(counts: Mapping[str, int]) -> dict[str, Any]:
    """The report's figures (the issue's shape) from merged counters."""
    count = lambda name: int(counts.get(name, 0))  # noqa: E731 - a local shorthand
    met, breached = count("sla_met"), count("sla_breached")
    csat_responses, nps_responses = count("csat_responses"), count("nps_responses")
    promoters = sum(count(f"nps_{s}") for s in (9, 10))
    passives = sum(count(f"nps_{s}") for s in (7, 8))
    detractors = sum(count(f"nps_{s}") for s in range(0, 7))
    return {
        "conversations": {"opened": count("opened"), "resolved": count("resolved"), "reopened": count("reopened")},
        "messages": {"inbound": count("inbound"), "outbound": count("outbound")},
        "first_response_minutes": _percentiles(counts, FIRST_RESPONSE, 2),
        "resolution_minutes": _percentiles(counts, RESOLUTION, 2),
        "acknowledgment_seconds": _percentiles(counts, ACKNOWLEDGMENT, 3),
        "sla": {"met": met, "breached": breached,
                "attainment": round(met / (met + breached), 4) if met + breached else None},
        "escalations": count("escalations"),
        "csat": {
            "responses": csat_responses,
            "average": round(count("csat_sum") / csat_responses, 3) if csat_responses else None,
            "distribution": {str(score): count(f"csat_{score}") for score in CSAT_SCORES},
        },
        "nps": {
            "responses": nps_responses,
            "score": round(100 * (promoters - detractors) / nps_responses, 1) if nps_responses else None,
            "promoters": promoters, "passives": passives, "detractors": detractors,
        },
    }
