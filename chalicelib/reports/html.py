"""The weekly report as one self-contained HTML page: tables and SVG charts drawn here, no script, no
CDN, no external file (it opens from the bucket, from a mail attachment or offline). Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

_WIDTH, _HEIGHT, _PAD = 640, 220, 36
_COLOURS = ("#2563eb", "#16a34a", "#dc2626", "#ca8a04", "#7c3aed", "#0891b2")


def bar_chart(title: str, bars: Sequence[tuple[str, float]], *, unit: str = "") -> str:
    """A labelled vertical bar chart as inline SVG (values ≥ 0)."""
    top = max((value for _, value in bars), default=0) or 1
    step = (_WIDTH - 2 * _PAD) / max(len(bars), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{_WIDTH}" height="{_HEIGHT}" '
             f'viewBox="0 0 {_WIDTH} {_HEIGHT}"><title>{escape(title)}</title>',
             f'<line x1="{_PAD}" y1="{_HEIGHT - _PAD}" x2="{_WIDTH - _PAD}" y2="{_HEIGHT - _PAD}" stroke="#888"/>']
    for index, (label, value) in enumerate(bars):
        height = (_HEIGHT - 2 * _PAD) * value / top
        x = _PAD + index * step + step * 0.15
        y = _HEIGHT - _PAD - height
        colour = _COLOURS[index % len(_COLOURS)] if len(bars) <= len(_COLOURS) else _COLOURS[0]
        parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{height:.1f}" '
                     f'fill="{colour}"><title>{escape(label)}: {_number(value)}{escape(unit)}</title></rect>')
        parts.append(f'<text x="{x + step * 0.35:.1f}" y="{y - 4:.1f}" font-size="11" text-anchor="middle">'
                     f'{_number(value)}</text>')
        parts.append(f'<text x="{x + step * 0.35:.1f}" y="{_HEIGHT - _PAD + 14}" font-size="10" '
                     f'text-anchor="middle">{escape(label[-5:] if len(label) == 10 else label[:12])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _number(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _table(report: Mapping[str, Any]) -> str:
    rows = [
        ("Conversations opened / resolved / reopened", " / ".join(str(report["conversations"][k])
                                                                 for k in ("opened", "resolved", "reopened"))),
        ("Messages inbound / outbound", f'{report["messages"]["inbound"]} / {report["messages"]["outbound"]}'),
        ("First response, minutes (median / p90)", _pair(report["first_response_minutes"])),
        ("Resolution, minutes (median / p90)", _pair(report["resolution_minutes"])),
        ("Acknowledgment, seconds (median / p90)", _pair(report["acknowledgment_seconds"])),
        ("SLA met / breached (attainment)", f'{report["sla"]["met"]} / {report["sla"]["breached"]} '
                                            f'({_dash(report["sla"]["attainment"])})'),
        ("Escalations", str(report["escalations"])),
        ("CSAT responses (average)", f'{report["csat"]["responses"]} ({_dash(report["csat"]["average"])})'),
        ("NPS responses (score)", f'{report["nps"]["responses"]} ({_dash(report["nps"]["score"])})'),
    ]
    body = "".join(f"<tr><th>{escape(name)}</th><td>{escape(value)}</td></tr>" for name, value in rows)
    return f"<table>{body}</table>"


def _pair(figure: Mapping[str, Any]) -> str:
    return f'{_dash(figure["median"])} / {_dash(figure["p90"])}'


def _dash(value: Any) -> str:
    return "–" if value is None else str(value)


def report_page(by_day: Mapping[str, Any], by_channel: Mapping[str, Any]) -> str:
    """The page of a period: totals, then volumes per day and per channel, response times, CSAT. Encode it
    with :func:`page_bytes` (ASCII with character references: right whatever charset a viewer assumes)."""
    days = by_day["groups"]
    charts = [
        bar_chart("Inbound messages per day", [(day, g["messages"]["inbound"]) for day, g in days.items()]),
        bar_chart("Inbound messages per channel",
                  [(name, g["messages"]["inbound"]) for name, g in by_channel["groups"].items()]),
        bar_chart("Median first response per day (minutes)",
                  [(day, g["first_response_minutes"]["median"] or 0) for day, g in days.items()], unit=" min"),
        bar_chart("CSAT distribution", [(f"{score}★", count)
                                        for score, count in by_day["csat"]["distribution"].items()]),
    ]
    title = f'Omnihub KPIs {by_day["from"]} – {by_day["to"]}'
    figures = "".join(f"<figure>{chart}</figure>" for chart in charts)
    return (
        "<!doctype html><html lang=\"en\"><head>"
        f"<title>{escape(title)}</title><style>body{{font-family:system-ui,sans-serif;margin:2em}}"
        "table{border-collapse:collapse}th,td{border:1px solid #ddd;padding:4px 8px;text-align:left}"
        "figure{margin:1.5em 0}</style></head><body>"
        f"<h1>{escape(title)}</h1><p>Business days in {escape(str(by_day.get('time_zone') or ''))}.</p>"
        f"{_table(by_day)}{figures}</body></html>"
    )


def page_bytes(page: str) -> bytes:
    return page.encode("ascii", "xmlcharrefreplace")
