"""The Reports view ships with the hub: served by the console's file server, linked from the page, loading
nothing from elsewhere (no CDN, no chart library) and writing text only as text (route and group names
are data: never parsed as HTML)."""

from __future__ import annotations

import re

from chalicelib.console import console_asset


def test_the_reports_view_is_served_and_linked_from_the_page() -> None:
    script, style = console_asset("reports.js"), console_asset("reports.css")
    assert script.status_code == 200 and script.headers["Content-Type"].startswith("text/javascript")
    assert style.status_code == 200 and style.headers["Content-Type"].startswith("text/css")
    assert '<script src="console/reports.js"></script>' in str(console_asset("index.html").body)
    assert 'registerView({ id: "reports"' in str(script.body) and 'scope: "support"' in str(script.body)


def test_it_loads_nothing_from_elsewhere_and_never_parses_data_as_html() -> None:
    script, style = str(console_asset("reports.js").body), str(console_asset("reports.css").body)
    assert re.findall(r"[a-z]+://[^\s\"']+", script) == ["http://www.w3.org/2000/svg"]  # a namespace, not a load
    assert "://" not in style and "@import" not in style and "url(" not in style
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in script


def _luminance(colour: str) -> float:
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_the_chart_colours_meet_wcag_contrast_on_the_panels() -> None:
    """Series fills and the target line: 3:1 against the panel they sit on (1.4.11, graphics); the text
    colours the charts use: 4.5:1 (1.4.3)."""
    shell, style = str(console_asset("console.css").body), str(console_asset("reports.css").body)
    variables = dict(re.findall(r"--([a-z]+):\s*(#[0-9a-fA-F]{6})", shell))
    series = re.findall(r"\.rp-s\d \{ fill: (#[0-9a-fA-F]{6}); background: \1; \}", style)
    assert len(series) == 3  # one per series the view draws (VOLUMES in reports.js)
    for background in (variables["panel"], variables["bg"]):
        for colour in (*series, variables["danger"], variables["accent"]):
            assert contrast(colour, background) >= 3, (colour, background)
        for text in (variables["ink"], variables["muted"]):
            assert contrast(text, background) >= 4.5, (text, background)
