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
